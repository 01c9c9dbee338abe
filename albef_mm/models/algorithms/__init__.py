from .base import ALBEFBase
from .pretrain import ALBEFPretrain
from .retrieval import ALBEFRetrieval

__all__ = ['ALBEFBase', 'ALBEFPretrain', 'ALBEFRetrieval']
