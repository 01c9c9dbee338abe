"""tools/analysis/benchmark_pipeline.py: per-worker samples/s, the main
process's cost per batch, the num_workers recommendation, synthetic data
for configs whose data are absent, and the errors when data are missing."""
import json
import math
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.registry import DefaultScope
from PIL import Image

from albef_mm.datasets import generate_shapes
from albef_mm.models.tokenizer import ALBEFTokenizer
from helpers import CONFIG_ROOT, TINY_VOCAB
from helpers.scripts import load_script


def _load_tool():
    return load_script('tools', 'analysis', 'benchmark_pipeline.py',
                       name='benchmark_pipeline')


tool = _load_tool()


def _cfg(name):
    return osp.join(CONFIG_ROOT, 'albef', name)


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    generate_shapes(str(root), num_train=8, num_val=4, num_test=4)
    return str(root) + '/'


def _run(config, tmp_path, *extra):
    out = tmp_path / 'result.json'
    result = tool.main([_cfg(config), '--samples', '16', '--warmup', '2',
                        '--batches', '3', '--batch-size', '4', '--json',
                        str(out), *extra])
    with open(out) as f:
        assert json.load(f) == json.loads(json.dumps(result))
    return result


def _positive(stats, count):
    assert stats['count'] == count
    for key in ('mean_ms', 'p50_ms', 'p90_ms', 'per_s'):
        assert math.isfinite(stats[key]) and stats[key] > 0, (key, stats)
    assert stats['p50_ms'] <= stats['p90_ms']


def _check_worker_rate(r):
    per_sample_ms = r['sample']['mean_ms'] + \
        r['collate']['mean_ms'] / r['batch_size']
    assert r['worker_samples_per_s'] == pytest.approx(1e3 / per_sample_ms)
    assert r['worker_samples_per_s'] < r['sample']['per_s']


@pytest.mark.parametrize('config', ['pretrain_shapes_tiny.py',
                                    'retrieval_shapes_tiny.py'])
def test_shapes_tiny_measures_everything(config, shapes, tmp_path, capsys):
    before = DefaultScope.get_current_instance()
    scope = None if before is None else before.scope_name
    r = _run(config, tmp_path, '--target-samples-per-s', '5000',
             '--tokenizer', shapes + 'vocab.txt', '--cfg-options',
             f'train_dataloader.dataset.data_root={shapes}')
    after = DefaultScope.get_current_instance()
    # the tool leaves the caller's default scope as it found it
    assert (None if after is None else after.scope_name) == scope
    assert r['sample']['count'] == 16  # --samples, warm-up excluded
    _positive(r['sample'], 16)
    for stage in ('collate', 'tokenise', 'preprocessor'):
        _positive(r[stage], 3)
    assert r['tokenised'] and r['tokenizer_error'] is None
    # the preprocessor tokenises and also stacks / normalises the images
    assert r['preprocessor']['mean_ms'] > r['tokenise']['mean_ms']
    _check_worker_rate(r)
    assert r['recommended_num_workers'] == math.ceil(
        5000 / r['worker_samples_per_s'])
    out = capsys.readouterr().out
    w = round(r['worker_samples_per_s'])
    assert f'one worker: {w} samples/s' in out
    assert f"num_workers={r['recommended_num_workers']}" in out
    assert 'NOT measured' not in out


def test_eval_split_without_single_texts(shapes, tmp_path, capsys):
    # evaluation samples carry all captions of an image: nothing to tokenise
    r = _run('retrieval_shapes_tiny.py', tmp_path, '--split', 'test',
             '--tokenizer', shapes + 'vocab.txt', '--cfg-options',
             f'test_dataloader.dataset.data_root={shapes}')
    assert r['dataset_len'] == 4 and r['sample']['count'] == 16
    assert not r['tokenised'] and r['tokenise'] is None
    _positive(r['preprocessor'], 3)
    assert r['recommended_num_workers'] is None
    assert 'tokenisation NOT measured: the samples carry no single text' \
        in capsys.readouterr().out


def test_synthetic_full_size_pretraining(tmp_path, capsys):
    syn = tmp_path / 'syn'
    r = _run('pretrain_4m.py', tmp_path, '--synthetic', '6',
             '--image-size', '64', '48', '--synthetic-dir', str(syn),
             '--target-samples-per-s', '100')
    images = sorted(os.listdir(syn / 'images'))
    assert len(images) == 6
    with Image.open(syn / 'images' / images[0]) as img:
        assert img.size == (64, 48) and img.format == 'JPEG'
    with open(syn / 'synthetic.json') as f:
        records = json.load(f)
    assert len(records) == 6 and all(
        isinstance(rec['caption'], str) for rec in records)
    assert r['dataset_len'] == 6 and r['synthetic']['num_images'] == 6
    _positive(r['sample'], 16)  # 6 images, read in cycles
    _check_worker_rate(r)
    assert r['recommended_num_workers'] == math.ceil(
        100 / r['worker_samples_per_s'])
    out = capsys.readouterr().out
    try:  # bert-base-uncased: only when it is in the Hugging Face cache
        ALBEFTokenizer('bert-base-uncased', local_files_only=True)
        cached = True
    except FileNotFoundError:
        cached = False
    if cached:
        assert r['tokenised'] and r['tokenise']['count'] == 3
    else:
        assert not r['tokenised'] and r['tokenise'] is None
        assert 'bert-base-uncased' in r['tokenizer_error']
        assert "tokenisation NOT measured: the tokenizer " \
            "'bert-base-uncased' could not be loaded" in out
        _positive(r['preprocessor'], 3)  # images only, still measured


