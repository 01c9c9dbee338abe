"""Sharded training on MMEngine's ``FlexibleRunner`` (FSDP, DeepSpeed)."""
from .flexible_runner import ALBEFFlexibleRunner
from .fsdp import ALBEFFullyShardedDataParallel, momentum_module_names

__all__ = ['ALBEFFlexibleRunner', 'ALBEFFullyShardedDataParallel',
           'momentum_module_names']
