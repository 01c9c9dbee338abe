"""VQA answer-list coverage: questions whose ground-truth answers are all
missing from the answer list are counted and reported at evaluation start
with the split's accuracy upper bound, the file names and the fix."""
import json
import logging
import os.path as osp
import types

import pytest
from mmengine.config import Config

from albef_mm.datasets import generate_shapes
from albef_mm.evaluation.metrics.vqa_coverage import (VQAAnswerCoverageHook,
                                                      answer_list_coverage,
                                                      coverage_message)
from albef_mm.evaluation.metrics.vqa_eval import question_accuracy
from helpers import CONFIG_ROOT
from helpers.recording import RecordingLogger, validate_with_logs

CONFIG = osp.join(CONFIG_ROOT, 'albef', 'vqa_shapes_tiny.py')


def test_coverage_counts_and_upper_bound():
    gts = [['red'] * 10,
           ['red'] * 2 + ['blue'] * 8,    # only a minority answer listed
           ['green'] * 10,                # not answerable
           ['yes.'] * 5 + ['yes'] * 5,    # punctuation stripped (evaluator)
           []]                            # no answers: not counted
    stats = answer_list_coverage(['red', 'yes'], gts)
    assert stats['num_questions'] == 4
    assert stats['num_uncovered'] == 1
    assert stats['examples'] == ['green']
    # 1 + 0.6 (2 of 10 humans) + 0 + 1, over 4 questions
    assert question_accuracy(gts[1], 'red') == pytest.approx(0.6)
    assert stats['upper_bound'] == pytest.approx(100 * 2.6 / 4)
    full = answer_list_coverage(['red', 'blue', 'green', 'yes'], gts)
    assert full['num_uncovered'] == 0 and full['upper_bound'] == 100.0


def test_warning_at_evaluation_start(tmp_path):
    shapes = str(tmp_path / 'shapes') + '/'
    generate_shapes(shapes, num_train=8, num_val=4, num_test=4)
    answers = tmp_path / 'tiny_answer_list.json'
    answers.write_text(json.dumps(['2', 'square', 'small', 'no']))
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({
        'work_dir': str(tmp_path / 'work'),
        'model.init_from_pretrain': None,
        'model.answer_list': str(answers), 'model.k_test': 4,
        'model.data_preprocessor.tokenizer.name_or_path':
        shapes + 'vocab.txt',
        'val_dataloader.num_workers': 0,
        'val_dataloader.dataset.data_root': shapes,
        'val_evaluator.baseline_ann_file': shapes + 'vqa_train.json',
    })
    # a second evaluation does not repeat the report
    runner, metrics, records = validate_with_logs(cfg, evaluations=2)
    val_file = osp.join(shapes, 'vqa_val.json')
    gts = [r['answer'] for r in json.load(open(val_file))]
    listed = ['2', 'square', 'small', 'no']
    # brute force: the best official accuracy any listed answer reaches
    best = [max(question_accuracy(g, a) for a in listed) for g in gts]
    uncovered = sum(b == 0 for b in best)
    bound = 100 * sum(best) / len(gts)
    assert 0 < uncovered < len(gts) and bound < 100
    warnings = [r.getMessage() for r in records
                if r.levelno == logging.WARNING and 'answer list' in
                r.getMessage()]
    assert len(warnings) == 1, warnings
    msg = warnings[0]
    assert f'VQA answer list {answers} lacks every ground-truth answer of ' \
        f'{uncovered} of {len(gts)} questions ' \
        f'({100 * uncovered / len(gts):.2f}%) of {val_file}' in msg
    assert f'at most {bound:.2f}%' in msg
    assert 'Fix: use the answer list that belongs to these annotations' in msg
    hook = next(h for h in runner.hooks
                if type(h).__name__ == 'VQAAnswerCoverageHook')
    assert len(hook.reports) == 1
    assert hook.reports[0]['upper_bound'] == pytest.approx(bound)
    # the bound holds for what the model reached
    assert metrics['vqa/overall'] <= bound + 1e-6


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


class _Split:
    def __init__(self, name, gts):
        self.ann_file, self.gts = name, gts

    def __len__(self):
        return len(self.gts)

    def get_data_info(self, i):
        return dict(gt_answer=self.gts[i])


def _coverage_runner(val, test):
    model = types.SimpleNamespace(answer_list=['red', 'blue'],
                                  answer_file='answers.json')
    return types.SimpleNamespace(
        model=model, logger=RecordingLogger(),
        val_dataloader=types.SimpleNamespace(dataset=val),
        test_dataloader=types.SimpleNamespace(dataset=test))


def test_coverage_hook_checks_each_split_once():
    val = _Split('val.json', [['red'] * 10, ['green'] * 10])
    test = _Split('test.json', [['blue'] * 10, None, ['pink'] * 10,
                                ['pink'] * 10])
    runner = _coverage_runner(val, test)
    hook = VQAAnswerCoverageHook()
    hook.before_val(runner)
    hook.before_val(runner)  # a second validation: no second report
    assert [(r['ann_files'], r['num_questions'], r['num_uncovered'])
            for r in hook.reports] == [(['val.json'], 2, 1)]
    warnings = [m for lvl, m in runner.logger.records
                if lvl == logging.WARNING]
    assert len(warnings) == 1 and 'of 1 of 2 questions (50.00%)' in \
        warnings[0]
    # the model's public answer_file names the list in report and warning
    assert hook.reports[0]['answer_file'] == 'answers.json'
    assert warnings[0].startswith('VQA answer list answers.json lacks')
    runner.logger.records.clear()
    hook.before_test(runner)  # same answer list, another split
    assert [(r['ann_files'], r['num_questions'], r['num_uncovered'])
            for r in hook.reports][1:] == [(['test.json'], 3, 2)]
    msgs = [m for _, m in runner.logger.records]
    assert len(msgs) == 2
    assert 'of 2 of 3 questions (66.67%) of test.json' in msgs[0]
    assert "Most frequent missing answers: ['pink']" in msgs[0]
    assert msgs[1] == ('1 questions without ground-truth answers were not '
                       'counted')
