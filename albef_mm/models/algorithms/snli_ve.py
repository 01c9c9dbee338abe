"""ALBEF visual entailment (SNLI-VE; original ``models/model_ve.py``)."""
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

from albef_mm.registry import MODELS
from ..heads.cls_head import convert_original_head_keys
from .cls_task import ALBEFDistilledClassifier


@MODELS.register_module()
class ALBEFVE(ALBEFDistilledClassifier):
    """SNLI-VE classifier: the hypothesis fused with the premise image by
    the 6-layer fusion neck, a 3-way head on the fused [CLS] token
    (contradiction 0, neutral 1, entailment 2), and momentum distillation
    ``(1 − α)·CE + α·CE(softmax(z_m), z)``.

    No queue, no ITC. ``alpha`` is constant (ALBEF's VE recipe has no
    warm-up), so the only training hook needed is ``MomentumUpdateHook``
    (none without distillation).

    Loading a pre-training checkpoint (original or albef_mm layout) keeps
    the encoders and ignores ITC/ITM/MLM heads and queues; the classifier
    starts from its random init (online and momentum equal). Released or
    self-trained VE checkpoints load strictly.

    Args:
        cls_head (dict): ``ALBEFClsHead`` config (``num_classes=3``).
        distill (bool): Momentum distillation (ALBEF: True).
        **kwargs: The shared keywords of :class:`ALBEFBase`.
    """

    task_name = 'SNLI-VE'
    ignorable_unexpected = (r'^itc_head\.', r'^itc_loss\.', r'^itm_head\.',
                            r'^mlm_head(_m)?\.')

    def classify(self, images: torch.Tensor, text_ids: torch.Tensor,
                 text_mask: torch.Tensor, momentum: bool = False
                 ) -> torch.Tensor:
        """Logits ``[B, C]`` of (image b, text b) with the online or the
        momentum branch."""
        fused = self.fuse(images, text_ids, text_mask, momentum)
        return self.branch(momentum).cls_head(fused[:, 0])

    # ------------------------------------------------------- checkpoints
    def convert_original_state_dict(self, state: Dict
                                    ) -> Tuple[OrderedDict, List[str]]:
        """Original ``model_ve.ALBEF`` keys (``cls_head.{0,2}``,
        ``cls_head_m``; encoders as in pre-training/retrieval) → albef_mm
        names."""
        from albef_mm.checkpoint import convert_albef_state_dict
        state = OrderedDict(state)
        heads = convert_original_head_keys(state, 'cls_head')
        out, dropped = convert_albef_state_dict(state)
        out.update(heads)
        return out, dropped
