"""tools/train.py's test-after-train tests the best-validation checkpoint
when the config keeps one (as ALBEF's Retrieval.py), else the last weights,
and says which."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from albef_mm.datasets import generate_shapes
from albef_mm.engine.runner.test_after_train import (figure_lines,
                                                     evaluated_split_files)
from helpers import CONFIG_ROOT
from helpers.scripts import load_script

CONFIG = osp.join(CONFIG_ROOT, 'albef', 'pretrain_shapes_tiny.py')


def _train_tool():
    return load_script('tools', 'train.py')


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    generate_shapes(str(root), num_train=32, num_val=10, num_test=10)
    return str(root)


def _argv(shapes, work_dir, checkpoint):
    root = shapes + '/'
    options = [
        f'model.data_preprocessor.tokenizer.name_or_path={root}vocab.txt',
        'model.itc_head.queue_size=32',
        'train_dataloader.batch_size=16', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        f'train_dataloader.dataset.data_root={root}',
        'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=1',
        'default_hooks.logger.interval=1',
    ] + [f'default_hooks.checkpoint.{k}={v}' for k, v in checkpoint.items()]
    return [CONFIG, '--work-dir', str(work_dir), '--cfg-options', *options]


class _EpochWeights(Hook):
    """Keeps a copy of the model weights at the end of every epoch, and adds
    the val metric ``check/countdown`` (3 - epoch: the first epoch scores
    best under rule 'greater', whatever the tiny model learnt)."""
    priority = 'HIGHEST'  # before CheckpointHook reads the metrics

    def __init__(self):
        self.by_epoch = {}

    def after_train_epoch(self, runner):
        # runner.epoch counts finished epochs only after this hook
        self.by_epoch[runner.epoch + 1] = _weights(runner.model)

    def after_val_epoch(self, runner, metrics=None):
        metrics['check/countdown'] = 3.0 - runner.epoch


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()
            if not k.endswith('_queue') and 'queue_ptr' not in k}


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def _train_and_test(argv):
    """tools/train.py's main, with a hook that records the weights."""
    tool = _train_tool()
    args = tool.parse_args(argv)
    cfg = tool.merge_args(Config.fromfile(args.config), args)
    runner = tool.build_runner(cfg)
    record = _EpochWeights()
    runner.register_hook(record)
    runner.train()
    assert cfg.test_after_train
    tool.run_test_after_train(runner)
    return runner, record.by_epoch


def test_best_validation_checkpoint_is_tested(shapes, tmp_path, capsys):
    # the best validation epoch (1) is not the last one (2)
    work = tmp_path / 'best'
    runner, by_epoch = _train_and_test(_argv(
        shapes, work, dict(interval=1, max_keep_ckpts=2,
                           save_best='check/countdown', rule='greater')))
    out = capsys.readouterr().out
    assert (work / 'best_check_countdown_epoch_1.pth').is_file(), sorted(
        p.name for p in work.iterdir())
    assert ('Testing the best checkpoint best_check_countdown_epoch_1.pth '
            '(epoch 1, val check/countdown = 2.0000)') in out
    assert 'instead of the last weights (epoch 2)' in out
    # every test figure names its weights and split
    # logged once (the logger's console line), not printed a second time
    figures = [line[line.index('test figure '):]
               for line in out.splitlines() if 'test figure ' in line]
    assert len(figures) == len(set(figures)), figures
    assert figures and all(
        line.endswith('| weights: best_check_countdown_epoch_1.pth (epoch 1, '
                      'best val check/countdown = 2.0000) | split: '
                      'retrieval_test.json') for line in figures), figures
    assert any(line.startswith('test figure retrieval/r_mean = ')
               for line in figures), figures
    tested = _weights(runner.model)
    assert not _same(by_epoch[1], by_epoch[2])  # training moved the weights
    assert _same(tested, by_epoch[1])


def test_without_save_best_the_last_weights_are_tested(shapes, tmp_path,
                                                       capsys):
    runner, by_epoch = _train_and_test(_argv(
        shapes, tmp_path / 'last', dict(interval=1, max_keep_ckpts=2)))
    out = capsys.readouterr().out
    assert 'Testing the last weights (epoch 2): the config keeps no best ' \
        'checkpoint' in out
    assert '| weights: last weights (epoch 2) | split: ' \
        'retrieval_test.json' in out
    assert _same(_weights(runner.model), by_epoch[2])


def test_figure_lines_name_weights_and_split_and_skip_counts():
    lines = figure_lines({'grounding/testA_d': 0.5, 'grounding/testB_d': 0.25,
                          'grounding/num_testA': 10, 'note': 'text'},
                         'best.pth (epoch 3)', ['a.json', 'b.json'])
    assert lines == [
        'test figure grounding/testA_d = 0.5000 | weights: best.pth (epoch 3)'
        ' | split: a.json, b.json',
        'test figure grounding/testB_d = 0.2500 | weights: best.pth (epoch 3)'
        ' | split: a.json, b.json']


class _Runner:
    def __init__(self, cfg):
        self.cfg = Config(cfg)


def test_evaluated_split_files_from_the_test_dataset():
    def files(dataset):
        return evaluated_split_files(_Runner(dict(
            test_dataloader=dict(dataset=dataset))))

    assert files(dict(ann_file='data/nlvr2/nlvr_test.json')) == [
        'nlvr_test.json']
    assert files(dict(ann_file=['x/a.json', 'b.json'])) == [
        'a.json', 'b.json']
    assert files(dict(type='X')) == ['?']


# The paper's figure is a test-split figure for these tasks: training must
# keep the best validation checkpoint and test it (ALBEF's NLVR.py, VE.py,
# Grounding.py, Retrieval.py read the test figure off the best val epoch).
TEST_SPLIT_TASKS = {
    'nlvr2.py': ('accuracy/acc', 'nlvr_test.json'),
    'nlvr2_4m.py': ('accuracy/acc', 'nlvr_test.json'),
    'snli_ve.py': ('accuracy/acc', 've_test.json'),
    'snli_ve_4m.py': ('accuracy/acc', 've_test.json'),
    'grounding_refcoco+.py': ('grounding/val_d', 'refcoco+_test.json'),
    'retrieval_coco.py': ('retrieval/r_mean', 'coco_test.json'),
    'retrieval_coco_4m.py': ('retrieval/r_mean', 'coco_test.json'),
    'retrieval_flickr30k.py': ('retrieval/r_mean', 'flickr30k_test.json'),
    'retrieval_flickr30k_4m.py': ('retrieval/r_mean',
                                  'flickr30k_test.json'),
    'nlvr2_shapes_tiny.py': ('accuracy/acc', 'nlvr_test.json'),
    'snli_ve_shapes_tiny.py': ('accuracy/acc', 've_test.json'),
    'grounding_shapes_tiny.py': ('grounding/val_d', 'grounding_test.json'),
}


@pytest.mark.parametrize('name', sorted(TEST_SPLIT_TASKS))
def test_task_configs_test_the_best_validation_checkpoint(name):
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef', name))
    key, test_file = TEST_SPLIT_TASKS[name]
    assert cfg.test_after_train is True
    assert cfg.default_hooks.checkpoint.save_best == key
    assert cfg.default_hooks.checkpoint.rule == 'greater'
    assert cfg.train_cfg.get('val_interval', 1) == 1
    assert cfg.val_dataloader is not None
    ann = cfg.test_dataloader.dataset.ann_file
    assert osp.basename(ann if isinstance(ann, str) else ann[0]) == test_file
