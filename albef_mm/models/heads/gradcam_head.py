"""Grad-CAM over ALBEF's attention maps: the heat maps of weakly supervised
visual grounding and of the grounding visualiser."""
import math
from typing import Dict, Optional

import torch
from torch import nn

from albef_mm.registry import MODELS
from ..layers.bert_layer import capture_attention

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
    """Grad-CAM heat maps over the image patch grid (no parameters).

    **ITM mode** (default): the image and the expression go through the ViT,
    the text encoder and the fusion neck while the cross-attention of fusion
    layer ``layer`` is captured; the positive ITM logit, summed over the
    batch, is differentiated with respect to those attention probabilities
    ``A [B, heads, L, 1 + P]``. With ``G`` the gradient, the image [CLS]
    column dropped and the text padding masked::

        per_head_token = A * clamp(G, min=0) * mask      [B, heads, L, h, w]
        per_token      = mean over heads                 [B, L, h, w]
        gradcam        = mean over heads, then over all L text positions
                         (padding counts as zeros)       [B, h, w]

    ``per_token[:, i]`` is the map of the ``i``-th token (the per-word
    panels of the grounding visualiser), ``gradcam`` the expression's map
    that ranks detector proposals.

    **ITC mode**: the self-attention of ViT block ``layer`` is captured and
    the sum over the batch of the image-text similarities
    ``image_feat . text_feat / temp`` (matched pairs) is differentiated;
    ``gradcam`` = mean over heads of ``A[:, :, 0, 1:] * clamp(G, 0)``, the
    [CLS] row over the patches. There are no per-token maps.

    The gradient is taken with ``torch.autograd.grad`` with respect to the
    attention probabilities only: gradients are enabled inside
    :meth:`forward` (also under an outer ``no_grad``, e.g. an evaluation
    loop), no parameter ``.grad`` is written, and the attention capture is
    scoped by :func:`capture_attention`.

    Config keys:
        mode (str): ``'itm'`` (default) or ``'itc'``.
        layer (int, optional): Fusion layer index within the neck (ITM;
            default 2, the 3rd fusion layer) or ViT block index (ITC;
            default 8).
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

    def attention_module(self, model: nn.Module) -> nn.Module:
        """The attention module of ``model`` this head captures."""
        if self.mode == 'itm':
            layers = model.neck.layer
            kind, where = 'fusion layers', 'neck'
        else:
            layers = model.vision_backbone.blocks
            kind, where = 'ViT blocks', 'vision_backbone'
        if not 0 <= self.layer < len(layers):
            raise IndexError(
                f'GradCAMHead(mode={self.mode!r}) layer {self.layer} does not '
                f'exist: the {where} has {len(layers)} {kind}; set '
                f'gradcam_head.layer to 0..{len(layers) - 1}')
        layer = layers[self.layer]
        return layer.crossattention.self if self.mode == 'itm' else layer.attn

    def forward(self, model: nn.Module, images: torch.Tensor,
                text_ids: torch.Tensor,
                text_mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Grad-CAM maps of ``model`` for (image b, text b) pairs.

        Args:
            model: An ALBEF model with ``vision_backbone``,
                ``text_backbone``, ``neck``, ``itm_head`` (ITM) or
                ``itc_head`` (ITC).
            images: Normalised images ``[B, 3, H, W]``.
            text_ids, text_mask: Tokens and 0/1 mask ``[B, L]``.
        Returns:
            dict: ``gradcam`` ``[B, h, w]``; ``attention_map`` and
            ``attention_grad`` (the captured probabilities and gradient);
            ITM mode also ``per_token`` ``[B, L, h, w]``,
            ``per_head_token`` ``[B, heads, L, h, w]`` and ``itm_logits``
            ``[B, 2]``; ITC mode also ``sim`` ``[B, B]``. All detached.
        """
        attn = self.attention_module(model)
        # Gradients flow from the image input so that the captured maps are
        # differentiable even when every parameter is frozen.
        images = images.detach().requires_grad_(True)
        with torch.enable_grad(), capture_attention(attn):
            if self.mode == 'itm':
                image_embeds = model.vision_backbone(images)
                text_embeds = model.text_backbone(text_ids, text_mask)
                fused = model.neck(text_embeds, text_mask, image_embeds)
                logits = model.itm_head(fused[:, 0])
                target = logits[:, 1].sum()
                extra = dict(itm_logits=logits.detach())
            else:
                image_embeds = model.vision_backbone(images)
                text_embeds = model.text_backbone(text_ids, text_mask)
                head = model.itc_head
                sim = (head.image_feat(image_embeds[:, 0])
                       @ head.text_feat(text_embeds[:, 0]).t()) / head.temp
                target = sim.diag().sum()
                extra = dict(sim=sim.detach())
            probs = attn.attention_map
            grad, = torch.autograd.grad(target, probs)
        probs = probs.detach()
        b, heads = probs.shape[:2]
        side = _grid(probs.size(-1) - 1)
        out = dict(attention_map=probs, attention_grad=grad, **extra)
        if self.mode == 'itm':
            mask = text_mask.view(b, 1, -1, 1, 1).to(probs.dtype)
            cam = probs[..., 1:].reshape(b, heads, -1, side, side) * mask
            g = grad[..., 1:].clamp(min=0).reshape(b, heads, -1, side,
                                                   side) * mask
            per_head_token = cam * g
            out.update(per_head_token=per_head_token,
                       per_token=per_head_token.mean(1),
                       gradcam=per_head_token.mean(1).mean(1))
        else:
            cam = probs[:, :, 0, 1:].reshape(b, heads, side, side)
            g = grad[:, :, 0, 1:].reshape(b, heads, side, side).clamp(0)
            out['gradcam'] = (cam * g).mean(1)
        return out
