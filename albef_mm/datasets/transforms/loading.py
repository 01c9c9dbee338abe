"""Image loading: PIL, converted to RGB, as a uint8 HWC array.

Two safety rules that ALBEF (which lifts PIL's pixel limit and sets
``LOAD_TRUNCATED_IMAGES`` for the whole process) does not follow:

* a pixel limit (:data:`DEFAULT_MAX_PIXELS`, configurable per call and per
  transform) is checked on the header, before anything is decoded, so a
  small file that claims a huge size (a "decompression bomb") costs
  nothing; the error names the file and the limit;
* no PIL setting of the process is changed by an ordinary read: PIL's own
  ``Image.MAX_IMAGE_PIXELS`` is never touched, and ``LOAD_TRUNCATED_IMAGES``
  (needed to read a truncated file as ALBEF does) is switched on only to
  re-read a file that failed as truncated, under a lock that restores it
  when the last such read ends (a plain save / restore is not thread-safe).
"""
import os.path as osp
import threading
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image, ImageFile

from albef_mm.registry import TRANSFORMS

#: Largest ``width * height`` read by default: 8192 x 8192 (about 200 MB
#: decoded). COCO, Visual Genome, Flickr30K and web caption images are far
#: smaller; raise it with ``max_pixels`` for genuinely larger images.
DEFAULT_MAX_PIXELS = 8192 * 8192

_truncated_lock = threading.Lock()
_truncated_users = 0


class _TruncatedImagesAllowed:
    """Turns ``ImageFile.LOAD_TRUNCATED_IMAGES`` on while at least one
    thread re-reads a truncated file; the value found by the first thread
    in is restored by the last one out (a reference count under a lock, so
    overlapping reads cannot leave it switched on)."""

    saved = None

    def __enter__(self):
        global _truncated_users
        with _truncated_lock:
            if _truncated_users == 0:
                _TruncatedImagesAllowed.saved = ImageFile.LOAD_TRUNCATED_IMAGES
                ImageFile.LOAD_TRUNCATED_IMAGES = True
            _truncated_users += 1

    def __exit__(self, *exc):
        global _truncated_users
        with _truncated_lock:
            _truncated_users -= 1
            if _truncated_users == 0:
                ImageFile.LOAD_TRUNCATED_IMAGES = _TruncatedImagesAllowed.saved
        return False


class ImageLoadError(OSError):
    """An image file is missing, cannot be decoded or exceeds the pixel
    limit.

    Datasets with ``skip_bad_samples=True`` catch exactly this error.
    """


def _too_large(path: str, where: str, size, max_pixels) -> ImageLoadError:
    return ImageLoadError(
        f'Image {path}{where} is {size[0]} x {size[1]} pixels, above the '
        f'limit of {max_pixels} pixels (a decompression bomb or a very '
        'large image). Shrink the file, or raise the limit with '
        '`max_pixels` (LoadRGBImageFromFile / load_rgb_image), or set '
        '`skip_bad_samples=True` to skip it.')


def _decode(path: str, where: str, max_pixels: Optional[int]) -> np.ndarray:
    with Image.open(path) as pil:
        size = pil.size  # read from the header: nothing decoded yet
        if max_pixels is not None and size[0] * size[1] > max_pixels:
            raise _too_large(path, where, size, max_pixels)
        return np.asarray(pil.convert('RGB')).copy()


