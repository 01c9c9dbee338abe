"""A retrieval inferencer on a tiny random model and a few Shapes images,
for the gallery tests."""
import os
import os.path as osp

import torch
from mmengine.config import Config

from albef_mm.apis import ImageTextRetrievalInferencer
from albef_mm.datasets import generate_shapes
from albef_mm.registry import MODELS
from .tiny import CONFIG_ROOT

RETRIEVAL_CFG = osp.join(CONFIG_ROOT, 'albef', 'retrieval_shapes_tiny.py')


def shapes_with_vocab(root: str) -> str:
    """A small Shapes folder (its vocab.txt and 20 images) in ``root``."""
    data = osp.join(root, 'shapes')
    generate_shapes(data, num_train=4, num_val=4, num_test=12)
    return data


def tiny_retrieval_inferencer(root: str, data: str, seed: int = 0, **kw):
    """An inferencer with random weights drawn with ``seed`` (two seeds:
    two different models of one config)."""
    opts = {'model.data_preprocessor.tokenizer.name_or_path':
            osp.join(data, 'vocab.txt')}
    cfg = Config.fromfile(RETRIEVAL_CFG)
    cfg.merge_from_dict(opts)
    torch.manual_seed(seed)
    ckpt = osp.join(root, f'random_{seed}.pth')
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, ckpt)
    return ImageTextRetrievalInferencer(RETRIEVAL_CFG, ckpt,
                                        cfg_options=opts, **kw)


def shapes_images(data: str, n: int = 7):
    folder = osp.join(data, 'images')
    return sorted(osp.join(folder, f) for f in os.listdir(folder))[:n]
