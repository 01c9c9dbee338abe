"""Linear probe on frozen ALBEF image features: extraction with an on-disk
cache, a multinomial logistic regression trained by L-BFGS, evaluation.

``tools/analysis/linear_probe.py CONFIG CHECKPOINT`` drives these from a
config; they work on any model with ``image_features(images, kind)`` and a
``data_preprocessor`` (e.g. :class:`ALBEFZeroShotClassifier`).
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import nn


@torch.no_grad()
def extract_features(model: nn.Module, dataloader, kind: str = 'cls'
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Frozen image features and labels of every sample, in loader order.

    Args:
        model: Has ``data_preprocessor`` and ``image_features``.
        dataloader: Yields ``{'inputs', 'data_samples'}`` batches whose
            samples carry ``gt_label``.
        kind: ``'cls'`` (ViT CLS token) or ``'proj'`` (normalised ITC
            projection).

    Returns:
        ``(features [N, D] float32 on CPU, labels [N] long)``.
    """
    was_training = model.training
    model.eval()
    feats, labels = [], []
    for batch in dataloader:
        data = model.data_preprocessor(batch, False)
        feats.append(model.image_features(data['images'], kind).float().cpu())
        for i, s in enumerate(data['data_samples']):
            if 'gt_label' not in s:
                raise KeyError(f'sample {i} of a batch has no gt_label: pack '
                               "it with PackALBEFInputs(algorithm_keys="
                               "('gt_label', ))")
            labels.append(int(s.gt_label))
    model.train(was_training)
    return torch.cat(feats), torch.tensor(labels, dtype=torch.long)


def cache_key(**parts) -> str:
    """A short stable hash of json-able ``parts`` (checkpoint identity,
    feature kind, data files) naming a feature cache file."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def cached_features(model: nn.Module, dataloader, kind: str, cache_file: str,
                    key: str) -> Tuple[torch.Tensor, torch.Tensor, bool]:
    """:func:`extract_features`, saved to ``cache_file`` and reused while
    its stored ``key`` matches. Returns ``(feats, labels, from_cache)``."""
    if osp.isfile(cache_file):
        blob = torch.load(cache_file, map_location='cpu', weights_only=True)
        if blob.get('key') == key:
            return blob['feats'], blob['labels'], True
        print_log(f'{cache_file}: stale feature cache (other checkpoint, '
                  'data or feature kind); recomputing', logger='current')
    feats, labels = extract_features(model, dataloader, kind)
    os.makedirs(osp.dirname(osp.abspath(cache_file)), exist_ok=True)
    torch.save(dict(key=key, feats=feats, labels=labels), cache_file)
    return feats, labels, False


class LogisticRegressionProbe(nn.Module):
    """Multinomial logistic regression ``softmax(W x + b)`` on standardised
    features (the train-set mean / std are stored with the head).

    Args:
        in_dim (int): Feature width.
        num_classes (int): Number of classes.
    """

    def __init__(self, in_dim: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(in_dim, num_classes)
        self.register_buffer('mean', torch.zeros(in_dim))
        self.register_buffer('std', torch.ones(in_dim))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.fc((feats - self.mean) / self.std)

    def fit(self, feats: torch.Tensor, labels: torch.Tensor,
            weight_decay: float = 1e-3, max_iter: int = 500) -> float:
        """Minimise mean cross-entropy + ``weight_decay/2 * ||W||^2`` with
        full-batch L-BFGS (deterministic). Returns the final loss."""
        self.mean.copy_(feats.mean(0))
        self.std.copy_(feats.std(0).clamp_min(1e-6))
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)
        opt = torch.optim.LBFGS(self.parameters(), lr=1.0, max_iter=max_iter,
                                tolerance_grad=1e-6, tolerance_change=1e-9,
                                history_size=20,
                                line_search_fn='strong_wolfe')
        x = (feats - self.mean) / self.std

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(self.fc(x), labels) + \
                0.5 * weight_decay * self.fc.weight.pow(2).sum()
            loss.backward()
            return loss

        with torch.enable_grad():
            opt.step(closure)
        # LBFGS.step returns the loss of its *first* evaluation (at the
        # zero init); report the objective at the solution instead.
        with torch.no_grad():
            loss = F.cross_entropy(self.fc(x), labels) + \
                0.5 * weight_decay * self.fc.weight.pow(2).sum()
        return float(loss)


def train_probe(train: Tuple[torch.Tensor, torch.Tensor], num_classes: int,
                weight_decays: Sequence[float] = (1e-3, ),
                val: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
                max_iter: int = 500) -> Tuple[LogisticRegressionProbe, Dict]:
    """Fit one probe per weight decay; keep the best on ``val`` (top-1),
    then refit it on train + val. Without ``val`` only the first weight
    decay is used.

    Returns:
        ``(probe, info)`` with ``weight_decay`` (chosen) and ``val_top1``
        (per candidate, when ``val`` is given).
    """
    feats, labels = train
    if labels.numel() == 0:
        raise ValueError('the linear probe has no training samples')
    if int(labels.max()) >= num_classes or int(labels.min()) < 0:
        raise ValueError(f'training labels must be in [0, {num_classes})')
    info: Dict = {}
    wds = list(weight_decays)
    if not wds:
        raise ValueError('weight_decays is empty')
    best = wds[0]
    if val is not None and len(wds) > 1:
        scores = {}
        for wd in wds:
            probe = LogisticRegressionProbe(feats.size(1), num_classes)
            probe.fit(feats, labels, wd, max_iter)
            with torch.no_grad():
                pred = probe(val[0]).argmax(1)
            scores[wd] = float((pred == val[1]).float().mean() * 100)
        best = max(wds, key=lambda w: (scores[w], w))
        info['val_top1'] = scores
        feats = torch.cat([feats, val[0]])
        labels = torch.cat([labels, val[1]])
    probe = LogisticRegressionProbe(feats.size(1), num_classes)
    info['train_loss'] = probe.fit(feats, labels, best, max_iter)
    info['weight_decay'] = best
    return probe, info
