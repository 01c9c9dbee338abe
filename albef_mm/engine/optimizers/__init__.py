from .albef_optim_constructor import ALBEFOptimWrapperConstructor
from .nonfinite import SkipNonFiniteOptimWrapper

__all__ = ['ALBEFOptimWrapperConstructor', 'SkipNonFiniteOptimWrapper']
