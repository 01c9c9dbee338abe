"""NLVR2 / SNLI-VE datasets and the converters from the official files."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from albef_mm.datasets import NLVR2Dataset, SNLIVEDataset
from albef_mm.datasets.transforms import ImageLoadError
from helpers.tiny import REPO_ROOT
from helpers.scripts import load_script

DATA = osp.join(REPO_ROOT, 'tests', 'data')


def load_tool(name):
    return load_script('tools', 'dataset_converters', f'{name}.py',
                       name=name)


def write_json(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f)
    return str(path)


def test_nlvr2_converter_on_official_jsonl(tmp_path):
    tool = load_tool('nlvr2_to_albef')
    counts = tool.main([osp.join(DATA, 'nlvr2'), str(tmp_path),
                        '--image-prefix', 'images/'])
    assert counts == {'nlvr_train.json': 2, 'nlvr_dev.json': 2,
                      'nlvr_test.json': 1}
    train = json.load(open(tmp_path / 'nlvr_train.json'))
    assert train[0] == dict(
        images=['images/train/55/train-10171-0-img0.png',
                'images/train/55/train-10171-0-img1.png'],
        sentence='The left image contains twice the number of dogs as the '
        'right image.', label='True')
    dev = json.load(open(tmp_path / 'nlvr_dev.json'))
    assert dev[1]['images'] == ['images/dev/dev-12-3-img0.png',
                                'images/dev/dev-12-3-img1.png']
    assert [r['label'] for r in dev] == ['False', 'True']
    test = json.load(open(tmp_path / 'nlvr_test.json'))
    assert test[0]['images'][1] == 'images/test1/test1-0-1-img1.png'
    with pytest.raises(ValueError, match=r'line 1: label must be'):
        tool.convert_record({'identifier': 'dev-1-0-0', 'sentence': 'x',
                             'label': 'maybe'}, where='f, line 1')
    with pytest.raises(KeyError, match='identifier'):
        tool.convert_record({'sentence': 'x', 'label': 'True'})


def test_snli_ve_converter_on_official_jsonl(tmp_path):
    tool = load_tool('snli_ve_to_albef')
    counts = tool.main([osp.join(DATA, 'snli_ve'), str(tmp_path)])
    assert counts == {'ve_dev.json': 3}
    dev = json.load(open(tmp_path / 've_dev.json'))
    assert dev[0] == dict(image='4705552913', label='neutral',
                          sentence='The sisters are hugging goodbye while '
                          'holding to go packages after just eating lunch.')
    assert [r['label'] for r in dev] == ['neutral', 'entailment',
                                         'contradiction']
    bad = tmp_path / 'in'
    bad.mkdir()
    (bad / 'snli_ve_train.jsonl').write_text(
        '{"Flikr30kID": "1.jpg", "sentence2": "a", "gold_label": "-"}\n')
    with pytest.raises(ValueError, match=r'snli_ve_train.jsonl, line 1: '
                       "gold_label '-'"):
        tool.main([str(bad), str(tmp_path / 'out')])


@pytest.fixture
def images(tmp_path):
    root = tmp_path / 'img'
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in ('a', 'b', 'c'):
        Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
                        ).save(root / f'{name}.jpg')
    return root


def test_snli_ve_dataset(tmp_path, images):
    ann = write_json(tmp_path / 've.json', [
        dict(image='a', sentence='Two Women, hugging!', label='entailment'),
        dict(image='b', sentence='A dog.', label='contradiction'),
        dict(image='c', sentence='Someone', label='neutral')])
    pipeline = [dict(type='LoadRGBImageFromFile'),
                dict(type='ALBEFResize', size=16),
                dict(type='PackALBEFInputs',
                     algorithm_keys=('text', 'gt_label'))]
    ds = SNLIVEDataset(ann, data_prefix=dict(img_path=str(images)),
                       pipeline=pipeline)
    assert len(ds) == 3
    assert [ds.get_data_info(i)['gt_label'] for i in range(3)] == [2, 0, 1]
    out = ds[0]
    assert out['inputs'].shape == (3, 16, 16)
    assert out['data_samples'].text == 'two women hugging'
    assert out['data_samples'].gt_label == 2
    assert ds.metainfo['classes'] == ('contradiction', 'neutral',
                                      'entailment')
    bad = write_json(tmp_path / 'bad.json',
                     [dict(image='a', sentence='x', label='entailed')])
    with pytest.raises(ValueError, match=r'bad.json, record 0: label '
                       "'entailed'"):
        SNLIVEDataset(bad)
    missing = write_json(tmp_path / 'missing.json',
                         [dict(image='zzz', sentence='x', label='neutral')])
    ds = SNLIVEDataset(missing, data_prefix=dict(img_path=str(images)))
    with pytest.raises(ImageLoadError, match=r'zzz.jpg \(dataset index 0'):
        ds[0]


def test_nlvr2_dataset_two_images_own_draws(tmp_path, images):
    ann = write_json(tmp_path / 'nlvr.json', [
        dict(images=['a.jpg', 'b.jpg'], sentence='The LEFT image has more.',
             label='True'),
        dict(images=['c.jpg', 'a.jpg'], sentence='x', label='False')])
    pipeline = [dict(type='LoadRGBImageFromFile'),
                dict(type='ALBEFRandomResizedCrop', size=16,
                     scale=(0.5, 1.0)),
                dict(type='ALBEFRandomFlip', prob=0.5),
                dict(type='PackALBEFInputs',
                     algorithm_keys=('text', 'gt_label'))]
    ds = NLVR2Dataset([ann], data_prefix=dict(img_path=str(images)),
                      pipeline=pipeline)
    assert [ds.get_data_info(i)['gt_label'] for i in range(2)] == [1, 0]
    torch.manual_seed(0)
    out = ds[0]
    assert out['inputs'].shape == (2, 3, 16, 16)
    assert out['data_samples'].text == 'the left image has more'
    # the same image twice gets two independent crops / flips
    same = write_json(tmp_path / 'same.json', [
        dict(images=['a.jpg', 'a.jpg'], sentence='x', label='True')])
    ds = NLVR2Dataset(same, data_prefix=dict(img_path=str(images)),
                      pipeline=pipeline)
    torch.manual_seed(1)
    differ = sum(not torch.equal(*ds[0]['inputs']) for _ in range(5))
    assert differ >= 4
    for rec, msg in ((dict(images=['a.jpg'], sentence='x', label='True'),
                      'list of two image paths'),
                     (dict(images=['a.jpg', 'b.jpg'], sentence='x',
                           label=1), 'label must be'),
                     (dict(images=['a.jpg', 'b.jpg'], label='True'),
                      'missing key "sentence"')):
        path = write_json(tmp_path / 'bad.json', [rec])
        with pytest.raises((ValueError, KeyError),
                           match=r'bad.json, record 0: .*' + msg):
            NLVR2Dataset(path)


def test_shapes_configs_read_the_generated_files():
    """The Shapes NLVR2 / VE files in data/shapes load with the tiny
    configs' dataset settings (when the benchmark has been generated)."""
    from mmengine.config import Config
    from albef_mm.registry import DATASETS
    if not osp.isfile(osp.join(REPO_ROOT, 'data', 'shapes', 've_dev.json')):
        pytest.skip('data/shapes not generated')
    for name, n in (('snli_ve_shapes_tiny', 600), ('nlvr2_shapes_tiny', 200)):
        cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'albef',
                                       f'{name}.py'))
        ds_cfg = cfg.val_dataloader.dataset
        ds_cfg.data_root = osp.join(REPO_ROOT, ds_cfg.data_root)
        ds = DATASETS.build(ds_cfg)
        assert len(ds) == n
        sample = ds[0]
        assert sample['inputs'].shape[-2:] == (64, 64)


def test_nlvr2_labels_from_strings_and_json_booleans(tmp_path):
    recs = [dict(images=['a.png', 'b.png'], sentence='Two dogs.', label=lab)
            for lab in ('True', 'False', True, False)]
    (tmp_path / 'ann.json').write_text(json.dumps(recs))
    ds = NLVR2Dataset(str(tmp_path / 'ann.json'))
    assert [ds.get_data_info(i)['gt_label'] for i in range(4)] == [1, 0, 1, 0]
    assert ds.get_data_info(0)['text'] == 'two dogs'
