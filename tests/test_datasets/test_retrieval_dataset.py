import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from albef_mm.datasets import RetrievalDataset, generate_shapes
from albef_mm.datasets.transforms import ImageLoadError, pre_caption
from albef_mm.registry import DATASETS


@pytest.fixture(scope='module')
def shapes_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    generate_shapes(str(root), num_train=4, num_val=3, num_test=2,
                    image_size=32, retrieval_train_captions=2)
    return str(root)


def _write(path, obj):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f)
    return str(path)


def _image(path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)


@pytest.fixture
def tiny(tmp_path):
    """Three images on disk, a train and a test file."""
    (tmp_path / 'imgs').mkdir()
    for name in ('a', 'b', 'c'):
        _image(tmp_path / 'imgs' / f'{name}.jpg')
    _write(tmp_path / 'train.json', [
        dict(image='b.jpg', caption='A Dog, running!', image_id='coco_7'),
        dict(image='a.jpg', caption='a cat', image_id=3),
        dict(image='b.jpg', caption='Another dog.', image_id='coco_7'),
        dict(image='c.jpg', caption='x-y/z', image_id='coco_1'),
        dict(image='a.jpg', caption='one two three four', image_id=3),
    ])
    _write(tmp_path / 'test.json', [
        dict(image='a.jpg', caption=['First (one).', 'Second one']),
        dict(image='b.jpg', caption=['third']),
        dict(image='c.jpg', caption=['4th', 'fifth', 'SIXTH!'],
             image_id='c'),
    ])
    return tmp_path


def test_train_mode_tiny(tiny):
    ds = RetrievalDataset('train.json', data_root=str(tiny),
                          data_prefix=dict(img_path='imgs'))
    assert len(ds) == 5
    # contiguous indices in order of first appearance, str and int ids
    assert [ds.get_data_info(i)['image_idx'] for i in range(5)] == [
        0, 1, 0, 2, 1]
    assert ds.num_images == 3 and ds.num_texts == 5
    info = ds.get_data_info(0)
    assert info['img_path'] == osp.join(str(tiny), 'imgs', 'b.jpg')
    assert info['text'] == 'a dog running'
    assert info['image_id'] == 'coco_7' and info['sample_idx'] == 0
    assert ds.get_data_info(3)['text'] == 'x y z'
    out = ds[4]  # empty pipeline: the data info after the file check
    assert out['text'] == 'one two three four' and out['image_idx'] == 1


def test_train_max_words_and_several_files(tiny):
    _write(tiny / 'more.json', [
        dict(image='c.jpg', caption='c again', image_id='coco_1'),
        dict(image='a.jpg', caption='new', image_id='new')])
    ds = RetrievalDataset(['train.json', 'more.json'], data_root=str(tiny),
                          data_prefix=dict(img_path='imgs'), max_words=2)
    assert len(ds) == 7
    assert ds.get_data_info(4)['text'] == 'one two'
    assert [ds.get_data_info(i)['image_idx'] for i in (5, 6)] == [2, 3]
    assert ds.num_images == 4


def test_test_mode_tiny(tiny):
    ds = RetrievalDataset(str(tiny / 'test.json'),
                          data_prefix=dict(img_path=str(tiny / 'imgs')),
                          test_mode=True)
    assert len(ds) == 3 and ds.num_images == 3 and ds.num_texts == 6
    assert ds.texts == ['first one', 'second one', 'third', '4th', 'fifth',
                        'sixth']
    assert ds.img2txt == [[0, 1], [2], [3, 4, 5]]
    assert ds.txt2img == [0, 0, 1, 2, 2, 2]
    info = ds.get_data_info(2)
    assert info['text'] == ['4th', 'fifth', 'sixth']
    assert info['gt_text_idx'] == [3, 4, 5]
    assert info['image_idx'] == 2 and info['image_id'] == 'c'
    assert info['img_path'] == str(tiny / 'imgs' / 'c.jpg')
    assert '_where' not in info and 'image_id' not in ds.get_data_info(0)
    for i, gts in enumerate(ds.img2txt):
        assert ds.get_data_info(i)['text'] == [ds.texts[j] for j in gts]


def test_eval_maps_lazy_and_train_mode(tiny):
    ds = RetrievalDataset('test.json', data_root=str(tiny), test_mode=True,
                          lazy_init=True)
    assert ds.txt2img == [0, 0, 1, 2, 2, 2]  # triggers full_init
    train = RetrievalDataset('train.json', data_root=str(tiny))
    with pytest.raises(RuntimeError, match='only in test_mode'):
        train.texts
    with pytest.raises(RuntimeError, match='only in test_mode'):
        train.img2txt


def test_registry_build_and_pipeline(shapes_root):
    ds = DATASETS.build(dict(
        type='RetrievalDataset', ann_file='retrieval_train.json',
        data_root=shapes_root,
        pipeline=[dict(type='LoadRGBImageFromFile'),
                  dict(type='PackALBEFInputs',
                       algorithm_keys=('text', 'image_idx'))]))
    out = ds[3]
    assert tuple(out['inputs'].shape) == (3, 32, 32)
    assert out['data_samples'].image_idx == 1
    assert out['data_samples'].image_id == 1


