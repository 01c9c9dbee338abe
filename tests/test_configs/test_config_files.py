"""Every config file parses; the full-size ones build (on the meta device)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from albef_mm.registry import MODELS
from helpers import CONFIG_ROOT

TASK_CONFIGS = sorted(glob.glob(osp.join(CONFIG_ROOT, 'albef', '*.py')))


@pytest.mark.parametrize('path', TASK_CONFIGS,
                         ids=[osp.basename(p) for p in TASK_CONFIGS])
def test_task_config_builds_its_model(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'albef_mm'
    # sharded configs run on MMEngine's FlexibleRunner (with the same
    # build-time checks)
    assert cfg.runner_type == ('ALBEFFlexibleRunner' if 'strategy' in cfg
                               else 'ALBEFRunner')
    DefaultScope.get_instance(f'cfg-{osp.basename(path)}',
                              scope_name='albef_mm')
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    hooks = [h['type'] for h in cfg.get('custom_hooks', [])]
    assert not model.missing_train_hooks(hooks)


@pytest.mark.parametrize('name,epochs,batch,files', [
    ('pretrain_4m.py', 30, 64, 5),
    ('pretrain_14m.py', 30, 64, 6),
])
def test_pretrain_recipes(name, epochs, batch, files):
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef', name))
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.train_dataloader.batch_size == batch
    assert len(cfg.train_dataloader.dataset.ann_file) == files
    assert cfg.optim_wrapper.optimizer.lr == 1e-4
    sched = cfg.param_scheduler[0]
    assert (sched.warmup_lr, sched.min_lr, sched.warmup_epochs) == \
        (1e-5, 1e-5, 20)
    assert cfg.model.itc_head.queue_size == 65536
    assert cfg.model.alpha == 0.4 and cfg.model.momentum == 0.995
    assert cfg.model.vision_backbone.img_size == 256
    # the 8 x 64 global batch divides the queue
    assert 65536 % (8 * batch) == 0


@pytest.mark.parametrize('name,epochs,k_test,train_file', [
    ('retrieval_flickr30k.py', 10, 128, 'flickr30k_train.json'),
    ('retrieval_coco.py', 5, 256, 'coco_train.json'),
])
def test_retrieval_recipes(name, epochs, k_test, train_file):
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef', name))
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.param_scheduler[0].max_epochs == epochs
    assert cfg.test_cfg.k_test == k_test and cfg.val_cfg.k_test == k_test
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.train_dataloader.dataset.ann_file == train_file
    assert cfg.optim_wrapper.optimizer.lr == 1e-5
    assert cfg.param_scheduler[0].min_lr == 1e-6
    assert cfg.model.vision_backbone.img_size == 384
    assert cfg.model.itc_head.use_idx_queue
    assert not cfg.model.itc_head.clamp_temp
    assert cfg.default_hooks.checkpoint.save_best == 'retrieval/r_mean'


def test_zero_shot_and_pretrained_eval_configs_differ_as_documented():
    zs = Config.fromfile(osp.join(CONFIG_ROOT, 'albef',
                                  'retrieval_flickr30k_zeroshot.py'))
    raw = Config.fromfile(osp.join(CONFIG_ROOT, 'albef',
                                   'retrieval_flickr30k_pretrained_256px.py'))
    assert zs.model.vision_backbone.img_size == 384
    assert raw.model.vision_backbone.img_size == 256
    assert raw.test_dataloader.dataset.pipeline[1]['size'] == 256
    for cfg in (zs, raw):
        assert cfg.train_dataloader is None
        assert cfg.test_dataloader.dataset.ann_file == 'flickr30k_test.json'
        assert cfg.test_cfg.k_test == 128
