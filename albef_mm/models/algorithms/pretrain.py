"""ALBEF pre-training: ITC + ITM (hard negatives) + MLM, with momentum
distillation."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F

from albef_mm.registry import MODELS
from albef_mm.structures import DataSample
from .contrastive import ALBEFContrastiveBase


@MODELS.register_module()
class ALBEFPretrain(ALBEFContrastiveBase):
    """The pre-training model (original ``models/model_pretrain.py``).

    One training step (``mode='loss'``): ViT and text encoder → ITC against
    momentum features + queue → ITM on ``3B`` fused pairs with negatives
    sampled from the ITC similarities → MLM on a masked copy of the text,
    distilled from the momentum branch. Returns ``loss_itc``, ``loss_itm``,
    ``loss_mlm``. The EMA update, the enqueue and the ``alpha`` ramp are
    done by ``MomentumUpdateHook``, ``QueueUpdateHook`` and
    ``AlphaWarmupHook``; a training run without them fails on the first
    step (and at build time with :class:`ALBEFRunner`).

    Args:
        mlm_head (dict): ``MLMHead`` config (decoder tied to the word
            embeddings).
        itc_head, itm_head (dict): see :class:`ALBEFContrastiveBase`.
        **kwargs: The shared keywords of :class:`ALBEFBase`
            (``vision_backbone``, ``text_backbone``, ``neck``,
            ``momentum``, ``alpha``, ``pretrained_text``, ...).
    """

    momentum_modules = ('vision_backbone', 'text_backbone', 'neck',
                        'mlm_head')

    def __init__(self, mlm_head: dict, **kwargs):
        super().__init__(**kwargs)
        self.mlm_head = MODELS.build(mlm_head)
        self.mlm_head.tie_weights(
            self.text_backbone.embeddings.word_embeddings)
        self.build_momentum_branch()
        self.mlm_head_m.tie_weights(
            self.text_backbone_m.embeddings.word_embeddings)

    def batch_loss(self, images: torch.Tensor, text_ids: torch.Tensor,
                   text_mask: torch.Tensor,
                   data_samples: Optional[List[DataSample]]
                   ) -> Dict[str, torch.Tensor]:
        """:meth:`loss` (the captions are all it needs)."""
        return self.loss(images, text_ids, text_mask)

    def loss(self, images: torch.Tensor, text_ids: torch.Tensor,
             text_mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The three pre-training losses of one batch.

        Args:
            images: Normalised images ``[B, 3, H, W]``.
            text_ids, text_mask: Tokenised captions ``[B, L]``.
        """
        out = self.contrast_and_match(images, text_ids, text_mask)
        image_embeds, image_embeds_m = out['image_embeds'], \
            out['image_embeds_m']
        # MLM with distillation from the momentum branch.
        mlm_ids, mlm_labels = self.mlm_head.mask_tokens(
            text_ids, generator=self.generator)
        with torch.no_grad():
            hidden_m = self.neck_m(self.text_backbone_m(mlm_ids, text_mask),
                                   text_mask, image_embeds_m)
        hidden = self.neck(
            self.text_backbone(mlm_ids, text_mask), text_mask, image_embeds,
            image_kv=out['image_kv'])
        # Unmasked positions never enter the loss: skip their logits.
        mlm_labels, hidden, hidden_m = self.mlm_head.select_labelled(
            mlm_labels, hidden, hidden_m)
        with torch.no_grad():
            soft_labels = F.softmax(self.mlm_head_m(hidden_m), dim=-1)
        loss_mlm = self.mlm_head.loss(self.mlm_head(hidden), mlm_labels,
                                      soft_labels, self.alpha)
        return dict(loss_itc=out['loss_itc'], loss_itm=out['loss_itm'],
                    loss_mlm=loss_mlm)
