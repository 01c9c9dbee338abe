"""Tiny model settings shared by the tests.

The tiny models are the real config files with a few sizes overridden, so
tests keep the configs under test. The sizes themselves live in one config
file, ``configs/_base_/models/test_tiny_sizes.py`` (the sizes of the
reference fixtures recorded with the original code), which configs can
inherit as well.
"""
import os.path as osp
from typing import Dict

from mmengine.config import Config

REPO_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
CONFIG_ROOT = osp.join(REPO_ROOT, 'configs')
TINY_VOCAB = osp.join(REPO_ROOT, 'tests', 'data', 'tiny_vocab')
TINY_SIZES_FILE = osp.join(CONFIG_ROOT, '_base_', 'models',
                           'test_tiny_sizes.py')


def tiny_overrides(sizes_file: str = TINY_SIZES_FILE) -> Dict[str, dict]:
    """``model`` overrides that shrink ALBEF's pre-training or retrieval
    model to the sizes of ``sizes_file`` (its ``tiny_*`` variables)."""
    sizes = Config.fromfile(sizes_file)
    width = sizes.tiny_width
    return dict(
        vision_backbone=sizes.tiny_vision_backbone.to_dict(),
        text_backbone=sizes.tiny_text_backbone.to_dict(),
        neck=sizes.tiny_neck.to_dict(),
        itc_head=dict(vision_width=width, text_width=width,
                      embed_dim=sizes.tiny_embed_dim,
                      queue_size=sizes.get('tiny_queue_size', 16)),
        itm_head=dict(hidden_size=width),
        mlm_head=dict(hidden_size=width,
                      vocab_size=sizes.tiny_text_backbone.vocab_size),
        pretrained_text=None,
    )


# Width 64, 2 ViT blocks, 2 text + 2 fusion layers, vocab 512.
TINY_OVERRIDES = tiny_overrides()


def tiny_pretrain_model_cfg(queue_size: int = 16, dropout: float = 0.0,
                            vocab_dir: str = TINY_VOCAB) -> dict:
    """``model`` of ``configs/_base_/models/albef_pretrain.py`` shrunk to
    the tiny sizes (dropout 0 by default for deterministic tests).

    Args:
        queue_size (int): ITC queue length. Defaults to 16.
        dropout (float): Hidden and attention dropout of the text encoder
            and the fusion neck. Defaults to 0.
        vocab_dir (str): Tokenizer vocabulary (file or folder). Defaults to
            ``tests/data/tiny_vocab``.

    Returns:
        dict: The model config, ready for ``MODELS.build``.
    """
    cfg = Config.fromfile(
        osp.join(CONFIG_ROOT, '_base_', 'models', 'albef_pretrain.py'))
    cfg.merge_from_dict(dict(model=TINY_OVERRIDES))
    cfg.merge_from_dict(dict(model=dict(
        itc_head=dict(queue_size=queue_size),
        text_backbone=dict(hidden_dropout=dropout, attn_dropout=dropout),
        neck=dict(hidden_dropout=dropout, attn_dropout=dropout),
        data_preprocessor=dict(tokenizer=dict(name_or_path=vocab_dir)))))
    return cfg.model.to_dict()
