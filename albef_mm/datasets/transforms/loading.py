"""Image loading: PIL, converted to RGB, as a uint8 HWC array."""
import contextlib
import os.path as osp
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image, ImageFile

from albef_mm.registry import TRANSFORMS



@contextlib.contextmanager
def _albef_pil_settings():
    """As ALBEF (which sets them for the whole process): accept truncated
    files and images of any size — here only while one image is read, so
    importing albef_mm changes no PIL setting."""
    saved = ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS
    ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = True, None
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = saved


class ImageLoadError(OSError):
    """An image file is missing or cannot be decoded.

    Datasets with ``skip_bad_samples=True`` catch exactly this error.
    """


def load_rgb_image(path: str, sample_idx: Optional[int] = None) -> np.ndarray:
    """Read ``path`` with PIL, convert it to RGB and return uint8 HWC.

    Args:
        path (str): Image file.
        sample_idx (int, optional): Dataset index, only used in the error
            message.

    Raises:
        ImageLoadError: When the file is missing or unreadable; the message
            names the file and the dataset index.
    """
    where = '' if sample_idx is None else f' (dataset index {sample_idx})'
    if not osp.isfile(path):
        raise ImageLoadError(
            f'Image file not found: {path}{where}. Check the dataset\'s '
            '`data_root` / `data_prefix` and the `image` paths in the '
            'annotation file, or set `skip_bad_samples=True` to skip it.')
    try:
        with _albef_pil_settings(), Image.open(path) as pil:
            return np.asarray(pil.convert('RGB')).copy()
    except Exception as err:  # PIL raises many error types
        raise ImageLoadError(
            f'Cannot decode image {path}{where}: {type(err).__name__}: '
            f'{err}. Replace the file or set `skip_bad_samples=True` to '
            'skip it.') from err


@TRANSFORMS.register_module()
class LoadRGBImageFromFile(BaseTransform):
    """Load an image as ALBEF does: ``PIL.Image.open(path).convert('RGB')``.

    The result is a uint8 HWC **RGB** array (not BGR as in mmcv's
    ``LoadImageFromFile``). ``LOAD_TRUNCATED_IMAGES`` is on and the pixel
    limit is off, as in the original.

    Required keys: ``img_path`` (str, or list[str] for NLVR2).
    Optional keys: ``sample_idx`` (used in error messages).

    Added keys: ``img`` (ndarray, or a list of them), ``img_shape`` and
    ``ori_shape`` ((h, w), or a list of them).

    Raises:
        ImageLoadError: On a missing or corrupt file (message names the file
            and the dataset index).
    """

    def transform(self, results: dict) -> dict:
        """Load ``results['img_path']`` into ``results['img']``."""
        paths = results['img_path']
        idx = results.get('sample_idx')
        if isinstance(paths, (list, tuple)):
            imgs = [load_rgb_image(p, idx) for p in paths]
            results['img'] = imgs
            results['img_shape'] = [i.shape[:2] for i in imgs]
            results['ori_shape'] = [i.shape[:2] for i in imgs]
        else:
            img = load_rgb_image(paths, idx)
            results['img'] = img
            results['img_shape'] = img.shape[:2]
            results['ori_shape'] = img.shape[:2]
        return results
