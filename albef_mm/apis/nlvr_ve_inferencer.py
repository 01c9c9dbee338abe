"""SNLI-VE and NLVR2 predictions for image files or arrays."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.config import Config

from albef_mm.datasets.transforms.text import clean_text
from .feature_extractor import FeatureExtractor, ImageInput, _image_pipeline
from .model import init_model


class VEInferencer(FeatureExtractor):
    """Visual entailment: does the image entail a hypothesis?

    Each (image, hypothesis) pair gets ``pred_label`` (0 contradiction,
    1 neutral, 2 entailment), ``pred_class`` and ``pred_score`` (softmax
    over the three classes), computed by the model's ``classify`` on the
    config's test transform and the cleaned text (as the dataset does).

    Example:
        >>> inf = VEInferencer('configs/albef/snli_ve_shapes_tiny.py',
        ...                    'best.pth')
        >>> inf('shapes_000000.jpg', 'There are three shapes.')[0]

    Args:
        config (str | Config): An SNLI-VE config.
        checkpoint (str, optional): VE checkpoint (albef_mm or original).
        device (str): ``'cpu'`` or ``'cuda'``.
        batch_size (int): Pairs per forward pass.
        cfg_options (dict, optional): Config overrides.
    """

    model_type = 'ALBEFVE'
    classes = ('contradiction', 'neutral', 'entailment')

    def __init__(self, config: Union[str, Config],
                 checkpoint: Optional[str] = None, device: str = 'cpu',
                 batch_size: int = 32, cfg_options: Optional[dict] = None):
        self.model = init_model(config, checkpoint, device, cfg_options)
        if type(self.model).__name__ != self.model_type:
            raise TypeError(f'{type(self).__name__} needs a {self.model_type}'
                            f' config, got {type(self.model).__name__}')
        self.pipeline = _image_pipeline(self.model.cfg, self.model)
        self.batch_size = batch_size

    def _inputs(self, images) -> list:
        return self._as_list(images)

    def _pairs(self, images, texts) -> Tuple[list, List[str]]:
        images = self._inputs(images)
        texts = [texts] if isinstance(texts, str) else list(texts)
        if len(images) != len(texts):
            raise ValueError(f'{type(self).__name__} pairs input i with text '
                             f'i: got {len(images)} inputs and {len(texts)} '
                             'texts')
        return images, [clean_text(t, f'text {n}') for n, t in
                        enumerate(texts)]

    def _batch_images(self, images) -> torch.Tensor:
        return self._images(images)

    @torch.no_grad()
    def __call__(self, images, texts: Union[str, Sequence[str]]
                 ) -> List[dict]:
        """Predictions for ``(images[i], texts[i])``."""
        images, texts = self._pairs(images, texts)
        results = []
        for s in range(0, len(texts), self.batch_size):
            tok = self.model.data_preprocessor.tokenize(
                texts[s:s + self.batch_size])
            logits = self.model.classify(
                self._batch_images(images[s:s + self.batch_size]),
                tok['text_ids'], tok['text_mask']).float().cpu()
            for row in F.softmax(logits, dim=-1):
                label = int(row.argmax())
                results.append(dict(pred_label=label,
                                    pred_class=self.classes[label],
                                    pred_score=row))
        return results


class NLVRInferencer(VEInferencer):
    """NLVR2: is a sentence true of an image pair?

    Inputs are ``(image0, image1)`` pairs (file paths or RGB arrays) and
    sentences; each gets ``pred_label`` (1 = true), ``pred_class``
    (``'True'``/``'False'``) and ``pred_score`` (softmax over
    False/True).

    Example:
        >>> inf = NLVRInferencer('configs/albef/nlvr2_shapes_tiny.py',
        ...                      'best.pth')
        >>> inf([('a.jpg', 'b.jpg')], 'There are more shapes in the left '
        ...     'image.')[0]['pred_class']

    Args:
        config (str | Config): An NLVR2 config.
        checkpoint (str, optional): NLVR2 checkpoint (albef_mm or original).
        device (str): ``'cpu'`` or ``'cuda'``.
        batch_size (int): Pairs per forward pass.
        cfg_options (dict, optional): Config overrides.
    """

    model_type = 'ALBEFNLVR'
    classes = ('False', 'True')

    def _inputs(self, images) -> list:
        # one bare (image0, image1) pair, or a list of pairs
        if isinstance(images, tuple) and len(images) == 2 and \
                not isinstance(images[0], (tuple, list)):
            return [images]
        return list(images)

    def _batch_images(self, pairs: Sequence[Tuple[ImageInput, ImageInput]]
                      ) -> torch.Tensor:
        for i, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f'input {i}: expected an (image0, image1) '
                                 f'pair, got {type(pair).__name__}')
        first = self._images([p[0] for p in pairs])
        second = self._images([p[1] for p in pairs])
        return torch.stack([first, second], dim=1)
