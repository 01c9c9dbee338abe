"""Class-folder, annotation-file and DTD classification datasets, and the
Shapes classification export."""
import json
import os
import os.path as osp
import sys

import numpy as np
import pytest
from PIL import Image

from albef_mm.datasets import (ClassAnnotationDataset, ClassFolderDataset,
                               DTDDataset, generate_shapes)
from helpers.tiny import REPO_ROOT

PIPELINE = [dict(type='LoadRGBImageFromFile'),
            dict(type='ALBEFResize', size=16),
            dict(type='PackALBEFInputs', algorithm_keys=('gt_label', ))]


def _img(path, value=0):
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(path)


@pytest.fixture()
def folders(tmp_path):
    for cls, n in (('zebra', 2), ('apple', 1), ('mango', 3)):
        for i in range(n):
            _img(str(tmp_path / cls / f'{i}.png'), i)
    _img(str(tmp_path / 'mango' / 'sub' / 'deep.jpg'))
    (tmp_path / 'mango' / 'notes.txt').write_text('not an image')
    return tmp_path


def test_class_folders_sorted_names_and_labels(folders):
    ds = ClassFolderDataset(data_root=str(folders), pipeline=PIPELINE)
    assert ds.metainfo['classes'] == ('apple', 'mango', 'zebra')
    labels = [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]
    assert labels == [0, 1, 1, 1, 1, 2, 2]  # mango has 3 + 1 nested
    assert any(p.endswith('deep.jpg') for p in
               (ds.get_data_info(i)['img_path'] for i in range(len(ds))))
    sample = ds[0]
    assert sample['data_samples'].gt_label == 0
    assert tuple(sample['inputs'].shape) == (3, 16, 16)


def test_class_folders_with_given_names(folders, tmp_path):
    ds = ClassFolderDataset(data_root=str(folders),
                            classes=['zebra', 'apple', 'mango'])
    assert ds.get_data_info(0)['gt_label'] == 0  # zebra first
    names = tmp_path / 'names.txt'
    names.write_text('zebra\napple\n')
    with pytest.raises(ValueError, match=r"folders not in classes \['mango'"):
        ClassFolderDataset(data_root=str(folders), classes=str(names))
    with pytest.raises(FileNotFoundError, match='expected <root>/<class>'):
        ClassFolderDataset(data_root=str(folders / 'nope'))
    os.makedirs(folders / 'empty')
    with pytest.raises(ValueError, match='empty holds no image'):
        ClassFolderDataset(data_root=str(folders))


def test_annotation_file_text_and_json(tmp_path):
    (tmp_path / 'classes.txt').write_text('cat\ndog\n')
    (tmp_path / 'ann.txt').write_text(
        '# comment\nimgs/a b.jpg dog\n\nimgs/c.jpg 0\n')
    ds = ClassAnnotationDataset('ann.txt', data_root=str(tmp_path),
                                classes='classes.txt',
                                data_prefix=dict(img_path='root'))
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [i['gt_label'] for i in infos] == [1, 0]
    assert infos[0]['img_path'] == osp.join(str(tmp_path), 'root',
                                            'imgs/a b.jpg')
    assert ds.metainfo['classes'] == ('cat', 'dog')
    (tmp_path / 'ann.json').write_text(json.dumps(
        [dict(image='x.jpg', label='b'), dict(image='y.jpg', label='a')]))
    ds = ClassAnnotationDataset('ann.json', data_root=str(tmp_path))
    assert ds.metainfo['classes'] == ('a', 'b')  # sorted names
    assert [ds.get_data_info(i)['gt_label'] for i in range(2)] == [1, 0]


@pytest.mark.parametrize('content,kw,err,match', [
    ('x.jpg bird\n', dict(classes=['cat']), ValueError,
     r"ann.txt line 1: unknown class 'bird'"),
    ('x.jpg cat\ny.jpg 3\n', dict(classes=['cat']), ValueError,
     r'line 2: label 3 is not in \[0, 1\)'),
    ('x.jpg 0\n', {}, ValueError, 'line 1: integer labels need'),
    ('\nlonely\n', {}, ValueError, 'line 2: expected "<image> <label>"'),
    ('x.jpg cat\n', dict(classes=['cat', 'cat']), ValueError, 'twice'),
    ('x.jpg cat\n', dict(classes=['cat'], check_files=True),
     FileNotFoundError, 'line 1: image .*x.jpg does not exist'),
])
def test_annotation_file_errors(tmp_path, content, kw, err, match):
    (tmp_path / 'ann.txt').write_text(content)
    with pytest.raises(err, match=match):
        ClassAnnotationDataset('ann.txt', data_root=str(tmp_path), **kw)


def test_annotation_file_missing_and_bad_json(tmp_path):
    with pytest.raises(FileNotFoundError, match='annotation file not found'):
        ClassAnnotationDataset('none.txt', data_root=str(tmp_path))
    (tmp_path / 'a.json').write_text('[{"image": "x.jpg"}]')
    with pytest.raises(ValueError, match='a.json record 0'):
        ClassAnnotationDataset('a.json', data_root=str(tmp_path))


