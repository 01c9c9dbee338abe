"""Tests written for the survivors of the fifth mutation batch (pkg5) on
the VQA answer-list coverage; expectations are hand-computed with the
official VQA accuracy (min(1, matches among the other 9 humans / 3),
averaged over the 10 leave-one-out subsets)."""
import pytest

from albef_mm.evaluation.metrics.vqa_coverage import (answer_list_coverage,
                                                      coverage_message)


def test_upper_bound_takes_the_best_list_answer_of_each_question():
    # per question 4 humans say w0, 3 w1, 2 w2, 1 w3, and every form is in
    # the list: the best list answer is w0 (accuracy 1) in whatever order
    # the loop visits the forms (six questions with other words, so that a
    # loop keeping the last form's accuracy is caught whatever the hash
    # order of each set)
    words = [w.split() for w in (
        'cat dog cow pig', 'red blue pink grey', 'car bus van tram',
        'tea milk soda beer', 'oak elm ash fir', 'left right up down')]
    gts = [[w[0]] * 4 + [w[1]] * 3 + [w[2]] * 2 + [w[3]] for w in words]
    listed = [x for w in words for x in reversed(w)]
    stats = answer_list_coverage(listed, gts)
    assert stats['num_uncovered'] == 0
    assert stats['upper_bound'] == pytest.approx(100.0)
    # without w0: w1 is the best, 3 humans -> 0.3 * 2/3 + 0.7 * 1 = 0.9
    stats = answer_list_coverage([x for w in words for x in w[1:]], gts)
    assert stats['upper_bound'] == pytest.approx(90.0)


def test_uncovered_examples_are_the_majority_answers_by_frequency():
    gts = [['x'] + ['green'] * 9, ['y'] + ['green'] * 9, ['pink'] * 10,
           ['red'] * 10]
    stats = answer_list_coverage(['red'], gts)
    assert stats['num_uncovered'] == 3
    # 'green' is the majority of two questions, 'pink' of one
    assert stats['examples'] == ['green', 'pink']
    msg = coverage_message(stats, 'list.json', ['a.json', 'b.json'])
    assert msg.startswith('VQA answer list list.json lacks every '
                          'ground-truth answer of 3 of 4 questions (75.00%) '
                          'of a.json, b.json: ')
    assert 'at most 25.00%' in msg
