"""End-to-end training of the tiny Shapes config: build-time checks, resume
equivalence, distributed queues."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from albef_mm.datasets import generate_shapes
from albef_mm.registry import HOOKS, RUNNERS
from helpers import CONFIG_ROOT
from helpers.tiny import REPO_ROOT

TINY = osp.join(CONFIG_ROOT, 'albef', 'pretrain_shapes_tiny.py')


class StopAfterEpoch(Exception):
    pass


@HOOKS.register_module(force=True)
class RecordLossHook(Hook):
    """Test helper: keeps every iteration's losses; optionally "kills" the
    run after an epoch (after its checkpoint was written)."""
    priority = 'LOWEST'
    records = []

    def __init__(self, stop_after_epoch=None):
        self.stop_after_epoch = stop_after_epoch

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        RecordLossHook.records.append(
            (runner.iter, {k: float(v.detach()) if torch.is_tensor(v) else
                           float(v) for k, v in outputs.items()}))

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.stop_after_epoch:
            raise StopAfterEpoch


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    generate_shapes(str(root), num_train=96, num_val=24, num_test=24)
    return str(root)


def tiny_cfg(shapes, work_dir, epochs=2, batch=16, queue=64, **extra):
    cfg = Config.fromfile(TINY)
    root = shapes + '/'
    cfg.merge_from_dict({
        'work_dir': str(work_dir),
        'model.data_preprocessor.tokenizer.name_or_path':
        osp.join(shapes, 'vocab.txt'),
        'model.itc_head.queue_size': queue,
        'train_dataloader.batch_size': batch,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.data_root': root,
        'val_dataloader.num_workers': 0,
        'val_dataloader.dataset.data_root': root,
        'test_dataloader.num_workers': 0,
        'test_dataloader.dataset.data_root': root,
        'train_cfg.max_epochs': epochs,
        'train_cfg.val_interval': epochs,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.logger.interval': 1,
    })
    cfg.merge_from_dict(extra)
    return cfg


def test_missing_hook_fails_at_build(shapes, tmp_path):
    cfg = tiny_cfg(shapes, tmp_path)
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] != 'QueueUpdateHook']
    with pytest.raises(ValueError, match=r"needs the training hooks "
                       r"\['QueueUpdateHook'\]"):
        RUNNERS.build(cfg)


def test_queue_not_divisible_by_global_batch_fails_at_build(shapes,
                                                           tmp_path):
    cfg = tiny_cfg(shapes, tmp_path, batch=24, queue=64)
    with pytest.raises(ValueError, match='queue_size=64 is not a multiple '
                       'of the global batch 24'):
        RUNNERS.build(cfg)


def test_resume_gives_the_losses_of_an_uninterrupted_run(shapes, tmp_path):
    hooks = lambda stop=None: [dict(type='RecordLossHook',  # noqa: E731
                                    stop_after_epoch=stop)]
    RecordLossHook.records = []
    cfg = tiny_cfg(shapes, tmp_path / 'a', test_after_train=False)
    cfg.custom_hooks += hooks()
    RUNNERS.build(cfg).train()
    straight = dict(RecordLossHook.records)

    RecordLossHook.records = []
    cfg = tiny_cfg(shapes, tmp_path / 'b', test_after_train=False)
    cfg.custom_hooks += hooks(stop=1)
    with pytest.raises(StopAfterEpoch):
        RUNNERS.build(cfg).train()
    assert osp.isfile(tmp_path / 'b' / 'epoch_1.pth')
    RecordLossHook.records = []
    cfg = tiny_cfg(shapes, tmp_path / 'b', test_after_train=False,
                   resume=True)
    cfg.custom_hooks += hooks()
    RUNNERS.build(cfg).train()
    resumed = dict(RecordLossHook.records)

    iters_per_epoch = 96 // 16
    # runner.iter counts from 0 inside after_train_iter
    assert sorted(resumed) == list(range(iters_per_epoch,
                                         2 * iters_per_epoch))
    for it, losses in resumed.items():
        for key in ('loss_itc', 'loss_itm', 'loss_mlm'):
            assert losses[key] == pytest.approx(straight[it][key],
                                                rel=1e-5, abs=1e-6), (it, key)


def _gather_worker(rank, world, port, out):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    from albef_mm.models.heads import ITCLoss
    torch.manual_seed(0)  # DDP broadcasts rank 0's buffers in training
    head = ITCLoss(embed_dim=3, queue_size=8)
    head.queue_ptr[0] = 6
    feats = torch.full((2, 3), float(rank + 1))
    head.enqueue(feats, -feats)
    torch.save(dict(image=head.image_queue, text=head.text_queue,
                    ptr=head.queue_ptr), osp.join(out, f'{rank}.pth'))
    dist.destroy_process_group()


def test_queue_gathers_features_of_all_ranks(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    torch.multiprocessing.spawn(_gather_worker, args=(2, port, str(tmp_path)),
                                nprocs=2)
    r0, r1 = (torch.load(tmp_path / f'{r}.pth') for r in (0, 1))
    for q in ('image', 'text'):
        assert torch.equal(r0[q], r1[q])
    # rank 0's two samples at columns 6-7, rank 1's wrap to 0-1
    assert torch.equal(r0['image'][:, 6:], torch.ones(3, 2))
    assert torch.equal(r0['image'][:, :2], 2 * torch.ones(3, 2))
    assert torch.equal(r0['text'][:, :2], -2 * torch.ones(3, 2))
    assert r0['ptr'].item() == 2


def test_two_process_dist_train_sh(shapes, tmp_path):
    """``tools/dist_train.sh`` with 2 CPU processes (gloo): the queue
    pointer advances by the global batch (2 x 8) per iteration."""
    work = tmp_path / 'dist'
    opts = [
        f'work_dir={work}',
        f'model.data_preprocessor.tokenizer.name_or_path='
        f'{osp.join(shapes, "vocab.txt")}',
        'model.itc_head.queue_size=64', 'train_dataloader.batch_size=8',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        f'train_dataloader.dataset.data_root={shapes}/',
        'train_cfg.max_epochs=1', 'test_after_train=False',
    ]
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1',
               PORT=str(29600 + os.getpid() % 300))
    result = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), TINY, '2',
         '--no-validate', '--cfg-options'] + opts,
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + \
        result.stderr[-3000:]
    ckpt = torch.load(work / 'epoch_1.pth', weights_only=False)
    iters = 96 // (2 * 8)
    ptr = ckpt['state_dict']['itc_loss.queue_ptr'].item()
    assert ptr == (iters * 2 * 8) % 64
    assert ckpt['meta']['iter'] == iters
