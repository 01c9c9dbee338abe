from .base import ALBEFBase
from .contrastive import ALBEFContrastiveBase
from .grounding import ALBEFGrounding
from .nlvr2 import ALBEFNLVR
from .nlvr2_ta import ALBEFNLVRTextAssignment
from .pretrain import ALBEFPretrain
from .retrieval import ALBEFRetrieval
from .snli_ve import ALBEFVE
from .vqa import ALBEFVQA
from .zeroshot_cls import ALBEFZeroShotClassifier

__all__ = ['ALBEFBase', 'ALBEFContrastiveBase', 'ALBEFGrounding',
           'ALBEFNLVR', 'ALBEFNLVRTextAssignment', 'ALBEFPretrain',
           'ALBEFRetrieval', 'ALBEFVE', 'ALBEFVQA',
           'ALBEFZeroShotClassifier']
