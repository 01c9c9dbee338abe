"""Datasets (registered in ``albef_mm.registry.DATASETS``) and transforms."""
from .pretrain_caption import PretrainCaptionDataset
from .shapes import generate_shapes
from .skip_counter import SharedCounter
from .transforms import *  # noqa: F401,F403

__all__ = ['PretrainCaptionDataset', 'generate_shapes', 'SharedCounter']
from .retrieval import RetrievalDataset  # noqa: E402,F401
