"""Datasets (registered in ``albef_mm.registry.DATASETS``) and transforms."""
from .class_folder import ClassAnnotationDataset, ClassFolderDataset
from .dtd import DTDDataset
from .pretrain_caption import PretrainCaptionDataset
from .refcoco import RefCOCODataset
from .retrieval import RetrievalDataset
from .sharded_caption import ShardedCaptionDataset, ShardError
from .snli_ve import SNLIVEDataset  # noqa: F401
from .nlvr2 import NLVR2Dataset  # noqa: F401
from .vqa import VQADataset  # noqa: F401
from .shapes import generate_shapes
from .skip_counter import SharedCounter
from .transforms import *  # noqa: F401,F403
from .utils import build_pipeline, load_json_list

__all__ = [
    'ClassAnnotationDataset', 'ClassFolderDataset', 'DTDDataset',
    'PretrainCaptionDataset', 'RefCOCODataset', 'RetrievalDataset',
    'ShardedCaptionDataset', 'ShardError',
    'generate_shapes',
    'SharedCounter', 'build_pipeline', 'load_json_list'
]
