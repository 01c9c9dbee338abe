import json
import logging
import random

import numpy as np
import pytest
from mmengine.logging import MMLogger
from PIL import Image
from torch.utils.data import DataLoader

from albef_mm.datasets import PretrainCaptionDataset
from albef_mm.datasets.transforms import ImageLoadError
from albef_mm.registry import DATASETS

PIPELINE = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFResize', size=8),
    dict(type='PackALBEFInputs', algorithm_keys=('text', )),
]


def _image(path, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((6, 7, 3), value, np.uint8)).save(path)


def _json(path, records):
    path.write_text(json.dumps(records))
    return path.name


@pytest.fixture
def root(tmp_path):
    for i in range(4):
        _image(tmp_path / 'img' / f'{i}.png', 40 * i)
    _json(tmp_path / 'a.json', [
        {'image': 'img/0.png', 'caption': 'A Red Circle!'},
        {'image': 'img/1.png', 'caption': ['first one.', 'Second-one']},
    ])
    _json(tmp_path / 'b.json', [
        {'image': str(tmp_path / 'img' / '2.png'), 'caption': 'absolute'},
    ])
    return tmp_path


def build(root, ann_file, **kw):
    return DATASETS.build(dict(type='PretrainCaptionDataset',
                               ann_file=ann_file, data_root=str(root),
                               pipeline=PIPELINE, **kw))


def test_concatenates_files_and_resolves_paths(root):
    ds = build(root, ['a.json', 'b.json'])
    assert len(ds) == 3
    assert ds.get_data_info(0)['img_path'] == str(root / 'img' / '0.png')
    assert ds.get_data_info(2)['img_path'] == str(root / 'img' / '2.png')
    out = ds[0]
    assert out['inputs'].shape == (3, 8, 8)
    assert out['data_samples'].text == 'a red circle'  # pre_caption
    assert out['data_samples'].sample_idx == 0
    assert build(root, 'b.json')[0]['data_samples'].text == 'absolute'


def test_data_prefix_and_lazy_init(root):
    ds = PretrainCaptionDataset(
        ann_file='a.json', data_root=str(root), data_prefix=dict(
            img_path='img'), pipeline=PIPELINE, lazy_init=True)
    ds.full_init()
    assert ds.get_data_info(0)['img_path'] == str(root / 'img' / 'img' /
                                                  '0.png')


def test_random_caption_from_list(root):
    ds = build(root, 'a.json', max_words=1)
    random.seed(0)
    seen = {ds[1]['data_samples'].text for _ in range(30)}
    assert seen == {'first', 'second'}  # cleaned and truncated to 1 word
    raw = build(root, 'a.json', max_words=None)
    assert raw[0]['data_samples'].text == 'A Red Circle!'


def test_missing_json(root):
    with pytest.raises(FileNotFoundError, match='missing.json'):
        build(root, ['a.json', 'missing.json'])


@pytest.mark.parametrize('record, error, pattern', [
    ({'caption': 'x'}, KeyError, 'bad.json, record 1: missing key "image"'),
    ({'image': 'img/0.png'}, KeyError, 'record 1: missing key "caption"'),
    ({'image': 'img/0.png', 'caption': []}, ValueError, 'empty list'),
    ({'image': 'img/0.png', 'caption': 3}, ValueError, 'string or a list'),
    ({'image': 'img/0.png', 'caption': ['a', None]}, ValueError,
     'every caption'),
    ({'image': '', 'caption': 'x'}, ValueError, 'non-empty path'),
    (['img/0.png', 'x'], ValueError, 'record 1: expected a dict'),
])
def test_bad_records(root, record, error, pattern):
    _json(root / 'bad.json', [{'image': 'img/0.png', 'caption': 'ok'}, record])
    with pytest.raises(error, match=pattern):
        build(root, 'bad.json')


def test_empty_and_non_list(root):
    _json(root / 'empty.json', [])
    with pytest.raises(ValueError, match='no records'):
        build(root, 'empty.json')
    _json(root / 'dict.json', {'image': 'x'})
    with pytest.raises(ValueError, match='dict.json must hold a json list'):
        build(root, 'dict.json')
    (root / 'broken.json').write_text('[{"image": ')
    with pytest.raises(ValueError, match='broken.json is not valid json'):
        build(root, 'broken.json')


@pytest.fixture
def bad_root(root):
    (root / 'img' / 'corrupt.jpg').write_bytes(b'\x00not an image')
    _json(root / 'bad_img.json', [
        {'image': 'img/0.png', 'caption': 'good'},
        {'image': 'img/absent.png', 'caption': 'missing'},
        {'image': 'img/corrupt.jpg', 'caption': 'corrupt'},
    ])
    return root


def test_bad_images_raise_with_file_and_index(bad_root):
    ds = build(bad_root, 'bad_img.json')
    with pytest.raises(ImageLoadError,
                       match=r'absent\.png \(dataset index 1\)'):
        ds[1]
    with pytest.raises(ImageLoadError,
                       match=r'corrupt\.jpg \(dataset index 2\)'):
        ds[2]


def test_skip_bad_samples_counts(bad_root):
    ds = build(bad_root, 'bad_img.json', skip_bad_samples=True)
    logger = MMLogger.get_current_instance()
    np.random.seed(0)
    records = []

    class Grab(logging.Handler):

        def emit(self, record):
            records.append(record.getMessage())

    handler = Grab(level=logging.WARNING)
    logger.addHandler(handler)
    try:
        texts = [ds[i]['data_samples'].text for i in (1, 2, 1)]
    finally:
        logger.removeHandler(handler)
    assert texts == ['good'] * 3  # the only readable sample
    assert ds.num_skipped >= 3
    assert any('absent.png' in r for r in records)
    ds.reset_num_skipped()
    assert ds.num_skipped == 0


def test_skip_count_visible_across_workers(bad_root):
    ds = build(bad_root, 'bad_img.json', skip_bad_samples=True)
    loader = DataLoader(ds, batch_size=1, num_workers=2,
                        collate_fn=lambda b: b)
    batches = list(loader)
    assert len(batches) == 3
    assert ds.num_skipped >= 2  # counted in the worker processes


def test_path_map_rewrites_released_absolute_paths(tmp_path):
    import json

    from albef_mm.datasets import PretrainCaptionDataset
    ann = tmp_path / 'coco.json'
    ann.write_text(json.dumps([
        {'image': '/export/share/coco/images/a.jpg', 'caption': 'a dog'},
        {'image': '/elsewhere/b.jpg', 'caption': 'a cat'},
        {'image': 'rel/c.jpg', 'caption': 'a cow'},
    ]))
    ds = PretrainCaptionDataset(
        str(ann), data_prefix=dict(img_path=str(tmp_path / 'imgs')),
        path_map={'/export/share/coco/images/': 'coco/'})
    paths = [ds.get_data_info(i)['img_path'] for i in range(3)]
    assert paths == [str(tmp_path / 'imgs' / 'coco' / 'a.jpg'),
                     '/elsewhere/b.jpg', str(tmp_path / 'imgs' / 'rel' /
                                             'c.jpg')]
