from .tiny import CONFIG_ROOT, TINY_VOCAB, tiny_pretrain_model_cfg

__all__ = ['CONFIG_ROOT', 'TINY_VOCAB', 'tiny_pretrain_model_cfg']
