"""Crop, resize and flip with torchvision's sampling on PIL images.

ALBEF applies ``torchvision.transforms`` to PIL images; these transforms do
the same on uint8 HWC RGB arrays (converted to PIL and back, losslessly), so
resampling is PIL bicubic and random draws come from torch's global
generator exactly as in torchvision.
"""
from typing import Sequence, Tuple, Union

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from mmcv.transforms import BaseTransform
from PIL import Image

from albef_mm.registry import TRANSFORMS

_BICUBIC = T.InterpolationMode.BICUBIC


def _to_pair(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    if len(size) != 2:
        raise ValueError(f'size must be an int or (h, w), got {size}')
    return (int(size[0]), int(size[1]))


def _apply(results: dict, fn) -> None:
    img = results['img']
    if isinstance(img, (list, tuple)):
        results['img'] = [fn(i) for i in img]
        results['img_shape'] = [i.shape[:2] for i in results['img']]
    else:
        results['img'] = fn(img)
        results['img_shape'] = results['img'].shape[:2]


@TRANSFORMS.register_module()
class ALBEFRandomResizedCrop(BaseTransform):
    """``torchvision.transforms.RandomResizedCrop`` with PIL bicubic.

    The crop is sampled by ``RandomResizedCrop.get_params`` (area fraction in
    ``scale``, log-uniform aspect ratio in ``ratio``, 10 tries then a centre
    crop fallback) and resized to ``size`` with PIL's bicubic filter.
    Each image of a list (NLVR2) gets its own crop.

    Required keys: ``img`` (uint8 HWC ndarray or list).
    Modified keys: ``img``, ``img_shape``.

    Args:
        size (int | Sequence[int]): Output size, square if an int.
        scale (Sequence[float]): Area range. Defaults to (0.08, 1.0)
            (torchvision's); ALBEF uses (0.2, 1.0) for pre-training and
            (0.5, 1.0) for fine-tuning.
        ratio (Sequence[float]): Aspect range. Defaults to (3/4, 4/3).
    """

    def __init__(self,
                 size: Union[int, Sequence[int]],
                 scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3. / 4., 4. / 3.)) -> None:
        self.size = _to_pair(size)
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)

    def _crop(self, img: np.ndarray) -> np.ndarray:
        pil = Image.fromarray(img)
        top, left, h, w = T.RandomResizedCrop.get_params(
            pil, list(self.scale), list(self.ratio))
        out = TF.resized_crop(pil, top, left, h, w, list(self.size),
                              interpolation=_BICUBIC)
        return np.asarray(out).copy()

    def transform(self, results: dict) -> dict:
        """Randomly crop and resize ``results['img']``."""
        _apply(results, self._crop)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'scale={self.scale}, ratio={self.ratio})')


@TRANSFORMS.register_module()
class ALBEFResize(BaseTransform):
    """``torchvision.transforms.Resize((h, w))`` with PIL bicubic.

    The aspect ratio is not kept (ALBEF's test transform and grounding train
    transform).

    Required keys: ``img`` (uint8 HWC ndarray or list).
    Modified keys: ``img``, ``img_shape``.
    Added keys: ``scale_factor`` ((w_scale, h_scale), or a list of them).

    Args:
        size (int | Sequence[int]): Output size (h, w), square if an int.
    """

    def __init__(self, size: Union[int, Sequence[int]]) -> None:
        self.size = _to_pair(size)

    def _resize(self, img: np.ndarray) -> np.ndarray:
        out = TF.resize(Image.fromarray(img), list(self.size),
                        interpolation=_BICUBIC)
        return np.asarray(out).copy()

    def transform(self, results: dict) -> dict:
        """Resize ``results['img']`` to ``size``."""
        img = results['img']
        imgs = img if isinstance(img, (list, tuple)) else [img]
        factors = [(self.size[1] / i.shape[1], self.size[0] / i.shape[0])
                   for i in imgs]
        _apply(results, self._resize)
        results['scale_factor'] = (
            factors if isinstance(img, (list, tuple)) else factors[0])
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(size={self.size})'


@TRANSFORMS.register_module()
class ALBEFRandomFlip(BaseTransform):
    """``torchvision.transforms.RandomHorizontalFlip``: flip left-right when
    ``torch.rand(1) < prob``. Each image of a list gets its own draw.

    Captions that say "left"/"right" are not changed, as in ALBEF.

    Required keys: ``img`` (uint8 HWC ndarray or list).
    Modified keys: ``img``.
    Added keys: ``flip`` (bool, or list[bool]).

    Args:
        prob (float): Flip probability. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5) -> None:
        self.prob = prob

    def transform(self, results: dict) -> dict:
        """Maybe flip ``results['img']`` horizontally."""
        img = results['img']
        imgs = img if isinstance(img, (list, tuple)) else [img]
        out, flips = [], []
        for i in imgs:
            flip = bool(torch.rand(1) < self.prob)
            out.append(np.ascontiguousarray(i[:, ::-1]) if flip else i)
            flips.append(flip)
        if isinstance(img, (list, tuple)):
            results['img'], results['flip'] = out, flips
        else:
            results['img'], results['flip'] = out[0], flips[0]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'
