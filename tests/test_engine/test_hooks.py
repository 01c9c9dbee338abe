"""The ALBEF training hooks on a stand-in runner."""
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

from albef_mm.engine.hooks import (AlphaWarmupHook, MomentumUpdateHook,
                                   QueueUpdateHook, RandomStateHook,
                                   SkippedSampleReportHook)


class FakeModel:
    def __init__(self):
        self.alpha, self.max_alpha = None, 0.4
        self.calls = []
        self.hooks = set()

    def attach_hook(self, name):
        self.hooks.add(name)

    def momentum_update(self):
        self.calls.append('ema')

    def dequeue_and_enqueue(self):
        self.calls.append('enqueue')


def runner(iteration=0, iters_per_epoch=10, dataset=None):
    return SimpleNamespace(
        model=FakeModel(), iter=iteration,
        train_dataloader=SimpleNamespace(
            __len__=None, dataset=dataset) if dataset else list(
                range(iters_per_epoch)),
        message_hub=MessageHub.get_instance('test-hooks'), epoch=0)


@pytest.mark.parametrize('iteration,expected', [(0, 0.0), (5, 0.2),
                                                (9, 0.36), (10, 0.4),
                                                (57, 0.4)])
def test_alpha_ramps_linearly_over_the_first_epoch(iteration, expected):
    r = runner(iteration)
    AlphaWarmupHook().before_train_iter(r, 0)
    assert r.model.alpha == pytest.approx(expected)
    r.model.alpha = None
    AlphaWarmupHook(warmup=False).before_train_iter(r, 0)
    assert r.model.alpha == 0.4


def test_momentum_and_queue_hooks_call_the_model_in_order():
    r = runner()
    hooks = [MomentumUpdateHook(), QueueUpdateHook(), AlphaWarmupHook()]
    for h in hooks:
        h.before_train(r)
    assert r.model.hooks == {'MomentumUpdateHook', 'QueueUpdateHook',
                             'AlphaWarmupHook'}
    hooks[0].before_train_iter(r, 0)
    hooks[1].after_train_iter(r, 0)
    assert r.model.calls == ['ema', 'enqueue']


def test_skip_report(caplog):
    dataset = SimpleNamespace(num_skipped=3)
    r = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset),
                        message_hub=MessageHub.get_instance('test-skip'),
                        epoch=1)
    SkippedSampleReportHook().after_train_epoch(r)
    assert r.message_hub.get_info('train/num_skipped') == 3


def test_random_state_restored_only_when_resuming():
    hook = RandomStateHook()
    ckpt = {}
    torch.manual_seed(3)
    hook.before_save_checkpoint(None, ckpt)
    expected = torch.rand(3)
    hook.after_load_checkpoint(SimpleNamespace(_resume=True), ckpt)
    assert torch.equal(torch.rand(3), expected)
    hook.after_load_checkpoint(SimpleNamespace(_resume=False), ckpt)
    assert not torch.equal(torch.rand(3), expected)


def test_random_state_hook_restores_every_generator_on_resume():
    hook = RandomStateHook()
    ckpt = {}
    hook.before_save_checkpoint(None, ckpt)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    hook.after_load_checkpoint(SimpleNamespace(_resume=True), ckpt)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == \
        expected
    # a plain load (no resume) leaves the generators alone
    hook.after_load_checkpoint(SimpleNamespace(_resume=False), ckpt)
    assert np.random.rand() != expected[1]


def test_alpha_warmup_hook_logs_train_alpha():
    model = SimpleNamespace(alpha=0.0, max_alpha=0.4)
    hub = MessageHub.get_instance('albef_mm_alpha_log_test')
    runner = SimpleNamespace(model=model, train_dataloader=[0] * 8, iter=2,
                             message_hub=hub)
    hook = AlphaWarmupHook()
    hook.before_train_iter(runner, 2)
    hook.after_train_iter(runner, 2)
    assert model.alpha == 0.4 * 2 / 8
    assert hub.get_scalar('train/alpha').current() == 0.1
