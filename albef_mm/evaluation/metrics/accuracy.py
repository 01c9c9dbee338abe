"""Accuracy of NLVR2 / SNLI-VE style classification, with the
majority-class baseline of the evaluated split."""
from collections import Counter
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from albef_mm.registry import METRICS


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-1 accuracy in percent (ALBEF's NLVR2 / SNLI-VE ``acc``).

    Reads ``pred_label`` (int; or the argmax of ``pred_score``) and
    ``gt_label`` of every predicted sample. Besides ``acc`` it reports
    ``majority`` (the accuracy of always answering the split's most
    frequent label: the baseline a model has to beat) and ``num_samples``.
    Under distributed evaluation the results of all ranks are gathered
    and the sampler's padding is dropped before counting.

    Config keys:
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str): Metric name prefix. Defaults to ``'accuracy'``
            (keys ``accuracy/acc``, ``accuracy/majority``,
            ``accuracy/num_samples``).
    """

    default_prefix = 'accuracy'

    def __init__(self, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch, data_samples: Sequence) -> None:
        for i, sample in enumerate(data_samples):
            get = sample.get if isinstance(sample, dict) else \
                (lambda k, s=sample: getattr(s, k, None))
            pred, score, label = (get('pred_label'), get('pred_score'),
                                  get('gt_label'))
            if pred is None and score is not None:
                pred = int(torch.as_tensor(score).argmax())
            if pred is None or label is None:
                raise KeyError(
                    f'Accuracy: sample {i} of a batch lacks pred_label (or '
                    'pred_score) or gt_label; the dataset must set gt_label '
                    "(pack it with algorithm_keys=('text', 'gt_label')) and "
                    "the model's predict must set pred_label")
            self.results.append((int(pred), int(label)))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        if not results:
            raise ValueError('Accuracy: no predictions to evaluate')
        correct = sum(p == g for p, g in results)
        counts = Counter(g for _, g in results)
        n = len(results)
        return dict(acc=100.0 * correct / n,
                    majority=100.0 * max(counts.values()) / n,
                    num_samples=n)
