"""Top-k / per-class accuracy on hand-computed cases."""
import math

import numpy as np
import pytest
import torch

from albef_mm.evaluation.metrics import (ClassificationAccuracy,
                                         classification_accuracy)
from albef_mm.structures import DataSample

# 5 samples, 3 classes. Ranks of the true label: 0, 1, 2, 0, 1.
SCORES = [[0.7, 0.2, 0.1],   # label 0: top-1
          [0.5, 0.3, 0.2],   # label 1: 2nd
          [0.1, 0.6, 0.3],   # label 0: 3rd
          [0.2, 0.2, 0.6],   # label 2: top-1
          [0.4, 0.1, 0.5]]   # label 0: 2nd
LABELS = [0, 1, 0, 2, 0]


def test_hand_computed_topk_and_per_class():
    acc = classification_accuracy(SCORES, LABELS, topk=(1, 2, 5))
    assert acc['top1'] == pytest.approx(40.0)    # samples 0, 3
    assert acc['top2'] == pytest.approx(80.0)    # + samples 1, 4
    assert acc['top5'] == pytest.approx(100.0)   # k clipped to 3 classes
    # class 0: 1 of 3 top-1; class 1: 0 of 1; class 2: 1 of 1
    assert acc['per_class_acc'] == pytest.approx([100 / 3, 0.0, 100.0])
    assert acc['mean_class_acc'] == pytest.approx((100 / 3 + 100) / 3)
    assert acc['num_samples'] == 5


def test_ties_go_to_the_lower_class_index_and_absent_classes_are_nan():
    acc = classification_accuracy(torch.zeros(2, 4), torch.tensor([0, 1]),
                                  topk=(1, 2))
    assert acc['top1'] == 50.0 and acc['top2'] == 100.0
    assert math.isnan(acc['per_class_acc'][2])
    assert acc['mean_class_acc'] == 50.0  # over classes 0 and 1 only


@pytest.mark.parametrize('scores,labels,kw,match', [
    ([[0.1, 0.2]], [2], {}, 'label 2 of sample 0'),
    ([[0.1, 0.2]], [0, 1], {}, 'one per score row'),
    ([[0.1, float('nan')]], [0], {}, 'NaN'),
    ([[0.1, 0.2]], [0], dict(num_classes=3), '3 classes'),
    ([[0.1, 0.2]], [0.5], {}, 'integers'),
    ([[0.1, 0.2]], [0], dict(topk=(0, )), '>= 1'),
])
def test_bad_input(scores, labels, kw, match):
    with pytest.raises(ValueError, match=match):
        classification_accuracy(scores, labels, **kw)


def test_metric_reads_data_samples_and_names_classes():
    metric = ClassificationAccuracy(topk=(1, 2), per_class=True)
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    samples = []
    for s, y in zip(SCORES, LABELS):
        d = DataSample()
        d.pred_score = torch.tensor(s)
        d.gt_label = y
        samples.append(d)
    metric.process({}, samples[:3])
    metric.process({}, [d.to_dict() for d in samples[3:]])  # dict form too
    out = metric.evaluate(5)
    assert out['classification/top1'] == pytest.approx(40.0)
    assert out['classification/top2'] == pytest.approx(80.0)
    assert out['classification/per_class/c'] == pytest.approx(100.0)
    assert out['classification/mean_class_acc'] == pytest.approx(
        np.mean([100 / 3, 0, 100]))


def test_metric_errors():
    metric = ClassificationAccuracy()
    with pytest.raises(KeyError, match='gt_label'):
        metric.process({}, [DataSample(pred_score=torch.zeros(3))])
    metric.dataset_meta = dict(classes=('a', 'b'))
    metric.process({}, [DataSample(pred_score=torch.zeros(3), gt_label=0)])
    with pytest.raises(ValueError, match='classnames'):
        metric.evaluate(1)
