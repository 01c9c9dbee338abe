"""Zero-shot classification of image files or arrays."""
from typing import List, Optional, Sequence, Union

import torch
from mmengine.config import Config

from .feature_extractor import FeatureExtractor, ImageInput


class ZeroShotClassificationInferencer(FeatureExtractor):
    """Classify images among class names given at call time or in the
    config, with :class:`ALBEFZeroShotClassifier` (ITC scores, optional
    ITM re-ranking as configured).

    Example:
        >>> inf = ZeroShotClassificationInferencer(
        ...     'configs/albef/zeroshot_shapes_tiny.py', 'pretrain.pth')
        >>> inf('a.jpg', classnames=['circle', 'square'])[0]['pred_class']

    Args:
        config (str | Config): A zero-shot config.
        checkpoint (str, optional): Pre-trained checkpoint (albef_mm or
            original format).
        device (str): ``'cpu'`` or ``'cuda'``.
        batch_size (int): Images per forward pass.
        cfg_options (dict, optional): Config overrides.
    """

    def __init__(self, config: Union[str, Config],
                 checkpoint: Optional[str] = None, device: str = 'cpu',
                 batch_size: int = 32, cfg_options: Optional[dict] = None):
        super().__init__(config, checkpoint, device, batch_size, cfg_options)
        if not hasattr(self.model, 'classify'):
            raise TypeError(f'{type(self.model).__name__} is not a zero-shot '
                            'classifier; use a configs/albef/zeroshot_*.py '
                            'config')

    @torch.no_grad()
    def __call__(self, images: Union[ImageInput, Sequence[ImageInput]],
                 classnames: Optional[Sequence[str]] = None,
                 templates: Optional[Sequence[str]] = None,
                 topk: int = 5) -> List[dict]:
        """Per image: ``pred_label``, ``pred_class``, ``pred_score`` and
        ``topk`` (list of ``(class name, score)`` pairs, best first).
        ``classnames`` / ``templates`` replace the model's for this and
        later calls."""
        if classnames is not None or templates is not None:
            self.model.set_classes(
                classnames if classnames is not None
                else self.model.classnames, templates)
        images = self._as_list(images)
        names = self.model.classnames or []
        results = []
        for s in range(0, len(images), self.batch_size):
            scores = self.model.classify(
                self._images(images[s:s + self.batch_size])).cpu()
            k = min(topk, scores.size(1))
            values, idx = scores.topk(k, dim=1)
            for row, (v, i) in enumerate(zip(values, idx)):
                results.append(dict(
                    pred_label=int(i[0]), pred_class=names[int(i[0])],
                    pred_score=scores[row],
                    topk=[(names[int(c)], float(p)) for c, p in zip(i, v)]))
        return results
