"""Visual grounding of referring expressions with Grad-CAM."""
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.config import Config

from albef_mm.datasets.transforms.loading import load_rgb_image
from albef_mm.datasets.transforms.text import clean_text
from albef_mm.evaluation.metrics.grounding import ground_expression
from .feature_extractor import FeatureExtractor, ImageInput


class VisualGroundingInferencer(FeatureExtractor):
    """Where does the model see an expression? Grad-CAM heat maps of an
    ``ALBEFGrounding`` model per (image, expression), per-word maps, and
    the proposal box the grounding evaluation would select.

    Example:
        >>> inf = VisualGroundingInferencer(
        ...     'configs/albef/grounding_shapes_tiny.py', 'grounding.pth')
        >>> r = inf('a.jpg', 'the red circle', proposals=[[0, 0, 20, 20]])
        >>> r[0]['heatmap'].shape, r[0]['words'], r[0]['box']

    Args:
        config (str | Config): A grounding config (model with a Grad-CAM
            head).
        checkpoint (str, optional): albef_mm or original ALBEF checkpoint.
        device (str): ``'cpu'`` or ``'cuda'``.
        batch_size (int): Pairs per forward/backward pass.
        cfg_options (dict, optional): Config overrides (e.g.
            ``{'model.gradcam_head.layer': 1}``).
    """

    def __init__(self, config: Union[str, Config],
                 checkpoint: Optional[str] = None, device: str = 'cpu',
                 batch_size: int = 16, cfg_options: Optional[dict] = None):
        super().__init__(config, checkpoint, device, batch_size, cfg_options)
        if not callable(getattr(self.model, 'gradcam', None)):
            raise TypeError(f'{type(self.model).__name__} has no Grad-CAM '
                            'head; use a grounding config '
                            '(configs/albef/grounding_*.py)')

    @staticmethod
    def _per_image(proposals) -> bool:
        """True for a list of box lists (one per image), False for one list
        of ``[x, y, w, h, ...]`` boxes."""
        return len(proposals) > 0 and all(
            isinstance(p, (list, tuple)) and (
                not len(p) or isinstance(p[0], (list, tuple, np.ndarray)))
            for p in proposals)

    def __call__(self, images: Union[ImageInput, Sequence[ImageInput]],
                 expressions: Union[str, Sequence[str]],
                 proposals: Optional[Sequence] = None) -> List[dict]:
        """Ground each expression in its image (one expression for all
        images when a single string is given).

        Args:
            images: File path(s) or RGB uint8 ``HxWx3`` array(s).
            expressions: One expression, or one per image.
            proposals: Optional ``[x, y, w, h]`` boxes in original image
                pixels: one list for all images, or one list per image.
        Returns:
            Per pair: ``image`` (uint8 RGB), ``text`` (cleaned),
            ``heatmap`` ``[h, w]`` (patch grid), ``token_maps``
            ``[n, h, w]`` and ``words`` (tokens after [CLS]; ITM mode,
            else None / []), ``box`` (selected proposal, or None).
        """
        images = [load_rgb_image(i, n) if isinstance(i, str) else i
                  for n, i in enumerate(self._as_list(images))]
        texts = [expressions] * len(images) if isinstance(expressions, str) \
            else list(expressions)
        if len(texts) != len(images):
            raise ValueError(f'{len(texts)} expressions for {len(images)} '
                             'images: give one per image or a single one')
        if proposals is not None and not self._per_image(proposals):
            proposals = [proposals] * len(images)
        if proposals is not None and len(proposals) != len(images):
            raise ValueError(f'{len(proposals)} proposal lists for '
                             f'{len(images)} images')
        pre = self.model.data_preprocessor
        results = []
        for s in range(0, len(images), self.batch_size):
            chunk = images[s:s + self.batch_size]
            cleaned = [clean_text(t, f'expression {s + n}', what='expression')
                       for n, t in enumerate(texts[s:s + len(chunk)])]
            tok = pre.tokenize(cleaned, truncation=False, padding='longest')
            out = self.model.gradcam(self._images(chunk), tok['text_ids'],
                                     tok['text_mask'])
            for j, img in enumerate(chunk):
                n = int(tok['text_mask'][j].sum())
                r = dict(image=img, text=cleaned[j],
                         heatmap=out['gradcam'][j].cpu(), token_maps=None,
                         words=[], box=None)
                if 'per_token' in out:
                    r['token_maps'] = out['per_token'][j, 1:n].cpu()
                    r['words'] = pre.tokenizer.convert_ids_to_tokens(
                        tok['text_ids'][j, 1:n].tolist())
                if proposals is not None:
                    boxes = [list(map(float, b[:4]))
                             for b in proposals[s + j]]
                    r['box'] = ground_expression(r['heatmap'], boxes,
                                                 img.shape[:2])
                results.append(r)
        return results
