"""ALBEF visual entailment (SNLI-VE; original ``models/model_ve.py``)."""
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

from albef_mm.registry import MODELS
from ..heads.cls_head import convert_original_head_keys
from .base import ALBEFBase
from .cls_task import DistilledClassifierMixin


@MODELS.register_module()
class ALBEFVE(DistilledClassifierMixin, ALBEFBase):
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
        vision_backbone, text_backbone, neck (dict): Encoder configs.
        cls_head (dict): ``ALBEFClsHead`` config (``num_classes=3``).
        distill (bool): Momentum distillation (ALBEF: True).
        momentum (float): EMA coefficient (0.995).
        alpha (float): Distillation weight (0.4).
        pretrained_text (str, optional): HF BERT weights.
        data_preprocessor (dict, optional): Preprocessor config.
        init_cfg (dict, optional): MMEngine init config.
    """

    task_name = 'SNLI-VE'
    ignorable_missing = (r'^cls_head(_m)?\.', )
    ignorable_unexpected = (r'^itc_head\.', r'^itm_head\.',
                            r'^mlm_head(_m)?\.')

    def __init__(self, vision_backbone: dict, text_backbone: dict, neck: dict,
                 cls_head: dict, distill: bool = True,
                 momentum: float = 0.995, alpha: float = 0.4,
                 pretrained_text: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(vision_backbone, text_backbone, neck, momentum,
                         alpha, pretrained_text, data_preprocessor, init_cfg)
        self.cls_head = MODELS.build(cls_head)
        self.distill = distill
        self.momentum_modules = (('vision_backbone', 'text_backbone', 'neck',
                                  'cls_head') if distill else ())
        self.required_train_hooks = (('MomentumUpdateHook', ) if distill
                                     else ())
        if not distill:  # a checkpoint's momentum weights have no place
            self.ignorable_unexpected = self.ignorable_unexpected + (
                r'^[a-z_]+_m\.', )
        self.build_momentum_branch()

    # ------------------------------------------------------------- task
    def classify(self, images: torch.Tensor, text_ids: torch.Tensor,
                 text_mask: torch.Tensor, momentum: bool = False
                 ) -> torch.Tensor:
        """Logits ``[B, C]`` of (image b, text b) with the online or the
        momentum branch."""
        sfx = '_m' if momentum else ''
        image_embeds = getattr(self, 'vision_backbone' + sfx)(images)
        text_embeds = getattr(self, 'text_backbone' + sfx)(text_ids,
                                                           text_mask)
        fused = getattr(self, 'neck' + sfx)(text_embeds, text_mask,
                                            image_embeds)
        return getattr(self, 'cls_head' + sfx)(fused[:, 0])

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
