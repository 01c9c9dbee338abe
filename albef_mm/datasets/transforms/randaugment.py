"""ALBEF's ``RandomAugment`` on uint8 HWC numpy images (cv2 based).

The op functions follow the arithmetic of ALBEF's ``dataset/randaugment.py``
so that, given the same NumPy random draws, the output is pixel-identical
(OpenCV 4.x: 4.5.5 to 4.14 give identical pixels; OpenCV 5.0's
``warpAffine`` changes Rotate and Shear outputs by up to 6 grey levels,
hence the 4.14 pin). Colour-changing ops (Color, Contrast, Solarize,
Posterize) are not provided: ALBEF removes them because captions mention
colours.
"""
from typing import Callable, Dict, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from albef_mm.registry import TRANSFORMS

GREY = (128, 128, 128)
MAX_LEVEL = 10
TRANSLATE_CONST = 10  # pixels at level MAX_LEVEL

ALL_OPS = ('Identity', 'AutoContrast', 'Equalize', 'Brightness', 'Sharpness',
           'ShearX', 'ShearY', 'TranslateX', 'TranslateY', 'Rotate')


# ----------------------------------------------------------------- the ops --
def identity(img: np.ndarray) -> np.ndarray:
    """Return the image unchanged."""
    return img


def auto_contrast(img: np.ndarray, legacy: bool = True) -> np.ndarray:
    """Stretch each channel's [min, max] linearly to [0, 255] (no cutoff).

    Args:
        img (np.ndarray): uint8 HWC image.
        legacy (bool): Reproduce the original's uint8 overflow: ALBEF computes
            the offset as ``-low * scale`` with ``low`` a ``np.uint8``, so
            ``-low`` wraps to ``256 - low``; every channel whose minimum is
            above 0 then becomes 255 everywhere. ``False`` gives the intended
            stretch. Defaults to True (faithful).
    """
    out = np.empty_like(img)
    for c in range(img.shape[2]):
        ch = img[..., c]
        low, high = int(ch.min()), int(ch.max())
        if high <= low:
            out[..., c] = ch
            continue
        scale = 255.0 / (high - low)
        neg_low = (256 - low) % 256 if legacy else -low
        table = np.arange(256) * scale + neg_low * scale
        table = table.clip(0, 255).astype(np.uint8)
        out[..., c] = table[ch]
    return out


