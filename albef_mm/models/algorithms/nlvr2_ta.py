"""Text-assignment pre-training for NLVR2 (original
``models/model_pretrain_nlvr.py``, ``Pretrain_nlvr.py``)."""
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

from albef_mm.registry import MODELS
from albef_mm.structures import DataSample
from ..heads.cls_head import convert_original_head_keys
from ..heads.itc_head import ITCHead
from .base import ALBEFBase
from .nlvr2 import PairFusionMixin

# Labels: the caption matches the first image / the second / neither.
TA_FIRST, TA_SECOND, TA_NEITHER = 0, 1, 2


def image_similarity_weights(image_feat: torch.Tensor,
                             temp: float = 0.07) -> torch.Tensor:
    """Sampling weights ``[B, B]``: row-softmax of ``f fᵀ / temp`` over the
    normalised image features, diagonal zeroed (not renormalised)."""
    with torch.no_grad():
        weights = F.softmax(image_feat @ image_feat.t() / temp, dim=1)
        weights.fill_diagonal_(0)
    return weights


def sample_text_assignment(weights: torch.Tensor,
                           generator: Optional[torch.Generator] = None
                           ) -> Tuple[torch.Tensor, torch.Tensor,
                                      torch.Tensor]:
    """Draw the image pair and label of every caption (ALBEF's order of
    random draws).

    For caption ``b``: ``u ~ U(0, 1)``; if ``u > 1/3`` one similar image
    ``j ~ weights[b]`` is drawn and, by a second uniform draw ``> 0.5``,
    the pair is ``(b, j)`` with label 0 ("matches the first image"),
    otherwise ``(j, b)`` with label 1 ("matches the second"); if
    ``u <= 1/3`` two distinct similar images ``(j1, j2)`` are drawn
    without replacement, label 2 ("matches neither").

    Args:
        weights: ``[B, B]`` non-negative weights with a zero diagonal.
        generator: Optional torch generator (default: the global one, as
            the original).

    Returns:
        ``(first, second, labels)``: ``[B]`` index tensors into the batch
        for the first and second image of each pair, and the labels.
    """
    bs = weights.size(0)
    if bs < 3:
        raise ValueError(f'text assignment needs a batch of at least 3 '
                         f'images (a "neither" pair takes two images other '
                         f'than the caption\'s own), got {bs}')
    w = weights.detach().float().cpu()
    first, second, labels = [], [], []
    for b in range(bs):
        if torch.rand(1, generator=generator) > 1 / 3:
            j = int(torch.multinomial(w[b], 1, generator=generator))
            if torch.rand(1, generator=generator) > 0.5:
                pair, label = (b, j), TA_FIRST
            else:
                pair, label = (j, b), TA_SECOND
        else:
            j1, j2 = torch.multinomial(w[b], 2, generator=generator).tolist()
            pair, label = (j1, j2), TA_NEITHER
        first.append(pair[0])
        second.append(pair[1])
        labels.append(label)
    device = weights.device
    return (torch.tensor(first, device=device),
            torch.tensor(second, device=device),
            torch.tensor(labels, device=device))


