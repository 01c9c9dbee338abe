from .itc_head import ITCHead
from .itm_head import ITMHead
from .mlm_head import MLMHead

__all__ = ['ITCHead', 'ITMHead', 'MLMHead']
