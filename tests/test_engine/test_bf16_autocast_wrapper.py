"""``BF16AutocastOptimWrapper``: bf16 autocast without a loss scaler on the
CPU (``--amp`` of tools/train.py and benchmark.py where there is no GPU)."""
import contextlib
import os.path as osp
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from albef_mm.engine import run_train_iteration
from albef_mm.engine.optimizers import (BF16AutocastOptimWrapper,
                                        autocast_wrapper,
                                        use_mixed_precision)
from albef_mm.registry import MODELS
from helpers import CONFIG_ROOT
from helpers.tiny import tiny_pretrain_model_cfg
from helpers.scripts import load_script


def _optim(model, wrapper='BF16AutocastOptimWrapper'):
    with DefaultScope.overwrite_default_scope('albef_mm'):
        return build_optim_wrapper(model, dict(
            type=wrapper, optimizer=dict(type='AdamW', lr=1e-3,
                                         weight_decay=0.02),
            constructor='ALBEFOptimWrapperConstructor'))


def test_forward_runs_in_bf16_and_states_stay_fp32():
    model = torch.nn.Linear(8, 4)
    optim = _optim(model)
    assert isinstance(optim, BF16AutocastOptimWrapper)
    with optim.optim_context(model):
        out = model(torch.randn(2, 8))
    assert out.dtype == torch.bfloat16
    assert model(torch.randn(2, 8)).dtype == torch.float32  # outside
    optim.update_params(out.float().pow(2).mean())
    assert model.weight.dtype == torch.float32
    state = optim.optimizer.state[model.weight]
    assert state['exp_avg'].dtype == torch.float32
    assert state['exp_avg'].abs().sum() > 0  # the step ran


def test_pretrain_step_matches_float32_within_bf16_tolerance():
    """One ALBEF pre-training iteration (EMA, all losses, AdamW, enqueue)
    under the wrapper: the losses agree with float32 to bf16 precision, the
    parameters move and the queue advances."""
    g = torch.Generator().manual_seed(1)
    data = (torch.randn(4, 3, 64, 64, generator=g),
            torch.randint(104, 512, (4, 12), generator=g),
            torch.ones(4, 12, dtype=torch.long))
    data[1][:, 0] = 101
    results = {}
    for wrapper in ('OptimWrapper', 'BF16AutocastOptimWrapper'):
        torch.manual_seed(0)
        model = MODELS.build(tiny_pretrain_model_cfg(queue_size=16)).train()
        model.generator = torch.Generator().manual_seed(0)
        optim = _optim(model, wrapper)
        before = model.vision_backbone.patch_embed.proj.weight.clone()

        def forward_backward():
            with optim.optim_context(model):
                losses = model.loss(*data)
            optim.update_params(sum(losses.values()))
            return losses

        losses = run_train_iteration(model, forward_backward)
        assert all(v.dtype == torch.float32 for v in losses.values())
        assert not torch.equal(
            before, model.vision_backbone.patch_embed.proj.weight)
        assert int(model.itc_loss.queue_ptr) == 4
        results[wrapper] = {k: float(v.detach()) for k, v in losses.items()}
    fp32, bf16 = results['OptimWrapper'], results['BF16AutocastOptimWrapper']
    assert set(fp32) == {'loss_itc', 'loss_itm', 'loss_mlm'}
    for key in fp32:
        assert bf16[key] == pytest.approx(fp32[key], rel=3e-2), key
    assert bf16 != fp32  # bf16 did run: not bit-identical


def test_explicit_device_type_is_used():
    model = torch.nn.Linear(8, 4)
    optim = _optim(model)
    optim.device_type = 'cpu'
    with mock.patch.object(torch, 'autocast',
                           wraps=torch.autocast) as spy:
        with optim.optim_context(model):
            pass
    spy.assert_called_once_with(device_type='cpu', dtype=torch.bfloat16)


@pytest.mark.parametrize('flags,expected', [
    ('fpu vme avx512f amx_bf16 amx_tile', True),
    ('fpu avx512f avx512_bf16', True),
    ('fpu sse4_2 avx2', False)])
