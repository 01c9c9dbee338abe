from .fusion_encoder import FusionEncoder

__all__ = ['FusionEncoder']
