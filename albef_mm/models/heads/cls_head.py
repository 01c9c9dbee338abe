"""Classification head on the fused [CLS] token with momentum distillation
(SNLI-VE, NLVR2, and the text-assignment head of NLVR2 pre-training)."""
import re
from collections import OrderedDict
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from albef_mm.registry import MODELS


@MODELS.register_module()
class ALBEFClsHead(BaseModule):
    """``Linear → ReLU → Linear`` (or a single ``Linear``) classifier.

    ALBEF's ``cls_head`` is ``nn.Sequential(Linear(D, D), ReLU(),
    Linear(D, C))`` (C = 3 for SNLI-VE, 2 for NLVR2); the text-assignment
    head of NLVR2 pre-training is one ``Linear(D, 3)``. The layers live in
    ``self.layers`` with the original's indices, so original keys map as
    ``cls_head.0.weight`` → ``cls_head.layers.0.weight``.

    The loss with distillation is
    ``(1 − α)·CE(targets, z) + α·CE(softmax(z_m), z)`` with ``z_m`` the
    momentum branch's logits; without them (or with ``α = 0`` and no
    momentum logits) it is plain cross-entropy.

    Config keys:
        in_channels (int): Width of the fused [CLS] token (768).
        num_classes (int): Classes (3 SNLI-VE, 2 NLVR2, 3 text assignment).
        hidden_channels (int, optional): Width of the hidden layer
            (``None``: ``in_channels``).
        with_hidden (bool): Build the two-layer head; False builds the
            single-``Linear`` head. Defaults to True.
        init_cfg (dict, optional): MMEngine init config (the default keeps
            PyTorch's ``nn.Linear`` init, as the original).
    """

    def __init__(self, in_channels: int = 768, num_classes: int = 2,
                 hidden_channels: Optional[int] = None,
                 with_hidden: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if num_classes < 2:
            raise ValueError(f'num_classes must be >= 2, got {num_classes}')
        self.num_classes = num_classes
        if with_hidden:
            hidden = hidden_channels or in_channels
            self.layers = nn.Sequential(nn.Linear(in_channels, hidden),
                                        nn.ReLU(),
                                        nn.Linear(hidden, num_classes))
        else:
            self.layers = nn.Sequential(nn.Linear(in_channels, num_classes))

    def forward(self, cls_token: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, C]`` from the fused [CLS] states ``[B, D]``."""
        return self.layers(cls_token)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor,
             logits_m: Optional[torch.Tensor] = None,
             alpha: float = 0.0) -> torch.Tensor:
        """Cross-entropy, distilled from ``logits_m`` when given.

        Args:
            logits: Online logits ``[B, C]``.
            targets: Class indices ``[B]``.
            logits_m: Momentum logits ``[B, C]`` (no gradient), optional.
            alpha: Weight of the soft (momentum) target.
        """
        if targets.dim() != 1 or targets.size(0) != logits.size(0):
            raise ValueError(f'targets must be [B] with B={logits.size(0)}, '
                             f'got shape {tuple(targets.shape)}')
        hard = F.cross_entropy(logits, targets)
        if logits_m is None:
            return hard
        soft = -torch.sum(F.log_softmax(logits, dim=1) *
                          F.softmax(logits_m, dim=1), dim=1).mean()
        return (1 - alpha) * hard + alpha * soft


_SEQ_KEY = re.compile(r'^(\d+)\.(weight|bias)$')


def convert_original_head_keys(state: Dict, name: str,
                               new_name: Optional[str] = None,
                               single_linear: bool = False
                               ) -> Dict[str, torch.Tensor]:
    """Pop ``name.*`` and ``name_m.*`` keys of an original head from
    ``state`` and return them under :class:`ALBEFClsHead` names.

    ``cls_head.0.weight`` → ``cls_head.layers.0.weight`` (an
    ``nn.Sequential`` head); with ``single_linear`` the original head is a
    bare ``nn.Linear`` (``ta_head.weight`` → ``ta_head.layers.0.weight``).

    Raises:
        KeyError: A key under ``name`` that does not fit the head layout.
    """
    new_name = new_name or name
    out = OrderedDict()
    for suffix in ('', '_m'):
        prefix = f'{name}{suffix}.'
        for key in [k for k in state if k.startswith(prefix)]:
            rest = key[len(prefix):]
            if single_linear:
                if rest not in ('weight', 'bias'):
                    raise KeyError(f'{key}: expected {prefix}weight/bias of '
                                   'a single Linear head')
                rest = f'0.{rest}'
            elif not _SEQ_KEY.match(rest):
                raise KeyError(f'{key}: expected {prefix}<index>.weight/bias '
                               'of an nn.Sequential head')
            out[f'{new_name}{suffix}.layers.{rest}'] = state.pop(key)
    return out
