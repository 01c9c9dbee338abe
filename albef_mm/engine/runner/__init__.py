from .albef_runner import ALBEFRunner

__all__ = ['ALBEFRunner']
