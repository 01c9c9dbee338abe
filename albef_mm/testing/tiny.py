"""Tiny model settings shared by tests and benchmarks.

The tiny models are the real config files with a few sizes overridden, so
tests keep the configs under test.
"""
import os.path as osp

from mmengine.config import Config

REPO_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
CONFIG_ROOT = osp.join(REPO_ROOT, 'configs')
TINY_VOCAB = osp.join(REPO_ROOT, 'tests', 'data', 'tiny_vocab')

# Width 64, 2 ViT blocks, 2 text + 2 fusion layers, vocab 512: the sizes of
# the oracle fixtures.
TINY_OVERRIDES = dict(
    vision_backbone=dict(img_size=64, embed_dims=64, num_layers=2,
                         num_heads=2, pretrained=None),
    text_backbone=dict(vocab_size=512, hidden_size=64, num_layers=2,
                       num_heads=2, intermediate_size=128,
                       max_position_embeddings=64),
    neck=dict(hidden_size=64, num_layers=2, num_heads=2,
              intermediate_size=128, encoder_width=64),
    itc_head=dict(vision_width=64, text_width=64, embed_dim=32,
                  queue_size=16),
    itm_head=dict(hidden_size=64),
    mlm_head=dict(hidden_size=64, vocab_size=512),
    pretrained_text=None,
)


def tiny_pretrain_model_cfg(queue_size: int = 16, dropout: float = 0.0,
                            vocab_dir: str = TINY_VOCAB) -> dict:
    """``model`` of ``configs/_base_/models/albef_pretrain.py`` shrunk to
    the tiny sizes (dropout 0 by default for deterministic tests)."""
    cfg = Config.fromfile(
        osp.join(CONFIG_ROOT, '_base_', 'models', 'albef_pretrain.py'))
    cfg.merge_from_dict(dict(model=TINY_OVERRIDES))
    cfg.merge_from_dict(dict(model=dict(
        itc_head=dict(queue_size=queue_size),
        text_backbone=dict(hidden_dropout=dropout, attn_dropout=dropout),
        neck=dict(hidden_dropout=dropout, attn_dropout=dropout),
        data_preprocessor=dict(tokenizer=dict(name_or_path=vocab_dir)))))
    return cfg.model.to_dict()
