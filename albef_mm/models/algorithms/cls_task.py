"""What the classification-style tasks (SNLI-VE, NLVR2) share: the
classification head with its momentum copy, the modes and the distilled
cross-entropy around the model's own ``classify(images, text_ids,
text_mask, momentum=False)``."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F

from albef_mm.registry import MODELS
from albef_mm.structures import DataSample
from .base import ALBEFBase


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


class ALBEFDistilledClassifier(ALBEFBase):
    """A model that classifies (image(s), text) pairs with ``classify`` and
    a ``cls_head``, distilled from the momentum branch:
    ``(1 − α)·CE + α·CE(softmax(z_m), z)``.

    Subclasses set ``task_name`` and ``distill_hooks`` (the training hooks
    distillation needs) and implement ``classify``.

    Args:
        cls_head (dict): ``ALBEFClsHead`` config.
        distill (bool): Momentum distillation (ALBEF: True). Without it
            there is no momentum branch, no training hook, and a
            checkpoint's momentum weights are ignored.
        **kwargs: The shared keywords of :class:`ALBEFBase`.
    """

    task_name = ''
    distill_hooks = ('MomentumUpdateHook', )
    ignorable_missing = (r'^cls_head(_m)?\.', )

    def __init__(self, cls_head: dict, distill: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.cls_head = MODELS.build(cls_head)
        self.distill = distill
        if distill:
            self.momentum_modules = ('vision_backbone', 'text_backbone',
                                     'neck', 'cls_head')
            self.required_train_hooks = self.distill_hooks
        else:  # a checkpoint's momentum weights have no place
            self.ignorable_unexpected = self.ignorable_unexpected + (
                r'^[a-z_]+_m\.', )
        self.build_momentum_branch()

    def batch_loss(self, images: torch.Tensor, text_ids: torch.Tensor,
                   text_mask: torch.Tensor,
                   data_samples: Optional[List[DataSample]]
                   ) -> Dict[str, torch.Tensor]:
        """:meth:`loss` with the samples' ``gt_label``."""
        targets = gt_labels(data_samples, images.device, self.task_name)
        return self.loss(images, text_ids, text_mask, targets)

    def predict(self, images: torch.Tensor, text_ids: torch.Tensor,
                text_mask: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """Samples with ``pred_score`` (softmax) and ``pred_label``."""
        return write_predictions(self.classify(images, text_ids, text_mask),
                                 data_samples)

    def tensor(self, images: torch.Tensor,
               text_ids: Optional[torch.Tensor] = None,
               text_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The logits."""
        return self.classify(images, text_ids, text_mask)

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
