"""The dataset base configs build and run on a tiny generated Shapes set."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from albef_mm.datasets import generate_shapes
from albef_mm.registry import DATASETS, TRANSFORMS

CFG_DIR = osp.join(osp.dirname(__file__), '..', '..', 'configs', '_base_',
                   'datasets')


def test_shapes_pretrain_config(tmp_path):
    generate_shapes(str(tmp_path), num_train=8, num_val=2, num_test=2)
    cfg = Config.fromfile(osp.join(CFG_DIR, 'shapes_pretrain.py'))
    assert cfg.data_root == 'data/shapes/'
    types = [t['type'] for t in cfg.train_pipeline]
    assert 'ALBEFRandomFlip' not in types  # flips would falsify left/right
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.dataset.data_root = str(tmp_path)
    loader_cfg.update(batch_size=4, num_workers=0, persistent_workers=False)
    # the runner builds in the scope set by default_scope='albef_mm'
    with DefaultScope.overwrite_default_scope('albef_mm'):
        loader = Runner.build_dataloader(loader_cfg)
    batch = next(iter(loader))
    assert len(batch['inputs']) == 4 and len(batch['data_samples']) == 4
    assert batch['inputs'][0].shape == (3, 64, 64)
    assert batch['inputs'][0].dtype == torch.uint8
    assert all(isinstance(s.text, str) for s in batch['data_samples'])
    test_ds = DATASETS.build(
        dict(cfg.train_dataloader.dataset, data_root=str(tmp_path),
             pipeline=cfg.test_pipeline))
    assert test_ds[0]['inputs'].shape == (3, 64, 64)


def test_real_pretrain_configs():
    for name, n_files in (('pretrain_4m.py', 5), ('pretrain_14m.py', 6)):
        cfg = Config.fromfile(osp.join(CFG_DIR, '..', '..', 'albef', name))
        ds = cfg.train_dataloader.dataset
        assert len(ds.ann_file) == n_files
        assert ('cc12m.json' in ds.ann_file) == (n_files == 6)
        assert cfg.train_dataloader.batch_size == 64
        assert cfg.train_dataloader.num_workers == 4
        assert cfg.train_dataloader.drop_last is True
        assert cfg.train_dataloader.collate_fn.type == 'pseudo_collate'
        crop = cfg.train_pipeline[1]
        assert crop.size == 256 and tuple(crop.scale) == (0.2, 1.0)
        aug = TRANSFORMS.build(cfg.train_pipeline[3])  # augs: the default
        assert (aug.N, aug.M, len(aug.augs)) == (2, 7, 10)
        for t in cfg.train_pipeline + cfg.test_pipeline:
            assert TRANSFORMS.get(t['type']) is not None, t['type']
        assert DATASETS.get(ds.type) is not None
