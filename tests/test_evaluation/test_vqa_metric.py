"""Official VQA accuracy (hand-worked examples, the evaluator's quirks),
the baseline and the server result file."""
import json

import pytest

from albef_mm.evaluation.metrics.vqa import (VQAAccuracy, VQAResultWriter,
                                             derive_answer_type)
from albef_mm.evaluation.metrics.vqa_eval import (aggregate,
                                                  normalize_prediction,
                                                  process_digit_article,
                                                  process_punctuation,
                                                  question_accuracy)


def test_leave_one_out_accuracy_hand_worked():
    # 3 of 10 humans said "2": 7 subsets of 9 keep all three (acc 1), the
    # 3 subsets without one of them keep two (acc 2/3): (7 + 3*2/3)/10 = 0.9
    gts = ['2'] * 3 + ['3'] * 7
    assert question_accuracy(gts, '2') == pytest.approx(0.9)
    # 1 human: 9 subsets with it (1/3), one without (0): 0.3
    assert question_accuracy(['2'] + ['3'] * 9, '2') == pytest.approx(0.3)
    # 4 or more humans: always 1
    assert question_accuracy(['2'] * 4 + ['3'] * 6, '2') == 1
    # 2 humans: 8 subsets with both (2/3) + 2 with one (1/3) = 0.6
    assert question_accuracy(['2'] * 2 + ['3'] * 8, '2') == pytest.approx(0.6)
    assert question_accuracy(['3'] * 10, '2') == 0


def test_prediction_processing():
    assert normalize_prediction('  Two\n') == '2'
    assert normalize_prediction('The Cat') == 'cat'
    assert normalize_prediction('dont') == "don't"
    assert normalize_prediction('none') == '0'
    assert normalize_prediction('t-shirt') == 't shirt'
    assert normalize_prediction('yes!') == 'yes'
    assert process_digit_article('a an the') == ''


def test_quirk_ground_truth_only_punctuation_processed_when_not_unanimous():
    # unanimous GT is used raw: the prediction "two" becomes "2" and misses
    assert question_accuracy(['two'] * 10, 'two') == 0
    assert question_accuracy(['the cat'] * 10, 'the cat') == 0
    # ... but a raw GT equal to the processed prediction matches
    assert question_accuracy(['2'] * 10, 'two') == 1
    # not unanimous: GT punctuation processed ("t-shirt" -> "t shirt"),
    # still no article / number processing of the GT
    gts = ['t-shirt'] * 9 + ['shirt']
    assert question_accuracy(gts, 't-shirt') == 1
    assert question_accuracy(['t-shirt'] * 10, 't-shirt') == 0


def test_quirk_punctuation_rule_and_period_strip():
    # a mark next to a space is deleted, otherwise replaced by a space
    assert process_punctuation('a - b') == 'a  b'
    assert process_punctuation('a-b') == 'a b'
    # a digit,digit anywhere deletes every mark, even elsewhere
    assert process_punctuation('1,000 a-b') == '1000 ab'
    # the look-behind typo: a period after a digit is removed too ...
    assert process_punctuation('2.') == '2'
    assert process_punctuation('3.5') == '3.5'
    # ... and at most 32 periods are removed (re.UNICODE used as count)
    assert process_punctuation('.' * 40) == '.' * 8


def test_aggregate_rounding_and_types():
    acc = aggregate([(1.0, 'how many', 'number'), (0.9, 'how many', 'number'),
                     (1 / 3, 'what color', 'other')])
    assert acc['overall'] == round(100 * (1.9 + 1 / 3) / 3, 2) == 74.44
    assert acc['perQuestionType'] == {'how many': 95.0, 'what color': 33.33}
    assert acc['perAnswerType'] == {'number': 95.0, 'other': 33.33}


def _samples():
    return [
        dict(question_id=1, pred_answer='two', gt_answer=['2'] * 10,
             text='how many shapes are there'),
        dict(question_id=2, pred_answer='red', gt_answer=['red'] * 3 +
             ['blue'] * 7, text='what color is the circle'),
        dict(question_id=3, pred_answer='yes', gt_answer=['no'] * 10,
             text='is there a red square'),
        # padding duplicate of question 1 (distributed sampler)
        dict(question_id=1, pred_answer='two', gt_answer=['2'] * 10,
             text='how many shapes are there'),
    ]


