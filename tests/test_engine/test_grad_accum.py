"""Gradient accumulation semantics of the ALBEF hooks: one momentum EMA per
optimizer step, one enqueue per micro-batch."""
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from albef_mm.datasets import generate_shapes
from albef_mm.engine.hooks.albef_hooks import (MomentumUpdateHook,
                                               accumulation_state)
from albef_mm.registry import HOOKS, RUNNERS
from helpers import CONFIG_ROOT

TINY = osp.join(CONFIG_ROOT, 'albef', 'pretrain_shapes_tiny.py')
BATCH, QUEUE, ACCUM, ITERS = 4, 64, 3, 6


@HOOKS.register_module(force=True)
class RecordAccumHook(Hook):
    """Test helper: per iteration, the queue pointer, the EMA count, and
    fingerprints of an online and a momentum parameter."""
    priority = 'LOWEST'
    records = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        model = runner.model
        ema = [h for h in runner.hooks if isinstance(h, MomentumUpdateHook)]
        RecordAccumHook.records.append(dict(
            iter=runner.iter,
            ptr=int(model.itc_loss.queue_ptr),
            ema=ema[0].num_updates,
            online=model.text_backbone.embeddings.word_embeddings.weight
            .detach().clone(),
            momentum=model.text_backbone_m.embeddings.word_embeddings.weight
            .detach().clone()))


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes_accum')
    generate_shapes(str(root), num_train=BATCH * ITERS, num_val=8,
                    num_test=8)
    return str(root)


def build_runner(shapes, work_dir, accum):
    cfg = Config.fromfile(TINY)
    root = shapes + '/'
    cfg.merge_from_dict({
        'work_dir': str(work_dir),
        'model.data_preprocessor.tokenizer.name_or_path':
        osp.join(shapes, 'vocab.txt'),
        'model.itc_head.queue_size': QUEUE,
        'train_dataloader.batch_size': BATCH,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.data_root': root,
        'train_dataloader.sampler.shuffle': False,
        'val_dataloader.num_workers': 0,
        'val_dataloader.dataset.data_root': root,
        'test_dataloader.num_workers': 0,
        'test_dataloader.dataset.data_root': root,
        'train_cfg.max_epochs': 1,
        'train_cfg.val_interval': 10,
        'test_after_train': False,
        'default_hooks.checkpoint.interval': 10,
        'default_hooks.logger.interval': 1,
        'optim_wrapper.accumulative_counts': accum,
    })
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type='RecordAccumHook')]
    return RUNNERS.build(cfg)


def test_accumulation_state_reads_the_optim_wrapper():
    assert accumulation_state(SimpleNamespace(model=None)) == (0, 1)
    optim = SimpleNamespace(_inner_count=5, _accumulative_counts=3)
    assert accumulation_state(SimpleNamespace(optim_wrapper=optim)) == (5, 3)
    # DeepSpeed engines count micro-steps themselves.
    engine = SimpleNamespace(micro_steps=4,
                             gradient_accumulation_steps=lambda: 2)
    assert accumulation_state(SimpleNamespace(model=engine,
                                              optim_wrapper=None)) == (4, 2)


def test_ema_once_per_step_enqueue_every_micro_batch(shapes, tmp_path):
    RecordAccumHook.records = []
    torch.manual_seed(0)
    runner = build_runner(shapes, tmp_path, ACCUM)
    model = runner.model
    calls = []
    update = model.momentum_update

    def counted():
        calls.append(runner.iter)
        update()

    model.momentum_update = counted
    runner.train()
    recs = RecordAccumHook.records
    assert [r['iter'] for r in recs] == list(range(ITERS))
    # The queue advances by the batch at every micro-batch.
    assert [r['ptr'] for r in recs] == [BATCH * i for i in
                                        range(1, ITERS + 1)]
    # One EMA per optimizer step, at the first micro-batch of each window.
    assert calls == [0, ACCUM]
    assert [r['ema'] for r in recs] == [1, 1, 1, 2, 2, 2]
    # The accumulation took effect: the online weights change only at
    # the last micro-batch of a window, the momentum ones only at the EMA.
    changed = [not torch.equal(a['online'], b['online'])
               for a, b in zip(recs, recs[1:])]
    assert changed == [False, True, False, False, True]
    m_changed = [not torch.equal(a['momentum'], b['momentum'])
                 for a, b in zip(recs, recs[1:])]
    assert m_changed == [False, False, True, False, False]
    # The EMA at iteration ACCUM used the weights of the first step.
    m = model.momentum
    expected = m * recs[ACCUM - 1]['momentum'] + \
        (1 - m) * recs[ACCUM - 1]['online']
    torch.testing.assert_close(recs[ACCUM]['momentum'], expected,
                               rtol=1e-6, atol=1e-7)


def test_without_accumulation_every_iteration_updates(shapes, tmp_path):
    RecordAccumHook.records = []
    torch.manual_seed(0)
    runner = build_runner(shapes, tmp_path, 1)
    runner.train()
    recs = RecordAccumHook.records
    assert [r['ema'] for r in recs] == list(range(1, ITERS + 1))
    assert [r['ptr'] for r in recs] == [BATCH * i for i in
                                        range(1, ITERS + 1)]
