"""End to end on tiny Shapes / DTD-layout data: ``tools/test.py`` with the
zero-shot config prints the accuracy the classifier computes in-process,
``tools/analysis/linear_probe.py`` trains a probe from cached features, and
the DTD config runs on the official split-file layout."""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from PIL import Image

from albef_mm.checkpoint import load_checkpoint_to_model
from albef_mm.datasets import ClassAnnotationDataset, generate_shapes
from albef_mm.engine.runner import ALBEFRunner
from albef_mm.evaluation.metrics import classification_accuracy
from albef_mm.registry import MODELS
from helpers import CONFIG_ROOT
from helpers.tiny import (REPO_ROOT, TINY_OVERRIDES, TINY_VOCAB,
                                   tiny_pretrain_model_cfg)

ZS_CFG = osp.join(CONFIG_ROOT, 'albef', 'zeroshot_shapes_tiny.py')
LP_CFG = osp.join(CONFIG_ROOT, 'albef', 'linear_probe_shapes_tiny.py')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes_cls')
    data = str(root / 'shapes')
    generate_shapes(data, num_train=40, num_val=10, num_test=24)
    sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'dataset_converters'))
    try:
        from shapes_classification import export_shapes_classification
    finally:
        sys.path.pop(0)
    export_shapes_classification(data)
    # an untrained *pre-training* model: its checkpoint layout is what the
    # classifier must load (momentum encoders, MLM head, queues ignored)
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef',
                                   'pretrain_shapes_tiny.py'))
    cfg.model.data_preprocessor.tokenizer.name_or_path = osp.join(
        data, 'vocab.txt')
    DefaultScope.get_instance('zeroshot-e2e', scope_name='albef_mm')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    ckpt = str(root / 'pretrain_random.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    return data, ckpt, root


def _opts(data, work):
    return [f'work_dir={work}',
            f'model.data_preprocessor.tokenizer.name_or_path={data}/'
            'vocab.txt', f'test_dataloader.dataset.data_root={data}/',
            'test_dataloader.num_workers=0', 'test_dataloader.batch_size=8']


def test_tools_test_prints_the_in_process_accuracy(setup):
    data, ckpt, root = setup
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run(
        [sys.executable, 'tools/test.py', ZS_CFG, ckpt, '--cfg-options',
         *_opts(data, root / 'zs')], cwd=REPO_ROOT, env=env,
        capture_output=True, text=True, timeout=300)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    printed = {k: float(v) for k, v in re.findall(
        r'classification/(top1|top3|mean_class_acc): ([\d.]+)', log)}
    assert set(printed) == {'top1', 'top3', 'mean_class_acc'}

    # the same evaluation, in-process
    cfg = Config.fromfile(ZS_CFG)
    cfg.merge_from_dict(dict(model=dict(data_preprocessor=dict(
        tokenizer=dict(name_or_path=osp.join(data, 'vocab.txt'))))))
    model = MODELS.build(cfg.model).eval()
    load_checkpoint_to_model(model, ckpt, logger='silent')
    ds_cfg = cfg.test_dataloader.dataset.to_dict()
    ds_cfg.pop('type')
    ds = ClassAnnotationDataset(**dict(ds_cfg, data_root=data))
    samples = [ds[i] for i in range(len(ds))]
    batch = model.data_preprocessor(dict(
        inputs=[s['inputs'] for s in samples],
        data_samples=[s['data_samples'] for s in samples]), False)
    scores = model.classify(batch['images'])
    labels = [s['data_samples'].gt_label for s in samples]
    acc = classification_accuracy(scores, labels, (1, 3))
    assert printed['top1'] == pytest.approx(acc['top1'], abs=1e-3)
    assert printed['top3'] == pytest.approx(acc['top3'], abs=1e-3)
    assert printed['mean_class_acc'] == pytest.approx(
        acc['mean_class_acc'], abs=1e-3)
    assert len(ds) > 0 and ds.metainfo['classes'] == tuple(
        cfg.model.classnames)


def test_linear_probe_tool_caches_features(setup, capsys):
    data, ckpt, root = setup
    sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'analysis'))
    try:
        import linear_probe as tool
    finally:
        sys.path.pop(0)
    work = str(root / 'lp')
    opts = [f'model.data_preprocessor.tokenizer.name_or_path={data}/'
            'vocab.txt'] + [
        f'{split}_dataloader.{k}' for split in ('train', 'val', 'test')
        for k in (f'dataset.data_root={data}/', 'num_workers=0')]
    argv = [LP_CFG, ckpt, '--work-dir', work, '--cfg-options', *opts]
    first = tool.main(argv)
    out = capsys.readouterr().out
    assert out.count('features computed') == 3
    assert first['num_classes'] == 7
    assert first['chance'] == pytest.approx(100 / 7)
    assert 0 <= first['top1'] <= 100 and first['top3'] >= first['top1']
    with open(osp.join(work, 'linear_probe.json')) as f:
        assert json.load(f)['top1'] == first['top1']
    caches = os.listdir(osp.join(work, 'feature_cache'))
    assert len(caches) == 3
    second = tool.main(argv)
    out = capsys.readouterr().out
    assert out.count('from cache') == 3 and 'computed' not in out
    assert second['top1'] == first['top1']
    # another feature kind: new cache files
    tool.main(argv[:2] + ['--feature', 'proj'] + argv[2:])
    assert len(os.listdir(osp.join(work, 'feature_cache'))) == 6


def test_dtd_config_runs_on_a_split_file(tmp_path):
    """configs/albef/zeroshot_dtd.py (model shrunk to the tiny sizes) on a
    DTD-layout folder: the runner loads a pre-training checkpoint and
    reports top-1 / top-5 over the 47 classes."""
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef', 'zeroshot_dtd.py'))
    root = tmp_path / 'dtd'
    lines = []
    for i, name in enumerate(['banded', 'woven', 'zigzagged', 'banded']):
        rel = f'{name}/{name}_{i:04d}.jpg'
        os.makedirs(root / 'images' / name, exist_ok=True)
        Image.fromarray(np.full((40, 50, 3), 60 * i, np.uint8)).save(
            root / 'images' / rel)
        lines.append(rel)
    os.makedirs(root / 'labels')
    (root / 'labels' / 'test1.txt').write_text('\n'.join(lines) + '\n')
    cfg.merge_from_dict(dict(model=TINY_OVERRIDES))
    cfg.model.pop('mlm_head')
    cfg.model.data_preprocessor.tokenizer.name_or_path = TINY_VOCAB
    cfg.test_dataloader.dataset.data_root = str(root)
    cfg.test_dataloader.dataset.pipeline[1].size = 64
    cfg.test_dataloader.num_workers = 0
    cfg.work_dir = str(tmp_path / 'work')
    # a tiny pre-training checkpoint (original-size queues differ: fine)
    DefaultScope.get_instance('dtd-e2e', scope_name='albef_mm')
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'pre.pth')
    pre = MODELS.build(tiny_pretrain_model_cfg(queue_size=32))
    torch.save({'state_dict': pre.state_dict()}, ckpt)
    cfg.load_from = ckpt
    metrics = ALBEFRunner.from_cfg(cfg).test()
    assert set(metrics) == {'classification/top1', 'classification/top5',
                            'classification/mean_class_acc'}
    assert all(0 <= v <= 100 for v in metrics.values())
    # 4 images: accuracies are multiples of 25 %
    assert metrics['classification/top1'] % 25 == 0
