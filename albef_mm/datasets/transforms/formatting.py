"""Pack a pipeline result into ``{'inputs', 'data_samples'}``."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from albef_mm.registry import TRANSFORMS
from albef_mm.structures.data_sample import DataSample


def _to_chw_tensor(img: np.ndarray) -> torch.Tensor:
    if img.ndim == 2:
        img = img[..., None]
    if img.dtype != np.uint8:
        raise TypeError(f'PackALBEFInputs expects uint8 images, got '
                        f'{img.dtype}')
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


@TRANSFORMS.register_module()
class PackALBEFInputs(BaseTransform):
    """Pack the image(s) and annotations for the model.

    ``inputs`` is a uint8 CHW RGB tensor, **not normalised**: the model's
    data preprocessor normalises (CLIP mean/std) and tokenises ``text``.
    When ``img`` is a list (NLVR2: two images), ``inputs`` is the stacked
    ``[2, C, H, W]`` tensor (the images must have the same size).

    Required keys: ``img`` (uint8 HWC ndarray or a list of them).
    Optional keys: the ``algorithm_keys`` and ``meta_keys`` present in the
    results (absent ones are skipped).

    Added keys: ``inputs`` (Tensor), ``data_samples`` (:class:`DataSample`
    whose data fields are the algorithm keys and whose metainfo holds the
    meta keys); all other keys are dropped.

    Args:
        algorithm_keys (Sequence[str]): Keys copied as DataSample fields.
            Defaults to ``('text', )``.
        meta_keys (Sequence[str]): Keys copied into the DataSample metainfo.
            Defaults to ``('img_path', 'sample_idx', 'image_id', 'ori_shape',
            'img_shape', 'scale_factor', 'flip')``.
    """

    def __init__(self,
                 algorithm_keys: Sequence[str] = ('text', ),
                 meta_keys: Sequence[str] = ('img_path', 'sample_idx',
                                             'image_id', 'ori_shape',
                                             'img_shape', 'scale_factor',
                                             'flip')) -> None:
        self.algorithm_keys = tuple(algorithm_keys)
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Build ``inputs`` and the DataSample from ``results``."""
        img = results['img']
        if isinstance(img, (list, tuple)):
            tensors = [_to_chw_tensor(i) for i in img]
            shapes = {tuple(t.shape) for t in tensors}
            if len(shapes) != 1:
                raise ValueError(
                    'PackALBEFInputs: the images of one sample must have the '
                    f'same shape to be stacked, got {sorted(shapes)}; resize '
                    'or crop them to one size in the pipeline')
            inputs = torch.stack(tensors)
        else:
            inputs = _to_chw_tensor(img)

        sample = DataSample()
        for key in self.algorithm_keys:
            if key in results:
                sample.set_field(results[key], key)
        sample.set_metainfo(
            {k: results[k] for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(algorithm_keys='
                f'{self.algorithm_keys}, meta_keys={self.meta_keys})')
