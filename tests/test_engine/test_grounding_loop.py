"""Grounding training + Grad-CAM evaluation through the runner on a small
generated Shapes set (configs/albef/grounding_shapes_tiny.py)."""
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from albef_mm.datasets import generate_shapes
from helpers import CONFIG_ROOT

CFG = osp.join(CONFIG_ROOT, 'albef', 'grounding_shapes_tiny.py')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('shapes_grounding') / 'shapes')
    generate_shapes(root, num_train=24, num_val=8, num_test=8)
    return root


def _cfg(data, work_dir):
    cfg = Config.fromfile(CFG)
    cfg.merge_from_dict({
        'work_dir': work_dir, 'load_from': None,
        'model.data_preprocessor.tokenizer.name_or_path':
            osp.join(data, 'vocab.txt'),
        'model.itc_head.queue_size': 16,
        'train_dataloader.dataset.data_root': data + '/',
        'train_dataloader.batch_size': 8,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.dataset.data_root': data + '/',
        'val_dataloader.num_workers': 0,
        'test_dataloader.dataset.data_root': data + '/',
        'test_dataloader.num_workers': 0,
        'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
        'param_scheduler.0.max_epochs': 1, 'param_scheduler.0.end': 1,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.logger.interval': 1,
        'test_after_train': False,
        'env_cfg.dist_cfg.backend': 'gloo'})
    return cfg


def test_train_val_test_through_the_runner(data, tmp_path):
    from albef_mm.registry import RUNNERS
    torch.manual_seed(0)
    runner = RUNNERS.build(_cfg(data, str(tmp_path)))
    runner.train()
    model = runner.model
    assert type(model).__name__ == 'ALBEFGrounding'
    # the training step used the file-name image index: the queue holds it
    assert (model.itc_loss.idx_queue >= 0).any()
    model.zero_grad(set_to_none=True)
    metrics = runner.test()
    assert {'grounding/testA_d', 'grounding/testB_d',
            'grounding/testA_d_largest', 'grounding/testA_d_random',
            'grounding/num_no_positive'} <= set(metrics)
    assert metrics['grounding/num_testA'] + \
        metrics['grounding/num_testB'] == len(
            runner.test_dataloader.dataset)
    for key in ('testA_d', 'testB_d'):
        assert 0.0 <= metrics[f'grounding/{key}'] <= 1.0
    # evaluation switched gradients on only inside Grad-CAM
    assert all(p.grad is None for p in model.parameters())
    assert torch.is_grad_enabled()
    attn = model.neck.layer[0].crossattention.self
    assert attn.fused_attn and not attn.attn_drop._forward_pre_hooks
    # the best checkpoint by val_d was written
    assert any(f.startswith('best_grounding_val_d')
               for f in os.listdir(tmp_path))


def test_loop_refuses_a_model_without_gradcam(data, tmp_path):
    from albef_mm.registry import RUNNERS
    cfg = _cfg(data, str(tmp_path))
    cfg.model.type = 'ALBEFRetrieval'
    cfg.model.pop('gradcam_head')
    runner = RUNNERS.build(cfg)
    with pytest.raises(TypeError, match='gradcam'):
        runner.test()
