"""Safe checkpoint reading: no import side effect, scoped allow-list,
refusal of code-running pickles, clear errors for files that are not
checkpoints."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from albef_mm.checkpoint import (CheckpointFileError, UntrustedCheckpointError,
                                 checkpoint_safe_globals, extract_state_dict,
                                 load_any)
from albef_mm.checkpoint.safety import history_buffer_getattr
from helpers.tiny import REPO_ROOT


class WritesFile:
    """Unpickling this object creates ``path`` (stands for arbitrary code
    a crafted checkpoint would run)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, 'w'))


def save_evil(path, marker, **content):
    """A checkpoint whose loading (with full unpickling) writes ``marker``."""
    content.setdefault('state_dict', {'w': torch.zeros(2)})
    torch.save(dict(content, payload=WritesFile(marker)), path)
    assert not os.path.exists(marker)
    return str(path)


def test_import_registers_only_the_safe_loaders():
    code = ('import torch, mmengine.runner\n'
            'before = set(map(str, torch.serialization.get_safe_globals()))\n'
            'import albef_mm, albef_mm.checkpoint, albef_mm.engine\n'
            'from mmengine.runner.checkpoint import CheckpointLoader\n'
            'print(sorted({f.__module__ + "." + f.__name__\n'
            '              for f in CheckpointLoader._schemes.values()}))\n'
            'after = set(map(str, torch.serialization.get_safe_globals()))\n'
            'print(sorted(g for g in after - before if "albef" in g or\n'
            '             "numpy" in g or "HistoryBuffer" in g or\n'
            '             "getattr" in g))\n')
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    # every MMEngine scheme reads through the safe loader; no new globals
    assert out.stdout.split('\n')[:2] == [
        "['albef_mm.checkpoint.mmengine_schemes.load_safely']", '[]']


def test_allow_list_is_scoped(tmp_path):
    buf = HistoryBuffer()
    buf.update(1.5)
    obj = {'hub': buf, 'eta': np.float64(2.5),
           'rng': np.random.get_state(), 't': torch.ones(2)}
    path = tmp_path / 'hub.pth'
    torch.save(obj, path)
    with pytest.raises(Exception, match='HistoryBuffer'):
        torch.load(path, weights_only=True)
    before = set(map(repr, torch.serialization.get_safe_globals()))
    with checkpoint_safe_globals():
        assert any('HistoryBuffer' in repr(g)
                   for g in torch.serialization.get_safe_globals())
        loaded = torch.load(path, weights_only=True)
    assert type(loaded['hub']) is HistoryBuffer
    assert loaded['hub'].mean() == 1.5 and loaded['eta'] == 2.5
    assert np.array_equal(loaded['rng'][1], obj['rng'][1])
    # nothing of ours stays registered after the block (torch itself may
    # extend its default list lazily, in any order)
    after = set(map(repr, torch.serialization.get_safe_globals()))
    assert not any('HistoryBuffer' in repr(g)
                   for g in torch.serialization.get_safe_globals())
    assert not any('numpy' in g or 'HistoryBuffer' in g or
                   'getattr' in g for g in after - before)
    with pytest.raises(Exception, match='HistoryBuffer'):
        torch.load(path, weights_only=True)
    assert load_any(str(path))['hub'].max() == 1.5


def test_getattr_replacement_resolves_only_statistics():
    assert history_buffer_getattr(HistoryBuffer, 'min') is HistoryBuffer.min
    for obj, name in ((HistoryBuffer, '__init__'), (HistoryBuffer, 'update'),
                      (os, 'system'), (np.ndarray, 'tofile')):
        with pytest.raises(Exception, match='Refused getattr'):
            history_buffer_getattr(obj, name)


def test_code_running_pickle_is_refused_unless_trusted(tmp_path):
    marker = tmp_path / 'written_by_unpickling'
    path = save_evil(tmp_path / 'evil.pth', marker)
    with pytest.raises(UntrustedCheckpointError) as err:
        load_any(path)
    assert not marker.exists()
    msg = str(err.value)
    assert '--trust-checkpoint' in msg and 'trust_checkpoint=True' in msg
    assert "'io.open'" in msg and 'runs any code' in msg
    ckpt = load_any(path, trust=True)
    assert marker.exists()  # the opt-in really unpickles fully
    assert torch.equal(ckpt['state_dict']['w'], torch.zeros(2))


