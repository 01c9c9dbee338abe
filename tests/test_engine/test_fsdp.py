"""Sharded training on CPU: FSDP (gloo, 2 processes) against DDP on the tiny
pre-training model, with the momentum EMA, the queues and gradient
accumulation; the FlexibleRunner configs build.

Run as a script (``python test_fsdp.py OUT``) this file is the 2-process
worker the test launches.
"""
import os
import os.path as osp
import pickle
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from helpers import CONFIG_ROOT

WORLD, BATCH, STEPS, ACCUM, QUEUE = 2, 2, 4, 2, 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def rank_batch(step: int, rank: int):
    g = torch.Generator().manual_seed(1000 * step + rank)
    images = torch.randn(BATCH, 3, 64, 64, generator=g)
    ids = torch.randint(104, 512, (BATCH, 10), generator=g)
    ids[:, 0] = 101
    return images, ids, torch.ones_like(ids)


def train(wrapped, model, rank):
    """STEPS micro-batches, optimizer step every ACCUM, the ALBEF hooks
    around each, as the runner orders them."""
    from types import SimpleNamespace

    from mmengine.optim import OptimWrapper

    from albef_mm.engine.hooks.albef_hooks import (MomentumUpdateHook,
                                                   QueueUpdateHook)
    optim = OptimWrapper(torch.optim.AdamW(
        [p for p in wrapped.parameters() if p.requires_grad], lr=1e-3,
        weight_decay=0.02), accumulative_counts=ACCUM)
    runner = SimpleNamespace(model=wrapped, optim_wrapper=optim)
    ema, queue = MomentumUpdateHook(), QueueUpdateHook()
    for hook in (ema, queue):
        hook.before_train(runner)
    model.alpha = 0.4
    losses = []
    for step in range(STEPS):
        ema.before_train_iter(runner, step)
        model.generator = torch.Generator().manual_seed(7 * step + rank)
        with optim.optim_context(wrapped):
            out = wrapped(*rank_batch(step, rank), mode='loss')
        optim.update_params(sum(out.values()))
        queue.after_train_iter(runner, step)
        losses.append({k: v.detach().clone() for k, v in out.items()})
    return losses, ema.num_updates


def worker(rank: int, port: int, out: str) -> None:
    import torch.distributed as dist
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    from torch.nn.parallel import DistributedDataParallel as DDP

    from albef_mm.engine.strategies import ALBEFFullyShardedDataParallel
    from albef_mm.registry import MODELS
    from helpers.tiny import tiny_pretrain_model_cfg

    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=WORLD)
    result = {}
    for kind in ('ddp', 'fsdp'):
        # Different seeds per rank: the wrappers must make one model.
        torch.manual_seed(rank if kind == 'fsdp' else 0)
        model = MODELS.build(tiny_pretrain_model_cfg(queue_size=QUEUE))
        model.init_weights()
        model.train()
        if kind == 'ddp':
            wrapped = DDP(model)
        else:
            wrapped = ALBEFFullyShardedDataParallel(
                model, auto_wrap_policy='albef_layer_wrap_policy')
            sizes = [p.numel() for p in model.text_backbone.parameters()]
            result['fsdp_sharded'] = sum(sizes) < sum(
                p.numel() for p in model.text_backbone_m.parameters())
            result['fsdp_units'] = len(FSDP.fsdp_modules(wrapped))
        losses, updates = train(wrapped, model, rank)
        if kind == 'fsdp':
            from torch.distributed.fsdp._common_utils import \
                clean_tensor_name
            with FSDP.summon_full_params(wrapped, writeback=False):
                online = {clean_tensor_name(k): v.detach().clone()
                          for k, v in model.named_parameters()}
        else:
            online = {k: v.detach().clone()
                      for k, v in model.named_parameters()}
        result[kind] = dict(
            losses=losses, ema_updates=updates,
            online=online,
            momentum={k: v.detach().clone() for k, v in
                      model.named_parameters() if '_m.' in k},
            queue=model.itc_loss.image_queue.clone(),
            ptr=int(model.itc_loss.queue_ptr))
    with open(osp.join(out, f'rank{rank}.pkl'), 'wb') as f:
        pickle.dump(result, f)
    dist.destroy_process_group()