def load_rgb_image(path: str, sample_idx: Optional[int] = None,
                   max_pixels: Optional[int] = DEFAULT_MAX_PIXELS
                   ) -> np.ndarray:
    """Read ``path`` with PIL, convert it to RGB and return uint8 HWC.

    A truncated file is read as far as it goes (as ALBEF). Images above
    PIL's own hard limit (``2 * Image.MAX_IMAGE_PIXELS``) are refused even
    with a larger ``max_pixels``: raise PIL's setting in your own script
    if you need that.

    Args:
        path (str): Image file.
        sample_idx (int, optional): Dataset index, only used in the error
            message.
        max_pixels (int, optional): Largest ``width * height`` accepted
            (:data:`DEFAULT_MAX_PIXELS`); None for no limit of our own.

    Raises:
        ImageLoadError: When the file is missing, unreadable or above
            ``max_pixels``; the message names the file and the dataset
            index.
    """
    where = '' if sample_idx is None else f' (dataset index {sample_idx})'
    if not osp.isfile(path):
        raise ImageLoadError(
            f'Image file not found: {path}{where}. Check the dataset\'s '
            '`data_root` / `data_prefix` and the `image` paths in the '
            'annotation file, or set `skip_bad_samples=True` to skip it.')
    try:
        try:
            img = _decode(path, where, max_pixels)
        except ImageLoadError:
            raise
        except OSError:  # maybe truncated: read what there is, as ALBEF
            with _TruncatedImagesAllowed():
                img = _decode(path, where, max_pixels)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as err:
        raise ImageLoadError(
            f'Image {path}{where} is above PIL\'s own limit of '
            f'{2 * Image.MAX_IMAGE_PIXELS} pixels ({err}). Shrink the file '
            'or set `skip_bad_samples=True` to skip it.') from err
    except Exception as err:  # PIL raises many error types
        raise ImageLoadError(
            f'Cannot decode image {path}{where}: {type(err).__name__}: '
            f'{err}. Replace the file or set `skip_bad_samples=True` to '
            'skip it.') from err
    return img


def check_rgb_array(img, where: str) -> np.ndarray:
    """Return ``img`` if it is an RGB image array as the models read it:
    ``uint8``, ``H x W x 3`` with ``H, W > 0``; otherwise raise a
    ``ValueError`` starting with ``where`` that says what is wrong (a float
    array in [0, 1] or an int64 array would be normalised as if it were
    0-255 bytes and give a wrong answer without a word)."""
    if not isinstance(img, np.ndarray):
        raise ValueError(f'{where}: expected a file path or an RGB uint8 '
                         f'H x W x 3 array, got {type(img).__name__}')
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'{where}: expected an RGB uint8 H x W x 3 array, '
                         f'got shape {img.shape}')
    if img.dtype != np.uint8:
        raise ValueError(
            f'{where}: expected dtype uint8 (0-255), got {img.dtype}; '
            'convert it first, e.g. (img * 255).round().astype(np.uint8) '
            'for floats in [0, 1]')
    if 0 in img.shape[:2]:
        raise ValueError(f'{where}: the image has no pixels (shape '
                         f'{img.shape})')
    return img


@TRANSFORMS.register_module()
class LoadRGBImageFromFile(BaseTransform):
    """Load an image as ALBEF does: ``PIL.Image.open(path).convert('RGB')``.

    The result is a uint8 HWC **RGB** array (not BGR as in mmcv's
    ``LoadImageFromFile``). A truncated file is read as far as it goes, as
    in the original; unlike the original, images above ``max_pixels`` are
    refused (see :func:`load_rgb_image`).

    Required keys: ``img_path`` (str, or list[str] for NLVR2).
    Optional keys: ``sample_idx`` (used in error messages).

    Added keys: ``img`` (ndarray, or a list of them), ``img_shape`` and
    ``ori_shape`` ((h, w), or a list of them).

    Args:
        max_pixels (int, optional): Largest ``width * height`` read
            (:data:`DEFAULT_MAX_PIXELS`); None for no limit of our own.

    Raises:
        ImageLoadError: On a missing, corrupt or too large file
            (message names the file and the dataset index).
    """

    def __init__(self, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS):
        if max_pixels is not None and (not isinstance(max_pixels, int)
                                       or max_pixels <= 0):
            raise ValueError('LoadRGBImageFromFile: max_pixels must be a '
                             f'positive integer or None, got {max_pixels!r}')
        self.max_pixels = max_pixels

    def transform(self, results: dict) -> dict:
        """Load ``results['img_path']`` into ``results['img']``."""
        paths = results['img_path']
        idx = results.get('sample_idx')
        if isinstance(paths, (list, tuple)):
            imgs = [load_rgb_image(p, idx, self.max_pixels) for p in paths]
            results['img'] = imgs
            results['img_shape'] = [i.shape[:2] for i in imgs]
            results['ori_shape'] = [i.shape[:2] for i in imgs]
        else:
            img = load_rgb_image(paths, idx, self.max_pixels)
            results['img'] = img
            results['img_shape'] = img.shape[:2]
            results['ori_shape'] = img.shape[:2]
        return results
