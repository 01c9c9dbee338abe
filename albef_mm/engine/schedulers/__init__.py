from .albef_lr import ALBEFStepWarmupCosineLR

__all__ = ['ALBEFStepWarmupCosineLR']
