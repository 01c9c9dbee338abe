"""Test helpers (tests/ is on sys.path under pytest): the tiny model
settings (:mod:`helpers.tiny`) and the page-fault facts of this machine
(:mod:`helpers.page_faults`)."""
from .tiny import CONFIG_ROOT, TINY_VOCAB, tiny_pretrain_model_cfg

__all__ = ['CONFIG_ROOT', 'TINY_VOCAB', 'tiny_pretrain_model_cfg']