def test_fsdp_matches_ddp(tmp_path):
    # the child runs this file as a script: tests/ (where helpers/ lives)
    # must be on its path as pytest puts it on ours
    tests_dir = osp.dirname(osp.dirname(osp.abspath(__file__)))
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join(
                   filter(None, [tests_dir, os.environ.get('PYTHONPATH')])))
    proc = subprocess.run([sys.executable, __file__, str(tmp_path)],
                          capture_output=True, text=True, timeout=900,
                          env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    ranks = [pickle.load(open(tmp_path / f'rank{r}.pkl', 'rb'))
             for r in range(WORLD)]
    for res in ranks:
        ddp, fsdp = res['ddp'], res['fsdp']
        # FSDP really sharded the online model and kept the momentum whole.
        assert res['fsdp_sharded']
        assert res['fsdp_units'] > 1
        # One EMA per optimizer step, every micro-batch enqueued.
        assert ddp['ema_updates'] == fsdp['ema_updates'] == STEPS // ACCUM
        assert ddp['ptr'] == fsdp['ptr'] == STEPS * BATCH * WORLD % QUEUE
        for a, b in zip(fsdp['losses'], ddp['losses']):
            for key in b:
                torch.testing.assert_close(a[key], b[key], rtol=1e-5,
                                           atol=1e-5)
        assert set(fsdp['online']) == set(ddp['online'])
        for key, value in ddp['online'].items():
            torch.testing.assert_close(fsdp['online'][key], value,
                                       rtol=1e-4, atol=1e-5, msg=key)
        for key, value in ddp['momentum'].items():
            torch.testing.assert_close(fsdp['momentum'][key], value,
                                       rtol=1e-4, atol=1e-5, msg=key)
        torch.testing.assert_close(fsdp['queue'], ddp['queue'], rtol=1e-4,
                                   atol=1e-5)
    # Every rank holds the same queue and momentum model.
    torch.testing.assert_close(ranks[0]['fsdp']['queue'],
                               ranks[1]['fsdp']['queue'])
    # The EMA moved the momentum weights (the test has teeth).
    first = ranks[0]['ddp']
    key = 'text_backbone_m.embeddings.word_embeddings.weight'
    assert not torch.equal(first['momentum'][key],
                           first['online'][key.replace('_m.', '.', 1)])


@pytest.mark.parametrize('name', ['pretrain_14m_fsdp', 'pretrain_14m_zero2'])
def test_flexible_runner_configs_build(name):
    from mmengine.registry import STRATEGIES

    import albef_mm.engine  # noqa: F401 registers the wrapper and runner
    from albef_mm.registry import MODEL_WRAPPERS, MODELS, RUNNERS
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef', name + '.py'))
    assert cfg.runner_type == 'ALBEFFlexibleRunner'
    assert RUNNERS.get(cfg.runner_type) is not None
    assert STRATEGIES.get(cfg.strategy.type) is not None
    hooks = {h['type'] for h in cfg.custom_hooks}
    assert {'MomentumUpdateHook', 'QueueUpdateHook',
            'AlphaWarmupHook'} <= hooks
    # The queue divides the global batch of 8 GPUs.
    assert cfg.model.itc_head.queue_size % (
        8 * cfg.train_dataloader.batch_size) == 0
    if name.endswith('fsdp'):
        wrapper = cfg.strategy.model_wrapper
        assert MODEL_WRAPPERS.get(wrapper.type) is not None
        assert wrapper.ignored_modules == 'momentum'
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
        assert cfg.optim_wrapper.dtype == 'bfloat16'
    else:
        ds = cfg.strategy
        assert ds.zero_optimization.stage == 2
        # DeepSpeed's bf16/fp16 modes cast the whole module (momentum
        # encoders and queues included); the config keeps float32 weights.
        assert 'bf16' not in ds and 'fp16' not in ds
        assert cfg.optim_wrapper.type == 'DeepSpeedOptimWrapper'
        # The optimizer DeepSpeed receives keeps ALBEF's parameter groups.
        from mmengine.optim import build_optim_wrapper
        from mmengine.registry import DefaultScope

        from helpers.tiny import tiny_pretrain_model_cfg
        model = MODELS.build(tiny_pretrain_model_cfg())
        with DefaultScope.overwrite_default_scope('albef_mm'):
            optim = build_optim_wrapper(model, cfg.optim_wrapper)
        assert type(optim).__name__ == 'DeepSpeedOptimWrapper'
        decays = sorted(g['weight_decay'] for g in
                        optim.optimizer.param_groups)
        assert decays[0] == 0 and decays[-1] == 0.02
        assert sum(len(g['params']) for g in optim.optimizer.param_groups) \
            == sum(1 for p in model.parameters() if p.requires_grad)


if __name__ == '__main__':
    import torch.multiprocessing as mp
    mp.spawn(worker, args=(free_port(), sys.argv[1]), nprocs=WORLD)
