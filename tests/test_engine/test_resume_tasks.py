"""Exact resume for every fine-tuning task (pre-training: test_training.py
and test_resume_workers.py).

For each task a tiny run is trained for 2 epochs straight, and again
interrupted twice: after its first iteration (a checkpoint every iteration:
resumed in the middle of epoch 0, during the alpha ramp) and after epoch 1
(epoch checkpoints). The resumed parts must give the uninterrupted run's
losses, learning rates and alpha at every iteration, and the final
checkpoint the same weights: online and momentum encoders, ITC queues and
queue pointer (retrieval, grounding), optimizer moments, scheduler state.
What makes that hold: the model's buffers and momentum copies in
``state_dict``, the optimizer and LR scheduler states, the loop's epoch /
iteration (the alpha ramp and ``DefaultSampler``'s ``seed + epoch``
shuffle follow from them), RandomStateHook's generator states, and
ALBEFRunner's mid-epoch resume (skips the trained batches, re-sets torch's
generator after the DataLoader's base-seed draw).

Data workers: ``num_workers=0`` here. How the workers are seeded (MMEngine's
``worker_init_fn`` with ``seed + worker_id``, new workers each epoch with
``persistent_workers=False``) does not depend on the task; it is tested once
with 2 workers, both persistence settings, in test_resume_workers.py. Each
extra worker start costs ~1 s per epoch, times 6 tasks x 4 epochs.

Runs use one torch thread so that the comparison can be bitwise.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from albef_mm.datasets import generate_shapes
from albef_mm.engine.utils import unwrap_model
from albef_mm.registry import RUNNERS
from helpers import CONFIG_ROOT

BATCH = 8
SAMPLES = 16  # first 16 training records: 2 iterations per epoch
EPOCHS = 2


class _Stop(Exception):
    pass


class _Record(Hook):
    """Every iteration's losses, learning rate and alpha; "kills" the run
    after iteration ``stop_iter`` or epoch ``stop_epoch`` (after
    CheckpointHook wrote its file)."""
    priority = 'LOWEST'

    def __init__(self, stop_iter=None, stop_epoch=None):
        self.rows, self.stop_iter, self.stop_epoch = {}, stop_iter, stop_epoch

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        row = {k: float(v.detach()) for k, v in outputs.items()
               if k.startswith('loss') and torch.is_tensor(v)}
        row['lr'] = runner.optim_wrapper.get_lr()['lr'][0]
        model = unwrap_model(runner.model)
        if hasattr(model, 'alpha'):
            row['alpha'] = float(model.alpha)
        self.rows[runner.iter] = row
        if runner.iter + 1 == self.stop_iter:
            raise _Stop

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.stop_epoch:
            raise _Stop


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    generate_shapes(str(root), num_train=24, num_val=4, num_test=4)
    return str(root) + '/'


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _ta_pretrain_cfg(shapes):
    """The NLVR2 text-assignment step: ``nlvr2_ta_pretrain.py`` (ALBEF's
    model and recipe) with the tiny Shapes sizes on Shapes pre-training
    captions."""
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef',
                                   'nlvr2_ta_pretrain.py'))
    sizes = Config.fromfile(osp.join(CONFIG_ROOT, '_base_', 'models',
                                     'shapes_tiny_sizes.py'))
    data = Config.fromfile(osp.join(CONFIG_ROOT, '_base_', 'datasets',
                                    'shapes_pretrain.py'))
    neck = dict(sizes.tiny_neck.to_dict(), num_layers=4)
    cfg.merge_from_dict(dict(model=dict(
        vision_backbone=sizes.tiny_vision_backbone.to_dict(),
        text_backbone=sizes.tiny_text_backbone.to_dict(), neck=neck,
        ta_head=dict(in_channels=sizes.tiny_width),
        vision_width=sizes.tiny_width, embed_dim=sizes.tiny_embed_dim)))
    cfg.train_dataloader = data.train_dataloader
    return cfg


TASKS = {
    # task: (config file, or None for the TA step; overrides)
    'retrieval': ('retrieval_shapes_tiny.py',
                  {'model.itc_head.queue_size': 16}),
    'grounding': ('grounding_shapes_tiny.py',
                  {'model.itc_head.queue_size': 16}),
    'vqa': ('vqa_shapes_tiny.py', {'model.init_from_pretrain': None}),
    'nlvr2': ('nlvr2_shapes_tiny.py', {}),
    'nlvr2_ta': (None, {}),
    'snli_ve': ('snli_ve_shapes_tiny.py', {}),
}


def _run(task, shapes, work, resume=False, by_epoch=True, **stop):
    name, extra = TASKS[task]
    cfg = _ta_pretrain_cfg(shapes) if name is None else Config.fromfile(
        osp.join(CONFIG_ROOT, 'albef', name))
    cfg.merge_from_dict({
        'work_dir': str(work), 'resume': resume, 'load_from': None,
        'test_after_train': False,
        'model.data_preprocessor.tokenizer.name_or_path':
        shapes + 'vocab.txt',
        'train_dataloader.batch_size': BATCH,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.data_root': shapes,
        'train_dataloader.dataset.indices': SAMPLES,
        'train_cfg.max_epochs': EPOCHS, 'train_cfg.val_interval': EPOCHS,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.checkpoint.by_epoch': by_epoch,
        'default_hooks.checkpoint.save_best': None,
        'default_hooks.checkpoint.max_keep_ckpts': 3,
        'default_hooks.logger.interval': 1,
        **extra})
    for key in ('val', 'test'):
        cfg[f'{key}_cfg'] = cfg[f'{key}_dataloader'] = None
        cfg[f'{key}_evaluator'] = None
    # the schedules are per-iteration (convert_to_iter_based): keep them
    # ending with the shortened run
    for sched in cfg.get('param_scheduler') or []:
        sched.update(max_epochs=EPOCHS, end=EPOCHS)
    cfg.custom_hooks = list(cfg.get('custom_hooks', []))
    runner = RUNNERS.build(cfg)
    record = _Record(**stop)
    runner.register_hook(record)
    try:
        runner.train()
    except _Stop:
        pass
    return runner, record.rows


def _final_state(work):
    return torch.load(osp.join(work, f'epoch_{EPOCHS}.pth'),
                      map_location='cpu', weights_only=False)


@pytest.mark.parametrize('task', list(TASKS))
def test_resumed_run_equals_uninterrupted(task, shapes, tmp_path,
                                          one_thread):
    per_epoch = SAMPLES // BATCH
    _, straight = _run(task, shapes, tmp_path / 'a')
    assert sorted(straight) == list(range(EPOCHS * per_epoch))
    work = tmp_path / 'b'
    # killed after the first iteration (a checkpoint every iteration):
    # resumed in the middle of epoch 0, during the alpha ramp ...
    _, part1 = _run(task, shapes, work, by_epoch=False, stop_iter=1)
    assert osp.isfile(work / 'iter_1.pth')
    # ... killed again after epoch 0 (epoch checkpoints) and resumed
    _, part2 = _run(task, shapes, work, resume=True, stop_epoch=1)
    assert osp.isfile(work / 'epoch_1.pth')
    _, part3 = _run(task, shapes, work, resume=True)
    assert sorted(part1) == [0]
    assert sorted(part2) == list(range(1, per_epoch))
    assert sorted(part3) == list(range(per_epoch, EPOCHS * per_epoch))
    resumed = {**part1, **part2, **part3}
    for it, row in resumed.items():
        assert row.keys() == straight[it].keys()
        for key, value in row.items():
            assert value == pytest.approx(straight[it][key], rel=1e-6,
                                          abs=1e-6), (task, it, key)
    if task in ('retrieval', 'grounding', 'vqa', 'nlvr2'):
        # the resume at iteration 1 fell inside the alpha ramp of epoch 0
        assert 0 < straight[1]['alpha'] < straight[per_epoch]['alpha']

    a, b = _final_state(tmp_path / 'a'), _final_state(work)
    assert a['meta']['iter'] == b['meta']['iter'] == EPOCHS * per_epoch
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key, value in a['state_dict'].items():
        other = b['state_dict'][key]
        if value.is_floating_point():
            assert torch.allclose(value, other, rtol=0, atol=1e-6), key
        else:
            assert torch.equal(value, other), key
    # the optimizer moments and step counts as well
    sa, sb = a['optimizer']['state'], b['optimizer']['state']
    assert sa.keys() == sb.keys()
    for idx in sa:
        for k, v in sa[idx].items():
            assert torch.allclose(v.float(), sb[idx][k].float(), rtol=0,
                                  atol=1e-6), (idx, k)
    assert a['param_schedulers'] == b['param_schedulers']
    # the state worth resuming exists and moved: queues, momentum copies
    names = list(a['state_dict'])
    if task in ('retrieval', 'grounding'):
        ptr = a['state_dict']['itc_loss.queue_ptr'].item()
        assert ptr == (EPOCHS * per_epoch * BATCH) % 16
    if task != 'nlvr2_ta':
        assert any('_m.' in n for n in names), names[:20]
