"""A ``kill -9`` in the middle of writing a checkpoint leaves the previous
checkpoint loadable, ``last_checkpoint`` naming it, and the run resumable
(ALBEFRunner's atomic save + AtomicCheckpointHook); MMEngine's own runner
and hook, under the same kill, lose the only checkpoint."""
import os
import os.path as osp
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from albef_mm.checkpoint import load_any
from albef_mm.datasets import generate_shapes
from albef_mm.utils.atomic_io import (TMP_MARK, atomic_path,
                                       atomic_torch_save, atomic_write_text,
                                       remove_stale_temporaries,
                                       temporary_name)
from albef_mm.engine.hooks.atomic_checkpoint_hook import AtomicCheckpointHook
from albef_mm.registry import RUNNERS
from helpers import CONFIG_ROOT
from helpers.tiny import REPO_ROOT

CONFIG = osp.join(CONFIG_ROOT, 'albef', 'retrieval_shapes_tiny.py')
MARK = 'HALF-WRITTEN'

# The child trains the retrieval config (max_keep_ckpts=1, as shipped) for
# 2 epochs; the file write of the epoch-2 checkpoint stops half-way and
# waits to be killed.
CHILD = textwrap.dedent('''
    import sys, time
    from mmengine.config import Config
    from mmengine.fileio.backends.local_backend import LocalBackend
    from albef_mm.registry import RUNNERS

    def slow_put(self, obj, filepath):
        with open(filepath, 'wb') as f:
            if 'epoch_2' in str(filepath):
                f.write(obj[:len(obj) // 2])
                f.flush()
                print('{mark}', filepath, flush=True)
                time.sleep(300)
            f.write(obj)

    LocalBackend.put = slow_put
    cfg = Config.fromfile(sys.argv[1])
    runner = RUNNERS.build(cfg)
    runner.train()
''').format(mark=MARK)


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    generate_shapes(str(root), num_train=8, num_val=2, num_test=2)
    return str(root) + '/'


def _config(shapes, work, runner_type='ALBEFRunner', resume=False):
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({
        'work_dir': str(work), 'load_from': None, 'resume': resume,
        'runner_type': runner_type, 'test_after_train': False,
        'model.data_preprocessor.tokenizer.name_or_path':
        shapes + 'vocab.txt',
        'model.itc_head.queue_size': 16,
        'train_dataloader.batch_size': 8,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.data_root': shapes,
        'train_cfg.max_epochs': 2, 'train_cfg.val_interval': 2,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.checkpoint.save_best': None,
    })
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 1
    for key in ('val', 'test'):
        cfg[f'{key}_cfg'] = cfg[f'{key}_dataloader'] = None
        cfg[f'{key}_evaluator'] = None
    return cfg


