"""Top-k and per-class accuracy of single-label image classification."""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from albef_mm.registry import METRICS

ArrayLike = Union[np.ndarray, torch.Tensor, Sequence]


def classification_accuracy(scores: ArrayLike, labels: ArrayLike,
                            topk: Sequence[int] = (1, 5),
                            num_classes: Optional[int] = None
                            ) -> Dict[str, object]:
    """Top-k accuracy and per-class (top-1) accuracy, in percent.

    A sample counts as correct at ``k`` when its label is among the ``k``
    highest scores; ties are broken by the lower class index (a stable
    descending sort), so a constant score vector predicts class 0. ``k``
    larger than the number of classes is clipped to it.

    Args:
        scores: ``[N, C]`` class scores (any monotone scale: logits,
            probabilities, similarities).
        labels: ``[N]`` integer labels in ``[0, C)``.
        topk: The ``k`` values to report.
        num_classes: ``C`` (defaults to ``scores.shape[1]``); must equal it.

    Returns:
        dict: ``top{k}`` for every ``k``, ``mean_class_acc`` (mean over the
        classes that have samples), ``per_class_acc`` (list of ``C`` floats,
        NaN for a class without samples) and ``num_samples``.
    """
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().float().cpu().numpy()
    scores = np.asarray(scores, dtype=np.float64)
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels)
    if scores.ndim != 2:
        raise ValueError(f'scores must be [N, C], got shape {scores.shape}')
    if labels.shape != (scores.shape[0], ):
        raise ValueError(f'labels must be [N] with N={scores.shape[0]} (one '
                         f'per score row), got shape {labels.shape}')
    if scores.shape[0] == 0:
        raise ValueError('no samples to evaluate')
    if np.isnan(scores).any():
        raise ValueError('scores contain NaN; the ranking is undefined')
    n_cls = scores.shape[1]
    if num_classes is not None and num_classes != n_cls:
        raise ValueError(f'scores have {n_cls} columns but the dataset has '
                         f'{num_classes} classes: the model\'s class list '
                         '(e.g. its classnames) must match the dataset\'s')
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f'labels must be integers, got {labels.dtype}')
    bad = np.flatnonzero((labels < 0) | (labels >= n_cls))
    if bad.size:
        raise ValueError(f'label {labels[bad[0]]} of sample {bad[0]} is not '
                         f'in [0, {n_cls})')
    order = np.argsort(-scores, axis=1, kind='stable')
    # rank of the true label: 0 = top-1
    rank = np.argmax(order == labels[:, None], axis=1)
    out: Dict[str, object] = {}
    for k in topk:
        if k < 1:
            raise ValueError(f'topk values must be >= 1, got {k}')
        out[f'top{k}'] = float(np.mean(rank < min(k, n_cls)) * 100)
    per_class = []
    for c in range(n_cls):
        sel = labels == c
        per_class.append(float(np.mean(rank[sel] == 0) * 100)
                         if sel.any() else float('nan'))
    present = [a for a in per_class if not np.isnan(a)]
    out['mean_class_acc'] = float(np.mean(present))
    out['per_class_acc'] = per_class
    out['num_samples'] = int(scores.shape[0])
    return out


@METRICS.register_module()
class ClassificationAccuracy(BaseMetric):
    """Top-k, mean per-class and per-class accuracy (percent).

    Reads ``pred_score`` (``[C]`` scores; the ranking is what counts) and
    ``gt_label`` (int) of every predicted :class:`DataSample`. When the
    dataset's metainfo has ``classes``, their number must equal ``C`` and
    the per-class accuracies are reported by class name.

    Config keys:
        topk (Sequence[int]): Reported ``k`` values. Defaults to (1, 5).
        per_class (bool): Also return ``per_class/<name>`` entries.
            Defaults to False (47 DTD classes make long logs).
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str): Metric name prefix. Defaults to ``'classification'``.
    """

    default_prefix = 'classification'

    def __init__(self, topk: Sequence[int] = (1, 5), per_class: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(topk)
        self.per_class = per_class

    def process(self, data_batch, data_samples: Sequence) -> None:
        for i, sample in enumerate(data_samples):
            get = sample.get if isinstance(sample, dict) else \
                (lambda k, s=sample: getattr(s, k, None))
            score, label = get('pred_score'), get('gt_label')
            if score is None or label is None:
                raise KeyError(
                    f'ClassificationAccuracy: sample {i} of a batch lacks '
                    f'pred_score or gt_label; the model must be a classifier '
                    'and the dataset must set gt_label (pack it with '
                    "algorithm_keys=('gt_label', ))")
            if isinstance(score, torch.Tensor):
                score = score.detach().float().cpu()
            self.results.append((np.asarray(score, dtype=np.float64),
                                 int(label)))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        sizes = {r[0].shape for r in results}
        if len(sizes) != 1:
            raise ValueError(f'pred_score sizes differ between samples: '
                             f'{sorted(sizes)}')
        scores = np.stack([r[0] for r in results])
        labels = np.array([r[1] for r in results])
        classes = (self.dataset_meta or {}).get('classes')
        acc = classification_accuracy(
            scores, labels, self.topk,
            num_classes=len(classes) if classes else None)
        out = {k: v for k, v in acc.items()
               if k not in ('per_class_acc', 'num_samples')}
        if self.per_class:
            names = classes or [str(c) for c in range(scores.shape[1])]
            for name, value in zip(names, acc['per_class_acc']):
                out[f'per_class/{name}'] = value
        return out