@pytest.fixture()
def dtd(tmp_path):
    root = tmp_path / 'dtd'
    classes = ['banded', 'zigzagged', 'dotted']
    for c in classes:
        for i in range(1, 4):
            _img(str(root / 'images' / c / f'{c}_{i:04d}.jpg'))
    os.makedirs(root / 'labels')
    for fold in (1, 2):
        for split, i in (('train', 1), ('val', 2), ('test', 3)):
            k = i if fold == 1 else 4 - i
            (root / 'labels' / f'{split}{fold}.txt').write_text(''.join(
                f'{c}/{c}_{k:04d}.jpg\n' for c in classes))
    return root


def test_dtd_official_split_files(dtd):
    ds = DTDDataset(str(dtd), split='test', fold=1, check_files=True,
                    pipeline=PIPELINE)
    assert ds.metainfo['classes'] == ('banded', 'dotted', 'zigzagged')
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [osp.basename(i['img_path']) for i in infos] == [
        'banded_0003.jpg', 'zigzagged_0003.jpg', 'dotted_0003.jpg']
    assert [i['gt_label'] for i in infos] == [0, 2, 1]
    assert ds[1]['data_samples'].gt_label == 2
    both = DTDDataset(str(dtd), split=('train', 'val'), fold=2)
    assert [osp.basename(both.get_data_info(i)['img_path'])[-8:]
            for i in (0, 3)] == ['0003.jpg', '0002.jpg']


def test_dtd_errors(dtd):
    with pytest.raises(ValueError, match='1..10'):
        DTDDataset(str(dtd), fold=11)
    with pytest.raises(ValueError, match='one or more of'):
        DTDDataset(str(dtd), split='trainval')
    with pytest.raises(FileNotFoundError, match='test3.txt'):
        DTDDataset(str(dtd), fold=3)
    (dtd / 'labels' / 'test4.txt').write_text('banded/a.jpg\nfuzzy/b.jpg\n')
    with pytest.raises(ValueError, match=r"test4.txt line 2: .*'fuzzy/b.jpg'"):
        DTDDataset(str(dtd), fold=4)


def test_shapes_classification_export(tmp_path):
    sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'dataset_converters'))
    try:
        from shapes_classification import export_shapes_classification
    finally:
        sys.path.pop(0)
    data = str(tmp_path / 'shapes')
    generate_shapes(data, num_train=30, num_val=4, num_test=12)
    before = sorted(os.listdir(data))
    counts = export_shapes_classification(data)
    assert sorted(os.listdir(data)) == sorted(before + ['classification'])
    scenes = json.load(open(osp.join(data, 'scenes.json')))
    for attr in ('shape', 'color'):
        for split in ('train', 'test'):
            expected = [s for s in scenes if s['split'] == split and
                        len({o[attr] for o in s['objects']}) == 1]
            ds = ClassAnnotationDataset(
                f'classification/{attr}_{split}.txt', data_root=data,
                classes=f'classification/classes_{attr}.txt',
                check_files=True)
            assert len(ds) == len(expected) == counts[f'{attr}_{split}.txt']
            for i, scene in enumerate(expected):
                info = ds.get_data_info(i)
                assert info['img_path'].endswith(scene['image'])
                assert ds.metainfo['classes'][info['gt_label']] == \
                    scene['objects'][0][attr]
    single = export_shapes_classification(data, str(tmp_path / 'one'),
                                          mode='single')
    n_single = sum(1 for s in scenes if s['split'] == 'train'
                   and len(s['objects']) == 1)
    assert single['shape_train.txt'] == n_single <= counts['shape_train.txt']


def test_class_datasets_order_classes_and_files_deterministically(tmp_path):
    """Class names from labels are sorted (label = position); the images
    of a class folder are listed in sorted order, whatever the order the
    file system returns them in."""
    names = ['zebra', 'cat', 'mouse', 'ant', 'owl', 'dog']
    lines = [f'img_{i}.png {n}' for i, n in enumerate(names)]
    (tmp_path / 'ann.txt').write_text('\n'.join(lines))
    ds = ClassAnnotationDataset(str(tmp_path / 'ann.txt'))
    assert ds.metainfo['classes'] == tuple(sorted(names))
    assert [ds.get_data_info(i)['gt_label'] for i in range(6)] == [
        5, 1, 3, 0, 4, 2]
    files = ['q', 'b', 'x', 'a', 'm', 'k', 'z', 'c', 'h']
    for cls in ('b_cls', 'a_cls'):
        (tmp_path / 'root' / cls).mkdir(parents=True)
        for f in files:
            (tmp_path / 'root' / cls / f'{f}.png').write_bytes(b'')
    ds = ClassFolderDataset(str(tmp_path / 'root'))
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert ds.metainfo['classes'] == ('a_cls', 'b_cls')
    paths = [i['img_path'] for i in infos]
    assert paths == sorted(paths)
    assert [i['gt_label'] for i in infos] == [0] * 9 + [1] * 9