def equalize(img: np.ndarray) -> np.ndarray:
    """Per-channel histogram equalisation with PIL's ``ImageOps.equalize``
    look-up table (not ``cv2.equalizeHist``)."""
    out = np.empty_like(img)
    for c in range(img.shape[2]):
        ch = img[..., c]
        hist = np.bincount(ch.ravel(), minlength=256)
        nonzero = hist[hist != 0]
        step = int(nonzero[:-1].sum()) // 255
        if step == 0:
            out[..., c] = ch
            continue
        shifted = np.concatenate([[step // 2], hist[:-1]])
        table = (np.cumsum(shifted) // step).clip(0, 255).astype(np.uint8)
        out[..., c] = table[ch]
    return out


def brightness(img: np.ndarray, factor: float) -> np.ndarray:
    """Multiply every value by ``factor`` (float32), clip, truncate."""
    table = (np.arange(256, dtype=np.float32) * np.float32(factor))
    table = table.clip(0, 255).astype(np.uint8)
    return table[img]


def sharpness(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend the interior pixels with a 3x3 smoothed copy (kernel: centre 5,
    others 1, divided by 13): ``smooth + factor * (img - smooth)``.

    Border pixels are left unchanged. As in the original, the float result is
    converted to uint8 without clipping, i.e. truncated towards zero and
    wrapped modulo 256 (what NumPy's cast does on x86); this is made explicit
    here so it does not depend on the platform.
    """
    kernel = np.ones((3, 3), dtype=np.float32)
    kernel[1, 1] = 5
    kernel /= 13
    smooth = cv2.filter2D(img, -1, kernel)
    if factor == 0.0:
        return smooth
    if factor == 1.0:
        return img
    out = img.astype(np.float32)
    inner = smooth.astype(np.float32)[1:-1, 1:-1]
    out[1:-1, 1:-1] = inner + np.float32(factor) * (out[1:-1, 1:-1] - inner)
    return out.astype(np.int32).astype(np.uint8)


def _warp(img: np.ndarray, matrix: np.ndarray,
          fill: Tuple[int, int, int]) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.warpAffine(
        img, matrix, (w, h), borderValue=fill, flags=cv2.INTER_LINEAR)


def shear_x(img: np.ndarray, factor: float,
            fill: Tuple[int, int, int] = GREY) -> np.ndarray:
    """Affine shear about the origin: ``x' = x + factor * y``."""
    return _warp(img, np.float32([[1, factor, 0], [0, 1, 0]]), fill)


def shear_y(img: np.ndarray, factor: float,
            fill: Tuple[int, int, int] = GREY) -> np.ndarray:
    """Affine shear about the origin: ``y' = y + factor * x``."""
    return _warp(img, np.float32([[1, 0, 0], [factor, 1, 0]]), fill)


def translate_x(img: np.ndarray, offset: float,
                fill: Tuple[int, int, int] = GREY) -> np.ndarray:
    """Move the content ``offset`` pixels to the left (right if negative)."""
    return _warp(img, np.float32([[1, 0, -offset], [0, 1, 0]]), fill)


def translate_y(img: np.ndarray, offset: float,
                fill: Tuple[int, int, int] = GREY) -> np.ndarray:
    """Move the content ``offset`` pixels up (down if negative)."""
    return _warp(img, np.float32([[1, 0, 0], [0, 1, -offset]]), fill)


def rotate(img: np.ndarray, degree: float,
           fill: Tuple[int, int, int] = GREY) -> np.ndarray:
    """Rotate by ``degree`` (counter-clockwise) about ``(W / 2, H / 2)``."""
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degree, 1)
    return _warp(img, matrix, fill)


# ------------------------------------------------------ level -> arguments --
def _random_sign(value: float, negative_if_above: bool = True) -> float:
    # ALBEF negates shear/translate when random() > 0.5, rotate when < 0.5.
    draw = np.random.random()
    negate = draw > 0.5 if negative_if_above else draw < 0.5
    return -value if negate else value


def _enhance_args(level: float) -> tuple:
    return ((level / MAX_LEVEL) * 1.8 + 0.1, )


def _shear_args(level: float) -> tuple:
    return (_random_sign((level / MAX_LEVEL) * 0.3), GREY)


def _translate_args(level: float) -> tuple:
    return (_random_sign((level / MAX_LEVEL) * float(TRANSLATE_CONST)), GREY)


def _rotate_args(level: float) -> tuple:
    return (_random_sign((level / MAX_LEVEL) * 30, False), GREY)


def _no_args(level: float) -> tuple:
    return ()


OP_FUNCS: Dict[str, Callable] = {
    'Identity': identity, 'AutoContrast': auto_contrast,
    'Equalize': equalize, 'Brightness': brightness, 'Sharpness': sharpness,
    'ShearX': shear_x, 'ShearY': shear_y, 'TranslateX': translate_x,
    'TranslateY': translate_y, 'Rotate': rotate,
}
OP_ARGS: Dict[str, Callable] = {
    'Identity': _no_args, 'AutoContrast': _no_args, 'Equalize': _no_args,
    'Brightness': _enhance_args, 'Sharpness': _enhance_args,
    'ShearX': _shear_args, 'ShearY': _shear_args,
    'TranslateX': _translate_args, 'TranslateY': _translate_args,
    'Rotate': _rotate_args,
}


@TRANSFORMS.register_module()
class RandomAugment(BaseTransform):
    """ALBEF's RandAugment variant (``dataset/randaugment.py``).

    ``N`` ops are drawn uniformly **with replacement** from ``augs``
    (``np.random.choice``); each is applied with probability ``prob`` at the
    fixed level ``M`` of 10. At M=7: Brightness/Sharpness factor 1.36,
    shear +-0.21, translate +-7 px, rotate +-21 deg (random sign), geometry
    filled with grey 128. All randomness comes from NumPy's global generator
    in the original order (op choice; then per op: apply draw, sign draw), so
    seeding ``np.random`` reproduces the original's choices.

    Required keys: ``img`` (uint8 HWC RGB ndarray, or a list of them for
    NLVR2 -- each image gets its own draws).

    Modified keys: ``img``.

    Args:
        N (int): Number of ops sampled per image. Defaults to 2.
        M (int): Magnitude level in [0, 10]. Defaults to 7.
        augs (Sequence[str]): Op names, a subset of ``ALL_OPS``.
            Defaults to all ten ALBEF ops.
        prob (float): Probability of applying each sampled op.
            Defaults to 0.5.
        legacy_autocontrast (bool): Reproduce the original AutoContrast's
            uint8 overflow (a channel whose minimum is above 0 turns 255).
            Defaults to True; set False for the intended per-channel stretch.
    """

    def __init__(self,
                 N: int = 2,
                 M: int = 7,
                 augs: Sequence[str] = ALL_OPS,
                 prob: float = 0.5,
                 legacy_autocontrast: bool = True) -> None:
        unknown = [a for a in augs if a not in OP_FUNCS]
        if unknown:
            raise ValueError(f'RandomAugment: unknown ops {unknown}; '
                             f'available: {list(OP_FUNCS)}')
        if not augs:
            raise ValueError('RandomAugment: augs must not be empty')
        self.N = N
        self.M = M
        self.augs = list(augs)
        self.prob = prob
        self.legacy_autocontrast = legacy_autocontrast

    def augment(self, img: np.ndarray) -> np.ndarray:
        """Apply the random ops to one uint8 HWC image."""
        if img.dtype != np.uint8 or img.ndim != 3:
            raise TypeError('RandomAugment expects a uint8 HWC image, got '
                            f'dtype {img.dtype} with shape {img.shape}')
        ops = np.random.choice(self.augs, self.N)
        for name in ops:
            if np.random.random() > self.prob:
                continue
            args = OP_ARGS[name](self.M)
            if name == 'AutoContrast':
                img = auto_contrast(img, legacy=self.legacy_autocontrast)
            else:
                img = OP_FUNCS[name](img, *args)
        return img

    def transform(self, results: dict) -> dict:
        """Augment ``results['img']`` (one image or a list)."""
        img = results['img']
        if isinstance(img, (list, tuple)):
            results['img'] = [self.augment(i) for i in img]
        else:
            results['img'] = self.augment(img)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(N={self.N}, M={self.M}, '
                f'augs={self.augs}, prob={self.prob}, '
                f'legacy_autocontrast={self.legacy_autocontrast})')
