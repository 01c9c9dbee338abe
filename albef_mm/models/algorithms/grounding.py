"""Weakly supervised visual grounding (original ``Grounding.py``): retrieval
fine-tuning on (expression, image) pairs, Grad-CAM heat maps at test time."""
from typing import Dict, List, Optional

import torch

from albef_mm.registry import MODELS
from albef_mm.structures import DataSample
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
        vision_backbone, text_backbone, neck (dict): Encoder configs.
        itc_head (dict): ``ITCHead`` config.
        itm_head (dict): ``ITMHead`` config.
        gradcam_head (dict): ``GradCAMHead`` config; default ITM mode on
            the 3rd fusion layer (``layer=2``).
        with_token_maps (bool): ``predict`` also stores the per-token maps.
        momentum (float): EMA coefficient (0.995).
        alpha (float): Distillation weight after warm-up (0.4).
        pretrained_text (str, optional): HF BERT weights.
        data_preprocessor (dict, optional): Preprocessor config.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self, vision_backbone: dict, text_backbone: dict, neck: dict,
                 itc_head: dict, itm_head: dict,
                 gradcam_head: Optional[dict] = None,
                 with_token_maps: bool = False, momentum: float = 0.995,
                 alpha: float = 0.4, pretrained_text: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(vision_backbone, text_backbone, neck, itc_head,
                         itm_head, momentum, alpha, pretrained_text,
                         data_preprocessor, init_cfg)
        self.gradcam_head = MODELS.build(
            gradcam_head or dict(type='GradCAMHead'))
        self.with_token_maps = with_token_maps
        # fail at build time, not after the first training epoch
        self.gradcam_head.attention_module(self)

    def gradcam(self, images: torch.Tensor, text_ids: torch.Tensor,
                text_mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Grad-CAM of (image b, expression b) pairs.

        Args:
            images: Normalised images ``[B, 3, H, W]``.
            text_ids, text_mask: Expression tokens and mask ``[B, L]``.
        Returns:
            dict: ``gradcam`` ``[B, h, w]`` (the expression's map; h x w is
            the patch grid), in ITM mode also ``per_token``
            ``[B, L, h, w]`` and ``itm_logits``; see :class:`GradCAMHead`.
        """
        return self.gradcam_head(self, images, text_ids, text_mask)

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
