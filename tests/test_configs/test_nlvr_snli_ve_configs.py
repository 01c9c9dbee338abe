"""NLVR2 / SNLI-VE / text-assignment configs follow ALBEF's recipes."""
import os.path as osp

import pytest
from mmengine.config import Config

from helpers import CONFIG_ROOT


def load(name):
    return Config.fromfile(osp.join(CONFIG_ROOT, 'albef', name))


@pytest.mark.parametrize('name,epochs,batch,test_batch,warmup_hook', [
    ('nlvr2.py', 10, 16, 16, True),
    ('snli_ve.py', 5, 32, 64, False),
])
def test_finetune_recipes(name, epochs, batch, test_batch, warmup_hook):
    cfg = load(name)
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.train_dataloader.batch_size == batch
    assert cfg.test_dataloader.batch_size == test_batch
    assert cfg.optim_wrapper.optimizer.lr == 2e-5
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.02
    sched = cfg.param_scheduler[0]
    assert (sched.warmup_lr, sched.min_lr, sched.warmup_epochs,
            sched.max_epochs) == (1e-5, 1e-6, 1, epochs)
    assert cfg.model.vision_backbone.img_size == 384
    assert cfg.model.alpha == 0.4 and cfg.model.distill
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert 'MomentumUpdateHook' in hooks and 'QueueUpdateHook' not in hooks
    assert ('AlphaWarmupHook' in hooks) == warmup_hook
    # the scripts tokenise with padding='longest' only
    pre = cfg.model.data_preprocessor
    assert pre.truncation is False and pre.padding == 'longest'
    # best checkpoint by dev / val accuracy
    assert cfg.default_hooks.checkpoint.save_best == 'accuracy/acc'
    assert cfg.val_evaluator.type == 'Accuracy'
    crop = cfg.train_dataloader.dataset.pipeline[1]
    assert crop.size == 384 and tuple(crop.scale) == (0.5, 1.0)


def test_nlvr2_model_pairs_and_splits():
    cfg = load('nlvr2.py')
    assert cfg.model.neck.type == 'NLVRFusionEncoder'
    assert cfg.model.neck.num_layers == 12
    assert cfg.model.text_backbone.num_layers == 6
    assert cfg.model.cls_head.num_classes == 2
    assert cfg.val_dataloader.dataset.ann_file == ['nlvr_dev.json']
    assert cfg.test_dataloader.dataset.ann_file == ['nlvr_test.json']
    ve = load('snli_ve.py')
    assert ve.model.cls_head.num_classes == 3
    assert ve.val_dataloader.dataset.ann_file == 've_dev.json'


def test_text_assignment_recipe():
    cfg = load('nlvr2_ta_pretrain.py')
    assert cfg.model.type == 'ALBEFNLVRTextAssignment'
    assert cfg.train_cfg.max_epochs == 1
    assert cfg.train_dataloader.batch_size == 64
    assert len(cfg.train_dataloader.dataset.ann_file) == 5  # the 4M set
    assert cfg.model.vision_backbone.img_size == 256
    assert cfg.model.data_preprocessor.max_length == 25
    assert cfg.model.ta_head.num_classes == 3
    assert cfg.model.ta_head.with_hidden is False
    sched = cfg.param_scheduler[0]
    assert (sched.warmup_lr, sched.min_lr) == (1e-5, 1e-5)
    assert cfg.optim_wrapper.optimizer.lr == 2e-5
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert 'MomentumUpdateHook' not in hooks and cfg.val_cfg is None
