from .albef_optim_constructor import ALBEFOptimWrapperConstructor

__all__ = ['ALBEFOptimWrapperConstructor']