def _train_and_kill(shapes, work, runner_type):
    work.mkdir()
    cfg_file = work / 'cfg.py'
    _config(shapes, work, runner_type).dump(str(cfg_file))
    script = work / 'child.py'
    script.write_text(CHILD)
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=REPO_ROOT + os.pathsep +
               os.environ.get('PYTHONPATH', ''))
    proc = subprocess.Popen([sys.executable, str(script), str(cfg_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=REPO_ROOT)
    lines, deadline = [], time.time() + 240
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(MARK):
                break
            assert time.time() < deadline, ''.join(lines[-30:])
        else:
            pytest.fail('the child ended before the save:\n' +
                        ''.join(lines[-30:]))
        os.kill(proc.pid, signal.SIGKILL)  # in the middle of the write
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return line.split()[1]  # the file being written


def test_kill_during_save_keeps_previous_checkpoint(shapes, tmp_path):
    work = tmp_path / 'albef'
    partial = _train_and_kill(shapes, work, 'ALBEFRunner')
    # the half-written bytes went to a hidden temporary file ...
    assert osp.basename(partial).startswith('.epoch_2.pth.tmp-')
    assert osp.getsize(partial) > 0
    # ... the final name was never created, the previous file is intact
    assert not osp.exists(work / 'epoch_2.pth')
    last = (work / 'last_checkpoint').read_text()
    assert last == str(work / 'epoch_1.pth')
    ckpt = load_any(last)
    # 16 records (2 captions per image) in batches of 8
    assert ckpt['meta']['epoch'] == 1 and ckpt['meta']['iter'] == 2
    assert 'itc_loss.image_queue' in ckpt['state_dict']

    # resume: epoch 2 runs from epoch_1.pth, the stale temporary file is
    # removed, the outdated epoch_1.pth goes once epoch_2.pth exists
    runner = RUNNERS.build(_config(shapes, work, resume=True))
    runner.train()
    assert runner.iter == 4
    assert not osp.exists(partial)
    assert (work / 'last_checkpoint').read_text() == str(work /
                                                         'epoch_2.pth')
    assert load_any(str(work / 'epoch_2.pth'))['meta']['epoch'] == 2
    assert not osp.exists(work / 'epoch_1.pth')  # max_keep_ckpts=1


def test_mmengine_loses_the_checkpoint_under_the_same_kill(shapes,
                                                           tmp_path):
    """The control: MMEngine's runner deletes epoch_1.pth (max_keep_ckpts)
    before writing epoch_2.pth in place, so the kill leaves a truncated
    file and ``last_checkpoint`` pointing at a deleted one."""
    work = tmp_path / 'mmengine'
    partial = _train_and_kill(shapes, work, 'Runner')
    assert partial == str(work / 'epoch_2.pth')
    assert not osp.exists(work / 'epoch_1.pth')
    assert (work / 'last_checkpoint').read_text() == str(work /
                                                         'epoch_1.pth')
    with pytest.raises(Exception):
        torch.load(partial, weights_only=True)


def test_atomic_path_keeps_old_file_on_error(tmp_path):
    target = tmp_path / 'model.pth'
    atomic_torch_save({'w': torch.ones(2)}, str(target))
    with pytest.raises(RuntimeError, match='disk full'):
        with atomic_path(str(target)) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'partial')
            raise RuntimeError('disk full')
    assert torch.equal(torch.load(target)['w'], torch.ones(2))
    assert os.listdir(tmp_path) == ['model.pth']  # no temporary left
    atomic_write_text(str(tmp_path / 'last_checkpoint'), 'x')
    assert (tmp_path / 'last_checkpoint').read_text() == 'x'


def test_remove_stale_temporaries(tmp_path):
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    stale = tmp_path / f'.epoch_3.pth.tmp-{dead.pid}'
    live = tmp_path / f'.epoch_3.pth.tmp-{os.getppid()}'
    other = tmp_path / '.hidden'
    for path in (stale, live, other):
        path.write_bytes(b'x')
    assert remove_stale_temporaries(str(tmp_path)) == [str(stale)]
    assert live.exists() and other.exists()


def test_temporary_name_is_hidden_and_cleaned_up_in_odd_folders(tmp_path):
    folder = tmp_path / 'ckpt[1]'  # glob metacharacters in the folder name
    target = folder / 'sub' / 'epoch_1.pth'
    # the folder is created on demand
    atomic_write_text(str(target), 'weights')
    assert target.read_text() == 'weights'
    tmp = temporary_name(str(target))
    assert os.path.basename(tmp) == f'.epoch_1.pth{TMP_MARK}{os.getpid()}'
    assert os.path.dirname(tmp) == str(folder / 'sub')
    # a temporary of this very process (an earlier, interrupted write) is
    # stale as well
    with open(tmp, 'w') as f:
        f.write('partial')
    assert remove_stale_temporaries(str(folder / 'sub')) == [tmp]
    assert sorted(os.listdir(folder / 'sub')) == ['epoch_1.pth']


def test_atomic_path_cleans_up_after_keyboard_interrupt(tmp_path):
    target = tmp_path / 'last_checkpoint'
    target.write_text('old')
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(str(target)) as tmp:
            with open(tmp, 'w') as f:
                f.write('new')
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == ['last_checkpoint']
    assert target.read_text() == 'old'


@pytest.fixture
def restore_default_scope():
    """A plain MMEngine Runner makes 'mmengine' the current default scope;
    drop the scopes a test creates so later tests build in their own."""
    before = set(DefaultScope._instance_dict)
    yield
    for name in list(DefaultScope._instance_dict):
        if name not in before:
            del DefaultScope._instance_dict[name]


class _Toy(BaseModel):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(1, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.fc(torch.stack(inputs))
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return [dict(v=float(v)) for v in out]


class _Scheduled(BaseMetric):
    """Reports the next values of a fixed schedule at each evaluation."""

    def __init__(self, schedule):
        super().__init__()
        self.schedule = list(schedule)

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        return self.schedule.pop(0)


def test_atomic_checkpoint_hook_keeps_the_last_and_the_best_files(
        tmp_path, restore_default_scope):
    work, out = tmp_path / 'work', tmp_path / 'out'
    # checkpoints go to OUT/work; a temporary of a killed save is there
    (out / 'work').mkdir(parents=True)
    stale = out / 'work' / '.epoch_9.pth.tmp-999999999'
    stale.write_bytes(b'x')
    data = [dict(inputs=torch.ones(1)) for _ in range(2)]
    loader = dict(dataset=data, batch_size=2, collate_fn=dict(
        type='pseudo_collate'), sampler=dict(type='DefaultSampler',
                                             shuffle=False))
    # 'acc' improves at epochs 1, 2, 4; 'neg' at epochs 1 and 3
    schedule = [dict(acc=a, neg=n) for a, n in
                ((1, 5), (3, 4), (2, 6), (5, 1))]
    hook = AtomicCheckpointHook(interval=1, max_keep_ckpts=2,
                                out_dir=str(out), save_best=['acc', 'neg'],
                                rule=['greater', 'greater'])
    # a second hook keeps only the best file of a single key
    single = AtomicCheckpointHook(interval=100, save_last=False,
                                  out_dir=str(tmp_path / 'best'),
                                  save_best='acc', rule='greater')
    runner = Runner(
        model=_Toy(), work_dir=str(work), train_dataloader=loader,
        val_dataloader=loader, val_evaluator=Evaluator(_Scheduled(schedule)),
        train_cfg=dict(by_epoch=True, max_epochs=4, val_interval=1),
        val_cfg=dict(), optim_wrapper=dict(optimizer=dict(type='SGD',
                                                          lr=0.01)),
        default_hooks=dict(checkpoint=hook), custom_hooks=[single],
        default_scope='mmengine')
    runner.train()
    assert os.listdir(tmp_path / 'best' / 'work') == ['best_acc_epoch_4.pth']
    saved = out / 'work'
    assert not stale.exists()
    assert sorted(os.listdir(saved)) == [
        'best_acc_epoch_4.pth', 'best_neg_epoch_3.pth', 'epoch_3.pth',
        'epoch_4.pth']
    # last_checkpoint stays in the work dir, where resume='auto' looks
    assert (work / 'last_checkpoint').read_text() == str(saved /
                                                         'epoch_4.pth')
    # a second save of the same step (after a best save) keeps epoch 3
    hook._save_checkpoint_with_step(runner, 4, dict(epoch=4, iter=4))
    assert sorted(os.listdir(saved))[2:] == ['epoch_3.pth', 'epoch_4.pth']
    # checkpoints saved by DeepSpeed are directories
    (saved / 'ds.pth').mkdir()
    assert hook._remove(str(saved / 'ds.pth'))
    assert not (saved / 'ds.pth').exists()
