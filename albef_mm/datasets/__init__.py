"""Datasets (registered in ``albef_mm.registry.DATASETS``) and transforms."""
from .pretrain_caption import PretrainCaptionDataset
from .retrieval import RetrievalDataset
from .shapes import generate_shapes
from .skip_counter import SharedCounter
from .transforms import *  # noqa: F401,F403
from .utils import build_pipeline, load_json_list

__all__ = [
    'PretrainCaptionDataset', 'RetrievalDataset', 'generate_shapes',
    'SharedCounter', 'build_pipeline', 'load_json_list'
]
