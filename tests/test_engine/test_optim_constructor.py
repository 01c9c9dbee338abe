import copy

import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import DefaultScope

import albef_mm  # noqa: F401  (registries and compat fix)
from albef_mm.engine.optimizers import ALBEFOptimWrapperConstructor


class ToyALBEF(nn.Module):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.norm = nn.LayerNorm(3)
        self.temp = nn.Parameter(torch.tensor(0.07))
        self.pos_embed = nn.Parameter(torch.zeros(1, 5, 3))
        self.embed = nn.Embedding(10, 3)
        # a 2-d tensor whose name ends in ".bias" is not decayed
        self.odd = nn.Module()
        self.odd.bias = nn.Parameter(torch.zeros(2, 2))
        # momentum copy: frozen, must not reach the optimizer
        self.linear_m = copy.deepcopy(self.linear)
        for p in self.linear_m.parameters():
            p.requires_grad = False


class ToyWrapper(nn.Module):
    """Stands in for DDP: the real model lives in ``.module``."""

    def __init__(self, module):
        super().__init__()
        self.module = module


def _expected(model):
    no_decay = [model.linear.bias, model.norm.weight, model.norm.bias,
                model.odd.bias]
    decay = [model.linear.weight, model.temp, model.pos_embed,
             model.embed.weight]
    return no_decay, decay


def _ids(params):
    return {id(p) for p in params}


def _cfg(wrapper_type='OptimWrapper', **optim_kwargs):
    optimizer = dict(type='AdamW', lr=1e-4, weight_decay=0.02)
    optimizer.update(optim_kwargs)
    return dict(type=wrapper_type, optimizer=optimizer,
                constructor='ALBEFOptimWrapperConstructor')


@pytest.mark.parametrize('wrap', [False, True])
def test_param_groups(wrap):
    model = ToyALBEF()
    target = ToyWrapper(model) if wrap else model
    with DefaultScope.overwrite_default_scope('albef_mm'):
        optim_wrapper = build_optim_wrapper(target, _cfg())
    assert isinstance(optim_wrapper, OptimWrapper)
    optimizer = optim_wrapper.optimizer
    assert isinstance(optimizer, torch.optim.AdamW)
    groups = optimizer.param_groups
    assert len(groups) == 2
    no_decay, decay = _expected(model)
    # exact membership by identity, original order: no-decay group first
    assert _ids(groups[0]['params']) == _ids(no_decay)
    assert len(groups[0]['params']) == len(no_decay)
    assert _ids(groups[1]['params']) == _ids(decay)
    assert len(groups[1]['params']) == len(decay)
    assert groups[0]['weight_decay'] == 0.
    assert groups[1]['weight_decay'] == 0.02
    assert all(g['lr'] == 1e-4 for g in groups)
    frozen = _ids(model.linear_m.parameters())
    optimized = _ids(groups[0]['params']) | _ids(groups[1]['params'])
    assert not frozen & optimized
    # every trainable parameter is optimized exactly once
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert optimized == _ids(trainable)


def test_log_counts(monkeypatch):
    from albef_mm.engine.optimizers import albef_optim_constructor
    messages = []
    monkeypatch.setattr(albef_optim_constructor, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    cfg = _cfg()
    cfg.pop('constructor')
    constructor = ALBEFOptimWrapperConstructor(cfg)
    with DefaultScope.overwrite_default_scope('albef_mm'):
        constructor(ToyALBEF())
    # linear.bias 3 + norm 3+3 + odd.bias 4 = 13;
    # linear.weight 12 + temp 1 + pos_embed 15 + embed 30 = 58
    text = '\n'.join(messages)
    assert 'no weight decay group has 4 tensors (13 parameters)' in text
    assert ': weight decay group has 4 tensors (58 parameters)' in text


def test_paramwise_cfg_rejected():
    with pytest.raises(ValueError, match='paramwise_cfg'):
        ALBEFOptimWrapperConstructor(
            _cfg(), paramwise_cfg=dict(bias_decay_mult=0.))


def test_weight_decay_applied():
    """One AdamW step: decayed tensors shrink, no-decay ones do not."""
    model = ToyALBEF()
    with DefaultScope.overwrite_default_scope('albef_mm'):
        optim_wrapper = build_optim_wrapper(model, _cfg(lr=0.1))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.)
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.zeros_like(p)
    optim_wrapper.step()
    no_decay, decay = _expected(model)
    for p in no_decay:
        assert torch.all(p == 1.)
    for p in decay:
        assert torch.allclose(p, torch.full_like(p, 1. - 0.1 * 0.02))


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason='AmpOptimWrapper needs a GPU')
def test_amp_optim_wrapper():
    from mmengine.optim import AmpOptimWrapper
    model = ToyALBEF().cuda()
    with DefaultScope.overwrite_default_scope('albef_mm'):
        optim_wrapper = build_optim_wrapper(model, _cfg('AmpOptimWrapper'))
    assert isinstance(optim_wrapper, AmpOptimWrapper)
    no_decay, decay = _expected(model)
    groups = optim_wrapper.optimizer.param_groups
    assert _ids(groups[0]['params']) == _ids(no_decay)
    assert _ids(groups[1]['params']) == _ids(decay)


def test_adamw_defaults_to_fused_kernel():
    """Neither ``fused`` nor ``foreach`` set: torch's fused AdamW is used."""
    with DefaultScope.overwrite_default_scope('albef_mm'):
        optimizer = build_optim_wrapper(ToyALBEF(), _cfg()).optimizer
    assert all(g['fused'] is True for g in optimizer.param_groups)


@pytest.mark.parametrize('kwargs', [dict(fused=False), dict(foreach=True)])
def test_explicit_kernel_choice_is_kept(kwargs):
    with DefaultScope.overwrite_default_scope('albef_mm'):
        optimizer = build_optim_wrapper(ToyALBEF(), _cfg(**kwargs)).optimizer
    assert all(not g['fused'] for g in optimizer.param_groups)
    if 'foreach' in kwargs:
        assert all(g['foreach'] is True for g in optimizer.param_groups)


def test_fused_default_skipped_for_deepspeed_and_other_optimizers():
    use = ALBEFOptimWrapperConstructor.use_fused_default
    assert use(dict(type='AdamW'), dict(type='OptimWrapper'))
    assert use(dict(type=torch.optim.Adam), dict(type='AmpOptimWrapper'))
    assert not use(dict(type='AdamW'), dict(type='DeepSpeedOptimWrapper'))
    assert not use(dict(type='SGD'), dict(type='OptimWrapper'))


def test_fused_and_foreach_adamw_take_the_same_steps():
    """The fused default is the same update rule: five steps of both
    kernels from the same weights and gradients agree to float rounding."""
    results = []
    for kwargs in (dict(), dict(fused=False, foreach=True)):
        torch.manual_seed(0)
        model = ToyALBEF()
        with DefaultScope.overwrite_default_scope('albef_mm'):
            optimizer = build_optim_wrapper(model, _cfg(**kwargs)).optimizer
        g = torch.Generator().manual_seed(1)
        for _ in range(5):
            for p in model.parameters():
                if p.requires_grad:
                    p.grad = torch.randn(p.shape, generator=g)
            optimizer.step()
        results.append([p.detach().clone() for p in model.parameters()])
    moved = 0
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
        moved += 1
    assert moved == len(results[0]) > 0
