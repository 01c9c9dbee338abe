"""Metric behaviour a package-wide mutation pass found untested; every
expectation is worked out by hand from the metric's definition."""
import pytest
import torch

from albef_mm.evaluation.metrics import Accuracy
from albef_mm.evaluation.metrics.grounding import (GroundingAccuracy,
                                                   compute_iou)
from albef_mm.evaluation.metrics.vqa import VQAAccuracy
from albef_mm.evaluation.metrics.vqa_eval import (process_punctuation,
                                                  question_accuracy)
from albef_mm.structures import DataSample


def test_majority_baseline_is_the_most_frequent_label():
    metric = Accuracy()
    metric.process(None, [DataSample(pred_label=0, gt_label=g)
                          for g in (1, 1, 1, 0, 2)])
    out = metric.evaluate(5)
    assert out['accuracy/majority'] == pytest.approx(60.0)
    assert out['accuracy/acc'] == pytest.approx(20.0)


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


def test_iou_of_exactly_the_threshold_is_a_hit():
    gt, box = [0, 0, 10, 10], [0, 0, 10, 5]
    assert compute_iou(gt, box) == 0.5  # 50 / (100 + 50 - 50)
    metric = GroundingAccuracy()
    metric.process(None, [dict(pred_heatmap=torch.ones(4, 4),
                               proposals=[box], gt_bbox=gt, ref_split='val',
                               gt_image_size=(20, 20))])
    assert metric.compute_metrics(metric.results)['val_d'] == 1.0


def test_prediction_is_stripped_before_the_punctuation_rule():
    """'-' in "-x-y" has no space next to it once the leading newline is
    stripped, so it becomes a space ("x y"); read unstripped, " -" would
    delete every '-' ("xy")."""
    assert question_accuracy(['x y'] * 10, '\n-x-y') == 1.0