@MODELS.register_module()
class ALBEFNLVRTextAssignment(PairFusionMixin, ALBEFBase):
    """Text-assignment (TA) pre-training of the NLVR2 encoder.

    Per batch of image-caption pairs: image [CLS] features through the
    ITC feature unit ``itc_head`` (no gradient), image-image similarity
    weights, :func:`sample_text_assignment` builds an image pair per
    caption and a label (first / second / neither), the 18-layer encoder
    (text layers + :class:`NLVRFusionEncoder`) fuses the caption with the
    pair and a 3-way ``ta_head`` (one Linear) is trained with
    cross-entropy. No momentum branch, no alpha, no training hooks.

    DDP: ``itc_head`` (its projections and temperature keep the
    pre-training checkpoint's names) never receives a gradient, so it is
    frozen (``requires_grad=False``); every trainable parameter
    gets a gradient each step and DDP needs no ``find_unused_parameters``.
    (The original passes ``find_unused_parameters=True``; AdamW skipped
    those parameters there too, so training is the same.)

    Loading a pre-training checkpoint replicates fusion layer ``l`` into
    the pair ``(2l, 2l+1)`` (original files through
    :meth:`convert_original_state_dict`; albef_mm files through
    :meth:`adapt_state_dict`) and ignores momentum weights, queues and the
    ITM/MLM heads.

    Args:
        ta_head (dict): ``ALBEFClsHead`` config (``num_classes=3``,
            ``with_hidden=False``).
        vision_width (int): ViT width (768).
        embed_dim (int): ITC projection width of the checkpoint (256).
        temp (float): Temperature of the image-image similarities (0.07;
            fixed, the checkpoint's ``temp`` is not used).
        **kwargs: The shared keywords of :class:`ALBEFBase`; ``neck`` is
            an ``NLVRFusionEncoder`` config (12 layers).
    """

    ignorable_missing = (r'^ta_head\.', )
    ignorable_unexpected = (r'^[a-z_]+_m\.', r'^itc_head\.[a-z_]+_m\.',
                            r'^itc_loss\.', r'^itm_head\.', r'^mlm_head\.',
                            r'^cls_head\.')

    def __init__(self, ta_head: dict, vision_width: int = 768,
                 embed_dim: int = 256, temp: float = 0.07, **kwargs):
        super().__init__(**kwargs)
        if not hasattr(self.neck, 'num_pairs'):
            raise TypeError('text assignment needs a paired fusion neck '
                            "(type='NLVRFusionEncoder'), got "
                            f'{type(self.neck).__name__}')
        self.itc_head = ITCHead(vision_width, self.neck.hidden_size,
                                embed_dim, temp, momentum=False)
        self.itc_head.requires_grad_(False)
        self.sim_temp = temp
        self.ta_head = MODELS.build(ta_head)
        # None = the global generator (as the original).
        self.generator: Optional[torch.Generator] = None

    def batch_loss(self, images: torch.Tensor, text_ids: torch.Tensor,
                   text_mask: torch.Tensor,
                   data_samples: Optional[List[DataSample]]
                   ) -> Dict[str, torch.Tensor]:
        """:meth:`loss` (the labels are drawn, not annotated)."""
        return self.loss(images, text_ids, text_mask)

    def tensor(self, images: torch.Tensor,
               text_ids: Optional[torch.Tensor] = None,
               text_mask: Optional[torch.Tensor] = None):
        """``(logits, labels)`` of a sampled assignment (no ``predict``
        mode: the labels are drawn, not annotated)."""
        out = self.assign(images, text_ids, text_mask)
        return out['logits'], out['labels']

    def assign(self, images: torch.Tensor, text_ids: torch.Tensor,
               text_mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Sample pairs and labels and classify them.

        Args:
            images: ``[B, 3, H, W]`` images of the caption batch.
            text_ids, text_mask: Their captions ``[B, L]``.
        Returns:
            dict with ``logits`` ``[B, 3]``, ``labels``, ``first``,
            ``second`` and the sampling ``weights``.
        """
        image_embeds = self.vision_backbone(images)
        with torch.no_grad():
            feat = self.itc_head.image_feat(image_embeds[:, 0])
            weights = image_similarity_weights(feat, self.sim_temp)
        first, second, labels = sample_text_assignment(weights,
                                                       self.generator)
        fused = self.fuse_pair((image_embeds[first], image_embeds[second]),
                               text_ids, text_mask)
        return dict(logits=self.ta_head(fused[:, 0]), labels=labels,
                    first=first, second=second, weights=weights)

    def loss(self, images: torch.Tensor, text_ids: torch.Tensor,
             text_mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Cross-entropy of the 3-way text assignment."""
        out = self.assign(images, text_ids, text_mask)
        return dict(loss_ta=self.ta_head.loss(out['logits'], out['labels']))

    # ------------------------------------------------------- checkpoints
    def convert_original_state_dict(self, state: Dict
                                    ) -> Tuple[OrderedDict, List[str]]:
        """Original pre-training / TA keys → albef_mm names, fusion layers
        replicated into pairs for a 6-layer (pre-training) encoder."""
        from albef_mm.checkpoint import convert_albef_state_dict
        state = OrderedDict(state)
        heads = convert_original_head_keys(state, 'ta_head',
                                           single_linear=True)
        heads.update(convert_original_head_keys(state, 'cls_head'))
        out, dropped = convert_albef_state_dict(state)
        out.update(heads)
        return self.adapt_state_dict(out), dropped
