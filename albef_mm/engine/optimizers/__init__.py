from .albef_optim_constructor import ALBEFOptimWrapperConstructor
from .autocast_wrapper import (BF16AutocastOptimWrapper, cpu_has_fast_bf16,
                               use_mixed_precision)
from .nonfinite import SkipNonFiniteOptimWrapper

__all__ = ['ALBEFOptimWrapperConstructor', 'BF16AutocastOptimWrapper',
           'SkipNonFiniteOptimWrapper', 'cpu_has_fast_bf16',
           'use_mixed_precision']
