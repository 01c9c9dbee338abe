"""Pipeline transforms (registered in ``albef_mm.registry.TRANSFORMS``)."""
from .formatting import PackALBEFInputs
from .geometric import ALBEFRandomFlip, ALBEFRandomResizedCrop, ALBEFResize
from .loading import ImageLoadError, LoadRGBImageFromFile, load_rgb_image
from .randaugment import ALL_OPS, RandomAugment
from .text import CleanCaption, pre_caption, pre_question

__all__ = [
    'PackALBEFInputs', 'ALBEFRandomFlip', 'ALBEFRandomResizedCrop',
    'ALBEFResize', 'ImageLoadError', 'LoadRGBImageFromFile', 'load_rgb_image',
    'ALL_OPS', 'RandomAugment', 'CleanCaption', 'pre_caption', 'pre_question'
]
