"""What a resume reproduces with data workers (RandomStateHook's docstring
and README "Resuming"): exact with non-persistent workers, not with
persistent ones (their random streams restart)."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.hooks import Hook

from albef_mm.datasets import generate_shapes
from albef_mm.registry import RUNNERS
from helpers import CONFIG_ROOT

TINY = osp.join(CONFIG_ROOT, 'albef', 'pretrain_shapes_tiny.py')


class _Stop(Exception):
    pass


class _Losses(Hook):
    priority = 'LOWEST'  # after CheckpointHook wrote the epoch's file

    def __init__(self, stop_after_epoch=None):
        self.losses, self.stop = {}, stop_after_epoch

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.losses[runner.iter] = [float(outputs[k].detach()) for k in
                                    ('loss_itc', 'loss_itm', 'loss_mlm')]

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.stop:
            raise _Stop


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    generate_shapes(str(root), num_train=48, num_val=4, num_test=4)
    return str(root) + '/'


def _run(shapes, work, persistent, stop=None, resume=False):
    cfg = Config.fromfile(TINY)
    cfg.merge_from_dict({
        'work_dir': str(work), 'resume': resume, 'test_after_train': False,
        'model.data_preprocessor.tokenizer.name_or_path':
        shapes + 'vocab.txt',
        'model.itc_head.queue_size': 32,
        'train_dataloader.batch_size': 16,
        'train_dataloader.num_workers': 2,
        'train_dataloader.persistent_workers': persistent,
        'train_dataloader.dataset.data_root': shapes,
        'train_cfg.max_epochs': 2, 'train_cfg.val_interval': 2,
        'default_hooks.checkpoint.interval': 1,
    })
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = RUNNERS.build(cfg)
    record = _Losses(stop)
    runner.register_hook(record)
    try:
        runner.train()
    except _Stop:
        pass
    return record.losses


@pytest.mark.parametrize('persistent', [False, True])
def test_resume_with_data_workers(shapes, tmp_path, persistent):
    straight = _run(shapes, tmp_path / 'a', persistent)
    _run(shapes, tmp_path / 'b', persistent, stop=1)
    resumed = _run(shapes, tmp_path / 'b', persistent, resume=True)
    assert sorted(resumed) == [3, 4, 5]  # epoch 2 of 3 iterations
    diff = max(abs(a - b) for it in resumed
               for a, b in zip(resumed[it], straight[it]))
    if persistent:
        # the workers' streams restart at the resume: other augmentations
        assert diff > 1e-3
    else:
        # same augmentations and data: equal up to float32 summation order
        # (0 exactly with one thread; ~5e-7 with two)
        assert diff < 1e-5
