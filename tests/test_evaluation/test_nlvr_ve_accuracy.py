"""The NLVR2 / SNLI-VE accuracy metric and its majority-class baseline."""
import pytest
import torch

from albef_mm.evaluation.metrics import Accuracy
from albef_mm.structures import DataSample


def test_accuracy_and_majority_baseline():
    metric = Accuracy()
    samples = [DataSample(pred_label=p, gt_label=g)
               for p, g in ((2, 2), (0, 1), (1, 1), (2, 2), (0, 2))]
    # pred_score alone is enough (argmax)
    samples.append(DataSample(pred_score=torch.tensor([0.1, 0.7, 0.2]),
                              gt_label=1))
    metric.process(None, samples)
    out = metric.evaluate(len(samples))
    assert out['accuracy/acc'] == pytest.approx(100 * 4 / 6)
    assert out['accuracy/majority'] == pytest.approx(100 * 3 / 6)
    assert out['accuracy/num_samples'] == 6


def test_accuracy_errors():
    metric = Accuracy()
    with pytest.raises(KeyError, match='gt_label'):
        metric.process(None, [DataSample(pred_label=1)])
    with pytest.raises(ValueError, match='no predictions'):
        metric.compute_metrics([])


def test_majority_baseline_is_the_most_frequent_label():
    metric = Accuracy()
    metric.process(None, [DataSample(pred_label=0, gt_label=g)
                          for g in (1, 1, 1, 0, 2)])
    out = metric.evaluate(5)
    assert out['accuracy/majority'] == pytest.approx(60.0)
    assert out['accuracy/acc'] == pytest.approx(20.0)