def test_shards_are_timed_beside_json_and_folder(shapes, tmp_path, capsys):
    r = _run('pretrain_4m.py', tmp_path, '--synthetic', '24',
             '--image-size', '64', '48', '--shards')
    _positive(r['shards'], 16)  # one reader's stream, warm-up excluded
    _positive(r['sample'], 16)  # dataset[i] of the json + folder
    out = capsys.readouterr().out
    assert 'worker: shard stream' in out and '(json + folder: ' in out
    with pytest.raises(SystemExit, match='--shards needs --synthetic N'):
        _run('pretrain_shapes_tiny.py', tmp_path, '--shards',
             '--tokenizer', shapes + 'vocab.txt', '--cfg-options',
             f'train_dataloader.dataset.data_root={shapes}')


def test_synthetic_retrieval_formats(tmp_path):
    r = _run('retrieval_flickr30k.py', tmp_path, '--synthetic', '3',
             '--image-size', '40', '30', '--tokenizer', TINY_VOCAB)
    # training format: one record per caption, five per image
    assert r['dataset_len'] == 3 * tool.CAPTIONS_PER_IMAGE
    assert r['synthetic']['num_records'] == 15 and r['tokenised']
    r = _run('retrieval_flickr30k.py', tmp_path, '--synthetic', '3',
             '--image-size', '40', '30', '--split', 'val')
    assert r['dataset_len'] == 3  # evaluation format: one per image


def test_synthetic_images_are_coco_like(tmp_path):
    info = tool.write_synthetic(str(tmp_path), 'PretrainCaptionDataset',
                                False, 2, (640, 480))
    # COCO's JPEGs average ~160 KB at this size; flat content would be a
    # few KB and decode far faster than photos
    assert 100 < info['mean_kb'] < 250, info


def test_missing_annotation_names_file_and_suggests_synthetic(tmp_path):
    with pytest.raises(SystemExit) as err:
        _run('pretrain_4m.py', tmp_path)
    msg = str(err.value)
    assert 'data/pretrain/coco.json (and 4 more)' in msg
    assert '--synthetic' in msg and 'PretrainCaptionDataset' in msg


def test_missing_image_names_file(tmp_path):
    (tmp_path / 'pretrain.json').write_text(json.dumps(
        [dict(image='images/absent.jpg', caption='a red circle')]))
    with pytest.raises(SystemExit) as err:
        _run('pretrain_shapes_tiny.py', tmp_path, '--cfg-options',
             f'train_dataloader.dataset.data_root={tmp_path}')
    msg = str(err.value)
    assert f'image file not found: {tmp_path}/images/absent.jpg' in msg
    assert '--synthetic' in msg


def test_unsupported_dataset_type_is_named(tmp_path):
    with pytest.raises(SystemExit) as err:
        _run('vqa.py', tmp_path, '--synthetic', '2')
    msg = str(err.value)
    assert msg.startswith('VQADataset: no synthetic data')
    assert 'needs its real data' in msg
    assert not (tmp_path / 'result.json').exists()


def test_command_line(shapes, tmp_path):
    # a fresh interpreter: nothing imported beforehand (the tests above run
    # after this file imported albef_mm.datasets)
    out = tmp_path / 'cli.json'
    proc = subprocess.run(
        [sys.executable, tool.__file__, _cfg('pretrain_shapes_tiny.py'),
         '--samples', '8', '--batches', '2', '--batch-size', '4',
         '--target-samples-per-s', '10', '--json', str(out),
         '--tokenizer', shapes + 'vocab.txt', '--cfg-options',
         f'train_dataloader.dataset.data_root={shapes}'],
        capture_output=True, text=True, env=dict(os.environ,
                                                 OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr
    r = json.loads(out.read_text())
    assert r['sample']['count'] == 8 and r['tokenise']['count'] == 2
    assert f"num_workers={r['recommended_num_workers']}" in proc.stdout
    proc = subprocess.run(
        [sys.executable, tool.__file__, _cfg('pretrain_4m.py')],
        capture_output=True, text=True)
    assert proc.returncode == 1
    assert 'annotation file not found: data/pretrain/coco.json' in \
        proc.stderr


def test_recommend_workers():
    assert tool.recommend_workers(900, 300) == 3
    assert tool.recommend_workers(901, 300) == 4
    assert tool.recommend_workers(10, 300) == 1
