"""What the classification-style tasks (SNLI-VE, NLVR2) share: the
``forward`` modes and the distilled cross-entropy around the model's own
``classify(images, text_ids, text_mask, momentum=False)``."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F

from albef_mm.structures import DataSample


def gt_labels(data_samples: Optional[List[DataSample]],
              device: torch.device, task: str) -> torch.Tensor:
    """``[B]`` long tensor of the samples' ``gt_label`` fields."""
    if not data_samples or 'gt_label' not in data_samples[0]:
        raise ValueError(
            f'{task} training needs gt_label in every data sample (the '
            "dataset sets it; pack it with algorithm_keys=('text', "
            "'gt_label'))")
    return torch.tensor([int(s.gt_label) for s in data_samples],
                        dtype=torch.long, device=device)


def write_predictions(logits: torch.Tensor,
                      data_samples: Optional[List[DataSample]]
                      ) -> List[DataSample]:
    """Set ``pred_score`` (softmax ``[C]``) and ``pred_label`` (argmax) on
    each sample (new samples when none are given)."""
    if data_samples is None:
        data_samples = [DataSample() for _ in range(logits.size(0))]
    scores = F.softmax(logits.float(), dim=-1)
    labels = logits.argmax(dim=-1)
    for i, sample in enumerate(data_samples):
        sample.pred_score = scores[i].detach()
        sample.pred_label = int(labels[i])
    return data_samples


class DistilledClassifierMixin:
    """``forward`` / ``loss`` of a model that classifies (image(s), text)
    pairs with ``classify`` and a ``cls_head`` distilled from
    ``cls_head_m`` (attributes ``distill``, ``alpha``, ``task_name``)."""

    def forward(self, images: torch.Tensor,
                text_ids: Optional[torch.Tensor] = None,
                text_mask: Optional[torch.Tensor] = None,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'loss'`` → ``{'loss_cls'}``; ``'predict'`` → samples with
        ``pred_score``/``pred_label``; ``'tensor'`` → logits."""
        if mode == 'loss':
            targets = gt_labels(data_samples, images.device, self.task_name)
            return self.loss(images, text_ids, text_mask, targets)
        if mode == 'predict':
            return write_predictions(
                self.classify(images, text_ids, text_mask), data_samples)
        if mode == 'tensor':
            return self.classify(images, text_ids, text_mask)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got "
                         f'{mode!r}')

    def loss(self, images: torch.Tensor, text_ids: torch.Tensor,
             text_mask: torch.Tensor,
             targets: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Distilled cross-entropy of one batch (the momentum EMA runs in
        ``MomentumUpdateHook`` before this)."""
        logits = self.classify(images, text_ids, text_mask)
        logits_m = None
        if self.distill:
            with torch.no_grad():
                logits_m = self.classify(images, text_ids, text_mask,
                                         momentum=True)
        return dict(loss_cls=self.cls_head.loss(logits, targets, logits_m,
                                                self.alpha))