def test_cpu_flag_detection(tmp_path, flags, expected):
    info = tmp_path / 'cpuinfo'
    info.write_text(f'processor : 0\nflags : {flags}\n')
    real_open = open

    def fake_open(path, *args, **kwargs):
        if path == '/proc/cpuinfo':
            return real_open(info, *args, **kwargs)
        return real_open(path, *args, **kwargs)

    with mock.patch('builtins.open', fake_open):
        assert autocast_wrapper.cpu_has_fast_bf16() is expected


def test_train_tool_amp_on_cpu_selects_the_wrapper():
    tool = load_script('tools', 'train.py')
    config = osp.join(CONFIG_ROOT, 'albef', 'pretrain_shapes_tiny.py')
    with mock.patch.object(torch.cuda, 'is_available', return_value=False):
        cfg = tool.merge_args(Config.fromfile(config),
                              tool.parse_args([config, '--amp']))
    assert cfg.optim_wrapper.type == 'BF16AutocastOptimWrapper'
    assert 'dtype' not in cfg.optim_wrapper  # no AmpOptimWrapper keys
    cfg = tool.merge_args(Config.fromfile(config),
                          tool.parse_args([config]))
    assert cfg.optim_wrapper.type == 'OptimWrapper'


def test_gradient_accumulation_skips_ddp_sync_until_the_update():
    """The wrapper keeps OptimWrapper's accumulation context: with
    ``accumulative_counts=2`` the first backward of each pair runs under
    the model's ``no_sync`` (no DDP all-reduce), the second does not."""
    class SyncRecorder(torch.nn.Linear):
        def __init__(self):
            super().__init__(4, 2)
            self.no_sync_calls = 0

        @contextlib.contextmanager
        def no_sync(self):
            self.no_sync_calls += 1
            yield

    model = SyncRecorder()
    with DefaultScope.overwrite_default_scope('albef_mm'):
        optim = build_optim_wrapper(model, dict(
            type='BF16AutocastOptimWrapper', accumulative_counts=2,
            optimizer=dict(type='SGD', lr=0.1)))
    optim.initialize_count_status(model, 0, 4)
    seen = []
    for _ in range(4):
        with optim.optim_context(model):
            out = model(torch.randn(3, 4))
            seen.append(model.no_sync_calls)
        optim.update_params(out.float().sum())
    assert out.dtype == torch.bfloat16
    assert seen == [1, 1, 2, 2]


@pytest.mark.parametrize('bf16_ok, dtype, scale', [
    (True, 'bfloat16', None), (False, 'float16', 'dynamic')])
def test_mixed_precision_on_cuda_uses_amp_with_the_best_dtype(
        bf16_ok, dtype, scale):
    with mock.patch.object(torch.cuda, 'is_bf16_supported',
                           return_value=bf16_ok):
        cfg = use_mixed_precision(dict(type='OptimWrapper', optimizer={}),
                                  'cuda:0')
        assert cfg['type'] == 'AmpOptimWrapper' and cfg['dtype'] == dtype
        assert cfg.get('loss_scale') == scale
        # a dtype the config chose is kept
        kept = use_mixed_precision(dict(dtype='float16'), 'cuda')
        assert kept == dict(type='AmpOptimWrapper', dtype='float16',
                            loss_scale='dynamic')


@pytest.mark.parametrize('fast', [True, False])
def test_mixed_precision_on_cpu_uses_the_autocast_wrapper(fast, capsys):
    from mmengine.logging import MMLogger
    MMLogger.get_instance('albef_mixed_precision_test')
    with mock.patch.object(autocast_wrapper, 'cpu_has_fast_bf16',
                           return_value=fast):
        cfg = use_mixed_precision(dict(type='OptimWrapper'), 'cpu')
    assert cfg == dict(type='BF16AutocastOptimWrapper')
    out = capsys.readouterr()
    warned = 'without AMX / AVX-512-BF16' in out.out + out.err
    assert warned is not fast
