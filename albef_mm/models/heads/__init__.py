from .gradcam_head import GradCAMHead
from .itc_head import ITCHead
from .itc_loss import ITCLoss
from .itm_head import ITMHead
from .mlm_head import MLMHead
from .cls_head import ALBEFClsHead  # noqa: F401
from .vqa_decoder_head import VQADecoderHead

__all__ = ['GradCAMHead', 'ITCHead', 'ITCLoss', 'ITMHead', 'MLMHead',
           'VQADecoderHead']
