"""TensorBoard logging switched on by ``tools/train.py --tensorboard`` (or
``visualizer.vis_backends`` in a config): event files with the loss
scalars are written; a clear error when the package is missing."""
import glob
import importlib.util
import os.path as osp

import pytest
from mmengine.config import Config

from albef_mm.datasets import generate_shapes
from albef_mm.engine.vis_backends import check_vis_backends, enable_tensorboard
from albef_mm.registry import RUNNERS
from helpers import CONFIG_ROOT
from helpers.scripts import load_script

CONFIG = osp.join(CONFIG_ROOT, 'albef', 'retrieval_shapes_tiny.py')


def _train_tool():
    return load_script('tools', 'train.py')


def _args(tool, work, shapes, *extra):
    return tool.parse_args([
        CONFIG, '--work-dir', str(work), '--no-validate', *extra,
        '--cfg-options', 'load_from=None',
        f'model.data_preprocessor.tokenizer.name_or_path={shapes}vocab.txt',
        'model.itc_head.queue_size=16', 'train_dataloader.batch_size=8',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        f'train_dataloader.dataset.data_root={shapes}',
        'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.save_best=None'])


def test_tensorboard_flag_writes_loss_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    shapes = str(tmp_path / 'shapes') + '/'
    generate_shapes(shapes, num_train=8, num_val=2, num_test=2)
    tool = _train_tool()
    cfg = tool.merge_args(Config.fromfile(CONFIG),
                          _args(tool, tmp_path / 'work', shapes,
                                '--tensorboard'))
    types = [b['type'] for b in cfg.visualizer.vis_backends]
    assert types == ['LocalVisBackend', 'TensorboardVisBackend']
    RUNNERS.build(cfg).train()
    events = glob.glob(str(tmp_path / 'work' / '*' / 'vis_data' /
                           'events.out.tfevents.*'))
    assert len(events) == 1, events
    acc = EventAccumulator(events[0])
    acc.Reload()
    tags = set(acc.Tags()['scalars'])
    assert {'loss', 'loss_itc', 'loss_itm', 'lr', 'alpha'} <= tags, tags
    steps = [e.step for e in acc.Scalars('loss')]
    assert steps == [1, 2]  # 16 records (2 captions per image) / 8
    assert all(e.value > 0 for e in acc.Scalars('loss'))

    # without the flag: the config's local backend only
    cfg = tool.merge_args(Config.fromfile(CONFIG),
                          _args(tool, tmp_path / 'plain', shapes))
    assert [b['type'] for b in cfg.visualizer.vis_backends] == \
        ['LocalVisBackend']


def test_missing_tensorboard_package_is_a_clear_error(monkeypatch):
    cfg = Config(dict(visualizer=dict(type='Visualizer', vis_backends=[
        dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, 'find_spec',
        lambda name, *a: None if name == 'tensorboard' else real(name, *a))
    with pytest.raises(ImportError, match=r"TensorboardVisBackend, but the "
                       r"'tensorboard' package is not installed: pip install "
                       r'tensorboard'):
        check_vis_backends(cfg)
    # and through the runner, before anything is built
    cfg = Config.fromfile(CONFIG)
    cfg.visualizer.vis_backends.append(dict(type='TensorboardVisBackend'))
    cfg.work_dir = '/nonexistent/never/created'
    with pytest.raises(ImportError, match='pip install tensorboard'):
        RUNNERS.build(cfg)
    assert not osp.exists('/nonexistent/never/created')


def test_enable_tensorboard_adds_the_backend_once_keeping_local_logs():
    cfg = Config(dict())
    enable_tensorboard(cfg)
    enable_tensorboard(cfg)
    assert [b['type'] for b in cfg.visualizer['vis_backends']] == [
        'LocalVisBackend', 'TensorboardVisBackend']