class RunsSystem:
    """Unpickling this object calls ``os.system`` (torch 2.14 reports it
    as "module posix is blocked", not as an unsupported global)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f'touch {self.path}', ))


def test_every_refusal_gets_the_trust_message(tmp_path):
    marker = tmp_path / 'written_by_os_system'
    path = tmp_path / 'system.pth'
    torch.save({'state_dict': {'w': torch.zeros(2)},
                'payload': RunsSystem(marker)}, path)
    with pytest.raises(UntrustedCheckpointError) as err:
        load_any(str(path))
    assert not marker.exists()
    msg = str(err.value)
    assert 'posix.system' in msg and '--trust-checkpoint' in msg
    assert 'could not be unpickled' not in msg


def save_poisoned_hub(path):
    """A checkpoint whose message hub holds a ``HistoryBuffer`` with the
    statistics table ``{'mean': HistoryBuffer.max, ...}`` (MMEngine's
    ``__setstate__`` copies it into the class-level table): saved while
    the table is remapped, as a crafted or poisoned process would."""
    buf = HistoryBuffer()
    buf.update(1.0)
    buf.update(3.0)
    table = dict(HistoryBuffer._statistics_methods)
    HistoryBuffer._statistics_methods['mean'] = HistoryBuffer.max
    try:
        torch.save({'state_dict': {'w': torch.zeros(2)},
                    'message_hub': {'log_scalars': {'loss': buf}}}, path)
    finally:
        HistoryBuffer._statistics_methods.update(table)
    return str(path)


def test_history_buffer_state_cannot_change_the_class(tmp_path):
    table = dict(HistoryBuffer._statistics_methods)
    path = save_poisoned_hub(tmp_path / 'poisoned.pth')
    try:
        with pytest.raises(UntrustedCheckpointError,
                           match="maps the statistic 'mean'"):
            load_any(path)
        assert HistoryBuffer._statistics_methods == table
        fresh = HistoryBuffer()
        fresh.update(1.0)
        fresh.update(3.0)
        assert fresh.statistics('mean') == 2.0
    finally:
        HistoryBuffer._statistics_methods.clear()
        HistoryBuffer._statistics_methods.update(table)


def test_truncated_empty_directory_and_other_files(tmp_path):
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': {'w': torch.randn(64, 64)}}, good)
    data = good.read_bytes()
    (tmp_path / 'trunc.pth').write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointFileError, match='truncated or corrupted'):
        load_any(str(tmp_path / 'trunc.pth'))
    (tmp_path / 'empty.pth').write_bytes(b'')
    with pytest.raises(CheckpointFileError, match=r'empty \(0 bytes\)'):
        load_any(str(tmp_path / 'empty.pth'))
    with pytest.raises(IsADirectoryError, match=r"is a directory.*good.pth"):
        load_any(str(tmp_path))
    with pytest.raises(FileNotFoundError, match='not found'):
        load_any(str(tmp_path / 'nope.pth'))
    (tmp_path / 'cfg.pth').write_text('{"model": "albef"}')
    with pytest.raises(CheckpointFileError,
                       match=r'not a PyTorch checkpoint: it is a JSON'):
        load_any(str(tmp_path / 'cfg.pth'))
    (tmp_path / 'notes.pth').write_text('epoch 3 done\n')
    with pytest.raises(CheckpointFileError, match="text file starting with "
                       "'epoch 3"):
        load_any(str(tmp_path / 'notes.pth'))
    torch.save([1, 2, 3], tmp_path / 'list.pth')
    with pytest.raises(CheckpointFileError, match='holds a list'):
        extract_state_dict(load_any(str(tmp_path / 'list.pth')), 'list.pth')
    torch.save({'epoch': 3, 'meta': {}}, tmp_path / 'nodata.pth')
    with pytest.raises(CheckpointFileError,
                       match=r"no weights: a dict with keys \['epoch', "):
        extract_state_dict(load_any(str(tmp_path / 'nodata.pth')), 'x')


def test_safetensors_file_loads(tmp_path):
    from safetensors.torch import save_file
    save_file({'vision_backbone.cls_token': torch.ones(1, 1, 4)},
              str(tmp_path / 'w.safetensors'))
    state = load_any(str(tmp_path / 'w.safetensors'))
    assert torch.equal(state['vision_backbone.cls_token'],
                       torch.ones(1, 1, 4))


def test_complete_non_torch_zip_is_named(tmp_path):
    import zipfile
    with zipfile.ZipFile(tmp_path / 'archive.pth', 'w') as zf:
        zf.writestr('notes.txt', 'hello')
    with pytest.raises(CheckpointFileError,
                       match='complete zip archive that torch cannot read'):
        load_any(str(tmp_path / 'archive.pth'))


def test_original_training_script_checkpoint_loads_weights_only(tmp_path):
    """What ALBEF's Pretrain.py saves: weights, AdamW state, the (timm)
    cosine scheduler state and the YAML config — plain data only."""
    import yaml
    from conftest import oracle_fixture
    from timm.scheduler import CosineLRScheduler

    from albef_mm.checkpoint import load_checkpoint_to_model
    from albef_mm.registry import MODELS
    from helpers import tiny_pretrain_model_cfg
    fx = torch.load(oracle_fixture('pretrain.pth'))
    model = MODELS.build(tiny_pretrain_model_cfg())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.itm_head.fc.weight.grad = torch.ones_like(model.itm_head.fc.weight)
    opt.step()
    sched = CosineLRScheduler(opt, t_initial=30, lr_min=1e-5, warmup_t=20,
                              warmup_lr_init=1e-5)
    config = yaml.load('image_res: 256\nqueue_size: 65536\n'
                       'optimizer: {opt: adamW, lr: 0.0001}\n',
                       Loader=yaml.Loader)
    path = tmp_path / 'checkpoint_29.pth'
    torch.save({'model': fx['model'], 'optimizer': opt.state_dict(),
                'lr_scheduler': sched.state_dict(), 'config': config,
                'epoch': 29}, path)
    report = load_checkpoint_to_model(model, str(path), strict=True)
    assert report.converted and not report.missing
    torch.testing.assert_close(model.itm_head.fc.weight,
                               fx['model']['itm_head.weight'])


def test_pickled_getattr_resolves_history_buffer_statistics_only():
    assert history_buffer_getattr(HistoryBuffer, 'mean') is \
        HistoryBuffer.mean
    for obj, name in ((object, 'mean'), (dict, 'max'),
                      (HistoryBuffer, '__init__')):
        with pytest.raises(pickle.UnpicklingError, match='Refused getattr'):
            history_buffer_getattr(obj, name)
