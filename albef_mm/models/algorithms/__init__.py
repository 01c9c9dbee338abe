from .base import ALBEFBase
from .contrastive import ALBEFContrastiveBase
from .pretrain import ALBEFPretrain
from .retrieval import ALBEFRetrieval

__all__ = ['ALBEFBase', 'ALBEFContrastiveBase', 'ALBEFPretrain',
           'ALBEFRetrieval']