def test_shapes_train(shapes_root):
    ds = RetrievalDataset('retrieval_train.json', data_root=shapes_root,
                          check_files=True)
    with open(osp.join(shapes_root, 'retrieval_train.json')) as f:
        raw = json.load(f)
    assert len(ds) == len(raw) == 8
    assert ds.num_images == 4
    ids = {}
    for i, rec in enumerate(raw):
        info = ds.get_data_info(i)
        assert info['image_idx'] == ids.setdefault(rec['image_id'], len(ids))
        assert info['text'] == pre_caption(rec['caption'], 30)
        assert info['img_path'] == osp.join(shapes_root, rec['image'])


@pytest.mark.parametrize('split', ['val', 'test'])
def test_shapes_test(shapes_root, split):
    ds = RetrievalDataset(f'retrieval_{split}.json', data_root=shapes_root,
                          test_mode=True, check_files=True)
    with open(osp.join(shapes_root, f'retrieval_{split}.json')) as f:
        raw = json.load(f)
    assert ds.num_images == len(raw) == len(ds)
    assert ds.num_texts == sum(len(r['caption']) for r in raw)
    flat = [pre_caption(c) for r in raw for c in r['caption']]
    assert ds.texts == flat
    for j, i in enumerate(ds.txt2img):
        assert j in ds.img2txt[i]
    assert ds[0]['gt_text_idx'] == ds.img2txt[0]


# ---------------------------------------------------------------- errors
def test_missing_ann_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.json'):
        RetrievalDataset('nope.json', data_root=str(tmp_path))
    with pytest.raises(ValueError, match='ann_file is empty'):
        RetrievalDataset([])


@pytest.mark.parametrize('test_mode', [False, True])
@pytest.mark.parametrize('rec, err, msg', [
    (dict(caption='x', image_id=1), KeyError, 'missing key "image"'),
    (dict(image='a.jpg', image_id=1), KeyError, 'missing key "caption"'),
    ('just a string', ValueError, 'expected a dict'),
    (dict(image='', caption='x', image_id=1), ValueError, 'non-empty path'),
])
def test_record_errors(tmp_path, test_mode, rec, err, msg):
    good = dict(image='ok.jpg', caption=['a'] if test_mode else 'a',
                image_id=0)
    path = _write(tmp_path / 'ann.json', [good, rec])
    with pytest.raises(err, match=msg) as info:
        RetrievalDataset(path, test_mode=test_mode)
    assert 'ann.json, record 1' in str(info.value)


def test_train_errors(tmp_path):
    path = _write(tmp_path / 'tr.json', [dict(image='a.jpg', caption='x')])
    with pytest.raises(KeyError, match=r'tr\.json, record 0: missing key '
                       '"image_id"'):
        RetrievalDataset(path)
    path = _write(tmp_path / 'tr.json',
                  [dict(image='a.jpg', caption=['x'], image_id=1)])
    with pytest.raises(ValueError, match='record 0: a training record needs '
                       'one caption string.*test_mode=True'):
        RetrievalDataset(path)
    path = _write(tmp_path / 'tr.json',
                  [dict(image='a.jpg', caption='x', image_id=[1])])
    with pytest.raises(ValueError, match='record 0: "image_id" must be'):
        RetrievalDataset(path)


def test_test_mode_errors(tmp_path):
    path = _write(tmp_path / 'te.json', [dict(image='a.jpg', caption=['x']),
                                         dict(image='b.jpg', caption=[])])
    with pytest.raises(ValueError, match=r'te\.json, record 1: "caption" is '
                       'an empty list'):
        RetrievalDataset(path, test_mode=True)
    path = _write(tmp_path / 'te.json', [dict(image='a.jpg', caption='x')])
    with pytest.raises(ValueError, match='record 0: an evaluation record '
                       'needs "caption" as a list'):
        RetrievalDataset(path, test_mode=True)
    path = _write(tmp_path / 'te.json', [dict(image='a.jpg', caption=[1])])
    with pytest.raises(ValueError, match='record 0: every caption must be'):
        RetrievalDataset(path, test_mode=True)
    path = _write(tmp_path / 'te.json', [
        dict(image='a.jpg', caption=['x']), dict(image='b.jpg', caption=['y']),
        dict(image='a.jpg', caption=['z'])])
    with pytest.raises(ValueError, match=r'te\.json, record 2: image a\.jpg '
                       r'already appears in .*te\.json, record 0'):
        RetrievalDataset(path, test_mode=True)
    with pytest.raises(ValueError, match='indices.*not supported'):
        RetrievalDataset(path, test_mode=True, indices=[0])


def test_empty_and_non_list(tmp_path):
    path = _write(tmp_path / 'e.json', [])
    with pytest.raises(ValueError, match='no records'):
        RetrievalDataset(path)
    path = _write(tmp_path / 'd.json', {'image': 'a.jpg'})
    with pytest.raises(ValueError, match=r'd\.json must hold a json list'):
        RetrievalDataset(path)


def test_missing_image(tiny):
    _write(tiny / 'bad.json', [
        dict(image='a.jpg', caption=['x']),
        dict(image='gone.jpg', caption=['y'])])
    ds = RetrievalDataset('bad.json', data_root=str(tiny),
                          data_prefix=dict(img_path='imgs'), test_mode=True)
    assert ds[0]['text'] == ['x']
    with pytest.raises(ImageLoadError, match=r'gone\.jpg \(dataset index 1'):
        ds[1]
    with pytest.raises(FileNotFoundError, match=r'1 image file\(s\) not '
                       r'found, the first is .*gone\.jpg \(record 1\)'):
        RetrievalDataset('bad.json', data_root=str(tiny),
                         data_prefix=dict(img_path='imgs'), test_mode=True,
                         check_files=True)
