"""Every way a checkpoint enters a run (``resume``, ``load_from``,
``tools/test.py``, the converter) reads it weights-only, refuses a
code-running pickle without the opt-in and loads it with the opt-in; a real
checkpoint of a training run resumes without any opt-in."""
import os.path as osp

import pytest
import torch
from conftest import oracle_fixture
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from test_safe_loading import save_evil

from albef_mm.checkpoint import UntrustedCheckpointError
from albef_mm.datasets import generate_shapes
from albef_mm.registry import RUNNERS
from helpers import CONFIG_ROOT
from helpers.tiny import REPO_ROOT
from helpers.scripts import load_script

TINY = osp.join(CONFIG_ROOT, 'albef', 'pretrain_shapes_tiny.py')
TOOLS = osp.join(REPO_ROOT, 'tools')


def data_options(shapes: str) -> dict:
    return {
        'model.data_preprocessor.tokenizer.name_or_path':
        osp.join(shapes, 'vocab.txt'),
        'model.itc_head.queue_size': 32,
        'train_dataloader.batch_size': 16,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.data_root': shapes + '/',
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
        'test_dataloader.dataset.data_root': shapes + '/',
        'default_hooks.checkpoint.interval': 1,
    }


def tiny_cfg(shapes, work_dir, epochs=1, **extra):
    cfg = Config.fromfile(TINY)
    cfg.merge_from_dict(dict(data_options(shapes), **{
        'work_dir': str(work_dir), 'train_cfg.max_epochs': epochs,
        'train_cfg.val_interval': 100}))
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_after_train = False
    cfg.merge_from_dict(extra)
    return cfg


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Shapes data (32 training pairs) and the checkpoint of one epoch
    (2 iterations) of the tiny pre-training config."""
    root = tmp_path_factory.mktemp('trust')
    shapes = str(root / 'shapes')
    generate_shapes(shapes, num_train=32, num_val=8, num_test=8)
    RUNNERS.build(tiny_cfg(shapes, root / 'work')).train()
    return shapes, str(root / 'work' / 'epoch_1.pth')


def evil_copy(ckpt_path, tmp_path):
    """The real checkpoint plus an object whose unpickling writes a file."""
    ckpt = torch.load(ckpt_path, weights_only=False)
    marker = tmp_path / 'written_by_unpickling'
    return save_evil(tmp_path / 'evil.pth', marker, **ckpt), marker


def test_real_checkpoint_resumes_weights_only(trained, tmp_path,
                                              monkeypatch):
    shapes, ckpt = trained
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get('weights_only'))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', spy)
    runner = RUNNERS.build(tiny_cfg(shapes, tmp_path, epochs=2, resume=True,
                                    load_from=ckpt))
    runner.train()
    assert calls == [True]  # one read, weights-only, no opt-in
    assert runner.iter == 4 and runner.epoch == 2
    hub = runner.message_hub.log_scalars['train/loss']
    assert isinstance(hub, HistoryBuffer)
    assert len(hub.data[0]) == 4  # 2 resumed iterations + 2 new ones


def test_load_from_and_resume_refuse_untrusted_unless_opted_in(
        trained, tmp_path):
    shapes, ckpt = trained
    evil, marker = evil_copy(ckpt, tmp_path)
    for extra in (dict(load_from=evil), dict(load_from=evil, resume=True)):
        runner = RUNNERS.build(tiny_cfg(shapes, tmp_path / 'w', **extra))
        with pytest.raises(UntrustedCheckpointError,
                           match='--trust-checkpoint'):
            runner.train()
        assert not marker.exists()
    runner = RUNNERS.build(tiny_cfg(shapes, tmp_path / 'w2', resume=True,
                                    load_from=evil, trust_checkpoint=True))
    runner.train()  # resumed at the end of epoch 1: nothing left to train
    assert marker.exists() and runner.iter == 2
    marker.unlink()
    runner = RUNNERS.build(tiny_cfg(shapes, tmp_path / 'w3', load_from=evil,
                                    trust_checkpoint=True))
    runner.load_or_resume()
    assert marker.exists()
    saved = torch.load(ckpt, weights_only=False)['state_dict']
    torch.testing.assert_close(
        runner.model.itm_head.fc.weight, saved['itm_head.fc.weight'])
    # a work dir given as load_from is named as such
    runner = RUNNERS.build(tiny_cfg(shapes, tmp_path / 'w4',
                                    load_from=osp.dirname(ckpt)))
    with pytest.raises(IsADirectoryError, match=r"is a directory.*"
                       r"epoch_1\.pth"):
        runner.load_or_resume()


def _tool(name, path):
    # tools/test.py imports tools/train.py
    return load_script(path, name=name, tools_on_path=True)


def test_tools_test_refuses_untrusted_unless_opted_in(trained, tmp_path):
    shapes, ckpt = trained
    evil, marker = evil_copy(ckpt, tmp_path)
    tool = _tool('albef_tools_test', osp.join(TOOLS, 'test.py'))
    options = [f'{k}={v}' for k, v in data_options(shapes).items()]
    argv = [TINY, evil, '--work-dir', str(tmp_path / 'test'),
            '--cfg-options'] + options
    with pytest.raises(UntrustedCheckpointError, match='--trust-checkpoint'):
        tool.main(argv)
    assert not marker.exists()
    metrics = tool.main(argv + ['--trust-checkpoint'])
    assert marker.exists()
    assert 0 <= metrics['retrieval/r_mean'] <= 100


def test_converter_refuses_untrusted_unless_opted_in(tmp_path, capsys):
    tool = _tool('albef_to_mm', osp.join(TOOLS, 'model_converters',
                                         'albef_to_mm.py'))
    fx = torch.load(oracle_fixture('pretrain.pth'))
    marker = tmp_path / 'written_by_unpickling'
    src = save_evil(tmp_path / 'ALBEF.pth', marker, model=fx['model'],
                    state_dict=None)
    dst = tmp_path / 'mm.pth'
    assert tool.main([src, str(dst)]) == 3
    assert not marker.exists() and not dst.exists()
    assert '--trust-checkpoint' in capsys.readouterr().err
    assert tool.main([src, str(dst), '--trust-checkpoint']) == 0
    assert marker.exists() and dst.exists()
    converted = torch.load(dst)['state_dict']  # the output is safe to read
    assert torch.equal(converted['itc_head.temp'], fx['model']['temp'])
