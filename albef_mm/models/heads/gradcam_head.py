"""Grad-CAM over ALBEF's attention maps: the heat maps of weakly supervised
visual grounding and of the grounding visualiser."""
import math
from typing import Dict, Optional

import torch
from torch import nn

from albef_mm.registry import MODELS

# Default layer per mode: the 3rd fusion layer for ITM (BERT layer 8 of the
# 12-layer ALBEF), ViT block 8 for ITC (the original's --block_num 8).
DEFAULT_LAYER = dict(itm=2, itc=8)


def _grid(num_patches: int) -> int:
    side = int(round(math.sqrt(num_patches)))
    if side * side != num_patches:
        raise ValueError(f'Grad-CAM needs a square patch grid, got '
                         f'{num_patches} image patches')
    return side


@MODELS.register_module()
class GradCAMHead(nn.Module):
    """Grad-CAM heat maps over the image patch grid from captured attention
    probabilities and their gradient (no parameters).

    The model captures the attention (see ``ALBEFGrounding.gradcam``); this
    head only turns it into maps. With ``A`` the probabilities, ``G`` their
    gradient and the image [CLS] key column dropped:

    **ITM mode** (cross-attention of a fusion layer, ``A [B, heads, L,
    1 + P]``, gradient of the positive ITM logit), text padding masked::

        per_head_token = A * clamp(G, min=0) * mask      [B, heads, L, h, w]
        per_token      = mean over heads                 [B, L, h, w]
        gradcam        = mean over heads, then over all L text positions
                         (padding counts as zeros)       [B, h, w]

    ``per_token[:, i]`` is the map of the ``i``-th token (the per-word
    panels of the grounding visualiser), ``gradcam`` the expression's map
    that ranks detector proposals.

    **ITC mode** (self-attention of a ViT block, ``A [B, heads, 1 + P,
    1 + P]``, gradient of the matched image-text similarity): ``gradcam`` =
    mean over heads of ``A[:, :, 0, 1:] * clamp(G, 0)``, the [CLS] row over
    the patches. There are no per-token maps.

    Args:
        mode (str): ``'itm'`` (default) or ``'itc'``.
        layer (int, optional): Which attention the model captures: fusion
            layer index within the neck (ITM; default 2, the 3rd fusion
            layer) or ViT block index (ITC; default 8).
    """

    def __init__(self, mode: str = 'itm', layer: Optional[int] = None):
        super().__init__()
        if mode not in DEFAULT_LAYER:
            raise ValueError(f"GradCAMHead mode must be 'itm' or 'itc', got "
                             f'{mode!r}')
        self.mode = mode
        self.layer = DEFAULT_LAYER[mode] if layer is None else int(layer)

    def extra_repr(self) -> str:
        return f'mode={self.mode!r}, layer={self.layer}'

    def forward(self, attention: torch.Tensor, grad: torch.Tensor,
                text_mask: Optional[torch.Tensor] = None
                ) -> Dict[str, torch.Tensor]:
        """Maps from attention probabilities and their gradient.

        Args:
            attention, grad: ``[B, heads, Lq, 1 + P]`` (detached).
            text_mask: 0/1 text mask ``[B, L]`` (ITM mode only).
        Returns:
            dict: ``gradcam`` ``[B, h, w]``; ITM mode also ``per_token``
            ``[B, L, h, w]`` and ``per_head_token`` ``[B, heads, L, h, w]``.
        """
        b, heads = attention.shape[:2]
        side = _grid(attention.size(-1) - 1)
        if self.mode == 'itc':
            cam = attention[:, :, 0, 1:].reshape(b, heads, side, side)
            g = grad[:, :, 0, 1:].reshape(b, heads, side, side).clamp(0)
            return dict(gradcam=(cam * g).mean(1))
        if text_mask is None:
            raise ValueError('ITM-mode Grad-CAM needs the text mask')
        mask = text_mask.view(b, 1, -1, 1, 1).to(attention.dtype)
        cam = attention[..., 1:].reshape(b, heads, -1, side, side) * mask
        g = grad[..., 1:].clamp(min=0).reshape(b, heads, -1, side,
                                               side) * mask
        per_head_token = cam * g
        per_token = per_head_token.mean(1)
        return dict(per_head_token=per_head_token, per_token=per_token,
                    gradcam=per_token.mean(1))
