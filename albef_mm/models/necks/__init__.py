from .fusion_encoder import FusionEncoder
from .nlvr_fusion_encoder import NLVRFusionEncoder  # noqa: F401

__all__ = ['FusionEncoder']
