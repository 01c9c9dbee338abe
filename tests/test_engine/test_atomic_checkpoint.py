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

from albef_mm.checkpoint import load_any
from albef_mm.datasets import generate_shapes
from albef_mm.engine.atomic_io import (atomic_path, atomic_torch_save,
                                       atomic_write_text,
                                       remove_stale_temporaries)
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
    assert 'itc_head.image_queue' in ckpt['state_dict']

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

