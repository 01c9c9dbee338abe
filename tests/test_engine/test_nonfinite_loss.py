"""A NaN loss stops training at once, naming the term and the iteration
(default), or is skipped without touching the weights (opt-in)."""
import pytest
import torch
from mmengine.hooks import Hook

from albef_mm.registry import RUNNERS
from test_training import shapes, tiny_cfg  # noqa: F401  (fixture)


def _poison(runner, at_call: int):
    """Make the MLM loss NaN on its ``at_call``-th call (0-based)."""
    head = runner.unwrapped_model.mlm_head
    original, calls = head.loss, []

    def loss(*args, **kwargs):
        calls.append(1)
        value = original(*args, **kwargs)
        return value * float('nan') if len(calls) == at_call + 1 else value
    head.loss = loss


def test_nan_loss_stops_naming_term_iteration_checkpoint(shapes, tmp_path):
    runner = RUNNERS.build(tiny_cfg(shapes, tmp_path, epochs=2))
    _poison(runner, at_call=7)  # epoch 1 (6 iterations per epoch), iter 7
    with pytest.raises(FloatingPointError) as err:
        runner.train()
    msg = str(err.value)
    assert 'loss_mlm=nan' in msg and 'loss_itc' not in msg
    assert 'iteration 7' in msg and 'epoch 1' in msg
    assert 'epoch_1.pth' in msg  # the last checkpoint, still clean
    # the weights were not updated with NaN gradients
    assert all(torch.isfinite(p).all()
               for p in runner.unwrapped_model.parameters())


class _Snapshot(Hook):
    """Trainable weights just before and just after iteration ``at``."""
    priority = 'LOWEST'

    def __init__(self, at):
        self.at, self.before, self.after = at, None, None

    @staticmethod
    def _weights(runner):
        return {n: p.detach().clone()
                for n, p in runner.unwrapped_model.named_parameters()
                if p.requires_grad}

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at:
            self.before = self._weights(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter == self.at:
            self.after = self._weights(runner)


def test_skip_mode_skips_only_that_update(shapes, tmp_path):
    cfg = tiny_cfg(shapes, tmp_path, epochs=1, nonfinite_loss='skip')
    cfg.optim_wrapper.type = 'SkipNonFiniteOptimWrapper'
    runner = RUNNERS.build(cfg)
    _poison(runner, at_call=2)
    skipped, normal = _Snapshot(at=2), _Snapshot(at=3)
    runner.register_hook(skipped)
    runner.register_hook(normal)
    runner.train()
    assert runner.optim_wrapper.num_skipped == 1
    assert all(torch.isfinite(p).all()
               for p in runner.unwrapped_model.parameters())
    # iteration 2 left every weight as it was; iteration 3 updated them
    for name, value in skipped.before.items():
        assert torch.equal(value, skipped.after[name]), name
    assert any(not torch.equal(v, normal.after[n])
               for n, v in normal.before.items())


def test_skip_mode_needs_the_skipping_optim_wrapper(shapes, tmp_path):
    cfg = tiny_cfg(shapes, tmp_path, nonfinite_loss='skip')
    with pytest.raises(ValueError, match='SkipNonFiniteOptimWrapper'):
        RUNNERS.build(cfg)
