"""Weakly supervised visual grounding (original ``Grounding.py``): retrieval
fine-tuning on (expression, image) pairs, Grad-CAM heat maps at test time."""
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from albef_mm.registry import MODELS
from albef_mm.structures import DataSample
from ..layers import AttentionCapture
from .retrieval import ALBEFRetrieval


@MODELS.register_module()
class ALBEFGrounding(ALBEFRetrieval):
    """ALBEF for weakly supervised referring-expression grounding.

    Training is exactly retrieval fine-tuning (ITC with image-index-aware
    targets + ITM): every expression of the same image file is a positive
    of the others (``image_idx`` from :class:`RefCOCODataset`). No box is
    used. At test time :meth:`gradcam` gives a heat map over the image patch
    grid per (image, expression); the metric ranks detector proposals with
    it. The Grad-CAM head has no weights: checkpoints are those of
    :class:`ALBEFRetrieval` (pre-training, retrieval and grounding files all
    load).

    ``predict`` (used by the grounding val/test loops) fills
    ``pred_heatmap`` ``[h, w]`` (and ``pred_token_heatmaps`` ``[L, h, w]``
    with ``with_token_maps=True``) in each data sample; gradients are
    enabled inside the Grad-CAM computation only, so it runs under the
    loops' ``no_grad``.

    Args:
        gradcam_head (dict): ``GradCAMHead`` config; default ITM mode on
            the 3rd fusion layer (``layer=2``).
        with_token_maps (bool): ``predict`` also stores the per-token maps.
        **kwargs: The keywords of :class:`ALBEFRetrieval` (``itc_head``,
            ``itm_head``) and the shared ones of :class:`ALBEFBase`.
    """

    def __init__(self, gradcam_head: Optional[dict] = None,
                 with_token_maps: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.gradcam_head = MODELS.build(
            gradcam_head or dict(type='GradCAMHead'))
        self.with_token_maps = with_token_maps
        # fail at build time, not after the first training epoch
        self.gradcam_attention()

    def gradcam_attention(self) -> nn.Module:
        """The attention module Grad-CAM captures: the cross-attention of
        fusion layer ``gradcam_head.layer`` (ITM mode) or the
        self-attention of that ViT block (ITC mode)."""
        mode, index = self.gradcam_head.mode, self.gradcam_head.layer
        if mode == 'itm':
            layers, kind, where = self.neck.layer, 'fusion layers', 'neck'
        else:
            layers = self.vision_backbone.blocks
            kind, where = 'ViT blocks', 'vision_backbone'
        if not 0 <= index < len(layers):
            raise IndexError(
                f'GradCAMHead(mode={mode!r}) layer {index} does not exist: '
                f'the {where} has {len(layers)} {kind}; set '
                f'gradcam_head.layer to 0..{len(layers) - 1}')
        layer = layers[index]
        return layer.crossattention.self if mode == 'itm' else layer.attn

    def gradcam(self, images: torch.Tensor, text_ids: torch.Tensor,
                text_mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Grad-CAM of (image b, expression b) pairs.

        Runs the forward pass with :meth:`gradcam_attention` captured,
        differentiates the summed score of the pairs (positive ITM logit,
        or ITC similarity) with respect to the attention probabilities only
        (``torch.autograd.grad``: no parameter ``.grad`` is written, also
        under an outer ``no_grad``), and lets the Grad-CAM head make the
        maps.

        Args:
            images: Normalised images ``[B, 3, H, W]``.
            text_ids, text_mask: Expression tokens and mask ``[B, L]``.
        Returns:
            dict: ``gradcam`` ``[B, h, w]`` (the expression's map; h x w is
            the patch grid), ``attention_map`` and ``attention_grad`` (the
            captured probabilities and gradient); ITM mode also
            ``per_token`` ``[B, L, h, w]``, ``per_head_token`` and
            ``itm_logits`` ``[B, 2]``, ITC mode ``sim`` ``[B, B]``; see
            :class:`GradCAMHead`. All detached.
        """
        # Gradients flow from the image input so that the captured maps are
        # differentiable even when every parameter is frozen.
        images = images.detach().requires_grad_(True)
        with torch.enable_grad(), \
                AttentionCapture(self.gradcam_attention()) as capture:
            score, out = self._gradcam_score(images, text_ids, text_mask)
            grad, = torch.autograd.grad(score, capture.attention_map)
        probs = capture.attention_map.detach()
        out.update(attention_map=probs, attention_grad=grad,
                   **self.gradcam_head(probs, grad, text_mask))
        return out

    def _gradcam_score(self, images: torch.Tensor, text_ids: torch.Tensor,
                       text_mask: torch.Tensor
                       ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """The summed score Grad-CAM differentiates, and its per-pair
        values (detached): ITM logits, or the ITC similarity matrix."""
        image = self.vision_backbone(images)
        text = self.text_backbone(text_ids, text_mask)
        if self.gradcam_head.mode == 'itm':
            logits = self.itm_logits(image, text, text_mask)
            return logits[:, 1].sum(), dict(itm_logits=logits.detach())
        head = self.itc_head
        sim = (head.image_feat(image[:, 0])
               @ head.text_feat(text[:, 0]).t()) / head.temp
        return sim.diag().sum(), dict(sim=sim.detach())

    def predict(self, images: torch.Tensor, text_ids: torch.Tensor,
                text_mask: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """Heat maps as ``pred_heatmap`` (cpu float ``[h, w]``)."""
        out = self.gradcam(images, text_ids, text_mask)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(images.size(0))]
        for i, sample in enumerate(data_samples):
            sample.pred_heatmap = out['gradcam'][i].float().cpu()
            if self.with_token_maps and 'per_token' in out:
                n = int(text_mask[i].sum())
                sample.pred_token_heatmaps = \
                    out['per_token'][i, :n].float().cpu()
        return data_samples
