from .base import ALBEFBase
from .pretrain import ALBEFPretrain

__all__ = ['ALBEFBase', 'ALBEFPretrain']