def test_vqa_accuracy_metric_with_baseline(tmp_path):
    train = [dict(question='How many shapes are there?', answer=['2'] * 10,
                  dataset='vqa', image='x.jpg'),
             dict(question='What color is the square?',
                  answer=['blue'] * 6 + ['red'] * 4, dataset='vqa',
                  image='x.jpg'),
             dict(question='Is there a red circle?', answer='no',
                  dataset='vg', image='y.jpg')]
    path = tmp_path / 'train.json'
    path.write_text(json.dumps(train))
    metric = VQAAccuracy(question_type_words=2, baseline_ann_file=str(path))
    metric.process(None, _samples())
    out = metric.compute_metrics(metric.results)
    assert out['num_questions'] == 3
    assert out['overall'] == round(100 * (1 + 0.9 + 0) / 3, 2)
    assert out['question_type/how many'] == 100.0
    assert out['question_type/what color'] == 90.0
    assert out['answer_type/yes/no'] == 0.0
    assert out['answer_type/number'] == 100.0
    # baseline: "2" for how many, "blue" for what color, "no" for is there
    assert out['baseline/question_type/how many'] == 100.0
    assert out['baseline/question_type/what color'] == 100.0
    assert out['baseline/question_type/is there'] == 100.0
    assert out['baseline/overall'] == 100.0


def test_official_type_fields_win_and_errors():
    metric = VQAAccuracy()
    metric.process(None, [dict(question_id=5, pred_answer='2',
                               gt_answer=['2'] * 10, text='how many',
                               question_type='how many',
                               answer_type='other')])
    out = metric.compute_metrics(metric.results)
    assert out['answer_type/other'] == 100.0
    assert derive_answer_type(['yes'] * 6 + ['no'] * 4) == 'yes/no'
    with pytest.raises(KeyError, match='VQAResultWriter'):
        metric.process(None, [dict(question_id=1, pred_answer='x')])


def test_result_writer_dedups_orders_and_checks_count(tmp_path):
    ann = tmp_path / 'test.json'
    ann.write_text(json.dumps([dict(question_id=q, question='q',
                                    image='a.jpg', dataset='vqa')
                               for q in (3, 1, 2)]))
    out = tmp_path / 'sub' / 'result.json'
    writer = VQAResultWriter(ann_file=str(ann), out_file=str(out))
    writer.process(None, _samples())
    res = writer.compute_metrics(writer.results)
    assert res == dict(num_questions=3, duplicates_removed=1)
    assert json.loads(out.read_text()) == [
        dict(question_id=3, answer='yes'), dict(question_id=1, answer='two'),
        dict(question_id=2, answer='red')]
    writer.results = [(1, 'two'), (7, 'x')]
    with pytest.raises(ValueError, match=r'2 question ids without an '
                       r'answer \(e.g. \[3, 2\]\), 1 ids not in'):
        writer.compute_metrics(writer.results)


def test_punctuation_rule_reads_the_unprocessed_answer():
    """';' has no space next to it in "x;-y", so it becomes a space; the
    rule for '-' still reads the original "x;-y" (no " -"), so '-' becomes
    a space too: "x  y" (two spaces), which a processed prediction "x y"
    never equals."""
    assert process_punctuation('x;-y') == 'x  y'
    gts = ['x;-y'] * 3 + ['z'] * 7
    assert question_accuracy(gts, 'x y') == 0.0
    assert question_accuracy(gts, 'z') == pytest.approx(1.0)


def test_derived_question_type_is_the_first_three_words():
    metric = VQAAccuracy()
    metric.process(None, [dict(question_id=1, pred_answer='red',
                               gt_answer=['red'] * 10,
                               text='what color is the big circle')])
    out = metric.compute_metrics(metric.results)
    assert out['question_type/what color is'] == 100.0
    assert out['answer_type/other'] == 100.0


def test_prediction_is_stripped_before_the_punctuation_rule():
    """'-' in "-x-y" has no space next to it once the leading newline is
    stripped, so it becomes a space ("x y"); read unstripped, " -" would
    delete every '-' ("xy")."""
    assert question_accuracy(['x y'] * 10, '\n-x-y') == 1.0
