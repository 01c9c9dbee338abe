"""ALBEF NLVR2 (original ``models/model_nlvr.py``): is a sentence true of
an image pair?"""
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple

import torch

from albef_mm.registry import MODELS
from ..heads.cls_head import convert_original_head_keys
from ..necks.nlvr_fusion_encoder import replicate_unpaired_layers
from .cls_task import ALBEFDistilledClassifier


def split_pair(images: torch.Tensor) -> torch.Tensor:
    """``[B, 2, C, H, W]`` image pairs → ``[2B, C, H, W]`` (all first
    images, then all second images: the original's ``cat([image0,
    image1])``)."""
    if images.dim() != 5 or images.size(1) != 2:
        raise ValueError('NLVR2 models take image pairs [B, 2, C, H, W], '
                         f'got shape {tuple(images.shape)}')
    return torch.cat([images[:, 0], images[:, 1]])


class PairFusionMixin:
    """Encode image pairs and fuse a text with both (the 18-layer encoder
    of ALBEF's NLVR2 and text-assignment models)."""

    def adapt_state_dict(self, state: Dict) -> Dict:
        """Replicate the fusion layers of a single-image checkpoint
        (pre-training / retrieval: ``num_pairs`` layers) into the layer
        pairs of ``neck`` and ``neck_m``, in place: layer ``l`` → layers
        ``2l`` and ``2l + 1``. Paired checkpoints are returned unchanged."""
        for prefix in ('neck.', 'neck_m.'):
            replicate_unpaired_layers(state, prefix, self.neck.num_pairs)
        return state

    def fuse_pair(self, image_states: Sequence[torch.Tensor],
                  text_ids: torch.Tensor, text_mask: torch.Tensor,
                  momentum: bool = False) -> torch.Tensor:
        """Fused states ``[B, L, D]`` of the text with the pair
        ``image_states = (image0 tokens, image1 tokens)``; even fusion
        layers attend to image 0, odd ones to image 1."""
        branch = self.branch(momentum)
        text = branch.text_backbone(text_ids, text_mask)
        return branch.neck(text, text_mask, list(image_states))

    def encode_pair(self, images: torch.Tensor, momentum: bool = False
                    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Image tokens of both images of each pair ``[B, 2, C, H, W]``
        (one ViT pass over the ``2B`` images)."""
        embeds = self.branch(momentum).vision_backbone(split_pair(images))
        return tuple(torch.chunk(embeds, 2))


@MODELS.register_module()
class ALBEFNLVR(PairFusionMixin, ALBEFDistilledClassifier):
    """NLVR2 classifier.

    The two images of a pair go through the ViT; the sentence through the
    6 text layers and the :class:`NLVRFusionEncoder` (12 fusion layers in
    6 pairs: even layers attend to image 0, odd ones to image 1, each pair
    sharing its cross-attention key/value); a 2-way head (768 → 768 → ReLU
    → 2) on the fused [CLS] token; momentum distillation
    ``(1 − α)·CE + α·CE(softmax(z_m), z)`` with α ramped during the first
    epoch (``AlphaWarmupHook``).

    Difference from the original, on purpose: ``NLVR.py`` copies the
    online weights into the momentum branch *before* loading the
    text-assignment checkpoint, which holds no momentum weights, so its
    teacher starts from random ViT / fusion weights. Here the momentum
    branch is copied from the online weights *after* loading (checkpoint
    loading does it whenever a file brings online but no momentum
    weights), so the teacher starts equal to the loaded student. For an
    exact reproduction of the original's trajectory (the run behind the
    paper's 82.55 / 83.14), ``momentum_copy_before_load=True`` copies
    before loading instead, as ``NLVR.py`` does.

    Checkpoints: text-assignment pre-training files (original
    ``pretrain_model_nlvr.pth`` or albef_mm) load with the classifier left
    at its init; pre-training checkpoints (6 fusion layers) load with
    layer ``l`` replicated into the pair ``(2l, 2l+1)``
    (:meth:`adapt_state_dict`; original files through
    :meth:`convert_original_state_dict`, albef_mm files when the loader
    calls ``adapt_state_dict`` or through ``load_state_dict``, whose neck
    replicates too); NLVR2 checkpoints load strictly.

    Args:
        cls_head (dict): ``ALBEFClsHead`` config (``num_classes=2``).
        distill (bool): Momentum distillation (ALBEF: True).
        momentum_copy_before_load (bool): Copy the online weights into the
            momentum branch just before a checkpoint loads (the original
            ``NLVR.py`` order: the teacher keeps the initial weights when
            the file has no momentum weights) instead of after it (the
            default, False: the teacher starts as the loaded student).
        **kwargs: The shared keywords of :class:`ALBEFBase`; ``neck`` is
            an ``NLVRFusionEncoder`` config (12 layers).
    """

    task_name = 'NLVR2'
    distill_hooks = ('MomentumUpdateHook', 'AlphaWarmupHook')
    ignorable_unexpected = (r'^itc_head\.', r'^itc_loss\.', r'^itm_head\.',
                            r'^mlm_head(_m)?\.', r'^ta_head\.')

    def __init__(self, momentum_copy_before_load: bool = False, **kwargs):
        super().__init__(**kwargs)
        # read by checkpoint loading (load_checkpoint_to_model)
        self.momentum_copy_before_load = bool(momentum_copy_before_load)
        if not hasattr(self.neck, 'num_pairs'):
            raise TypeError('ALBEFNLVR needs a paired fusion neck '
                            "(type='NLVRFusionEncoder'), got "
                            f'{type(self.neck).__name__}')

    # ------------------------------------------------------------- task
    def classify(self, images: torch.Tensor, text_ids: torch.Tensor,
                 text_mask: torch.Tensor, momentum: bool = False
                 ) -> torch.Tensor:
        """Logits ``[B, 2]`` ("False", "True") of each (image pair,
        sentence); ``images`` is ``[B, 2, C, H, W]``."""
        fused = self.fuse_pair(self.encode_pair(images, momentum), text_ids,
                               text_mask, momentum)
        return self.branch(momentum).cls_head(fused[:, 0])

    # ------------------------------------------------------- checkpoints
    def convert_original_state_dict(self, state: Dict
                                    ) -> Tuple[OrderedDict, List[str]]:
        """Original NLVR2 (``cls_head.{0,2}``, 18-layer ``text_encoder``),
        text-assignment (``ta_head``, ``vision_proj`` ...) or pre-training
        keys → albef_mm names. The encoder layers ``>= 6`` become neck
        layers (a 6-layer pre-training encoder is replicated into pairs
        when the neck loads it)."""
        from albef_mm.checkpoint import convert_albef_state_dict
        state = OrderedDict(state)
        heads = convert_original_head_keys(state, 'cls_head')
        heads.update(convert_original_head_keys(state, 'ta_head',
                                                single_linear=True))
        out, dropped = convert_albef_state_dict(state)
        out.update(heads)
        return self.adapt_state_dict(out), dropped
