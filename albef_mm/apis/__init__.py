from .feature_extractor import FeatureExtractor
from .grounding_inferencer import VisualGroundingInferencer
from .model import init_model
from .model_zoo import get_model, list_models, model_info
from .nlvr_ve_inferencer import NLVRInferencer, VEInferencer
from .retrieval_inferencer import ImageTextRetrievalInferencer
from .vqa_inferencer import VQAInferencer
from .zeroshot_inferencer import ZeroShotClassificationInferencer

__all__ = ['FeatureExtractor', 'ImageTextRetrievalInferencer',
           'NLVRInferencer', 'VEInferencer', 'VQAInferencer',
           'VisualGroundingInferencer', 'ZeroShotClassificationInferencer',
           'get_model', 'init_model', 'list_models', 'model_info']
