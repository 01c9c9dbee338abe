import copy
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from albef_mm.datasets import RetrievalDataset
from helpers.tiny import REPO_ROOT
from helpers.scripts import load_script

DATA = osp.join(REPO_ROOT, 'tests', 'data', 'karpathy')


@pytest.fixture(scope='module')
def tool():
    return load_script('tools', 'dataset_converters', 'karpathy_to_albef.py')


def _load(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def test_coco(tool, tmp_path, capsys):
    counts = tool.main([osp.join(DATA, 'dataset_coco.json'), '--out-dir',
                        str(tmp_path / 'out')])
    # train = restval (5 captions) + train (6 captions)
    assert counts == {'train': 11, 'val': 1, 'test': 2}
    printed = capsys.readouterr().out
    assert 'train:      11 records' in printed and 'coco_test.json' in printed
    train = _load(tmp_path / 'out' / 'coco_train.json')
    assert train[0] == {
        'image': 'val2014/COCO_val2014_000000522418.jpg',
        'caption': 'A woman wearing a net on her head cutting a cake. ',
        'image_id': 'coco_522418'}
    assert train[5]['image'] == 'train2014/COCO_train2014_000000057870.jpg'
    assert {r['image_id'] for r in train} == {'coco_522418', 'coco_57870'}
    test = _load(tmp_path / 'out' / 'coco_test.json')
    assert [r['image'] for r in test] == [
        'val2014/COCO_val2014_000000391895.jpg',
        'val2014/COCO_val2014_000000318219.jpg']
    assert len(test[0]['caption']) == 5
    assert test[0]['caption'][1] == ('Man riding a motor bike on a dirt road '
                                     'on the countryside.')
    val = _load(tmp_path / 'out' / 'coco_val.json')
    assert val[0]['image_id'] == 'coco_184613'


def test_flickr_and_dataset_roundtrip(tool, tmp_path):
    out = tmp_path / 'ann'
    counts = tool.main([osp.join(DATA, 'dataset_flickr30k.json'),
                        '--out-dir', str(out)])
    assert counts == {'train': 10, 'val': 1, 'test': 1}
    train = _load(out / 'flickr30k_train.json')
    assert train[5] == {'image': 'flickr30k-images/10002456.jpg',
                        'caption': 'Several men in hard hats are operating '
                        'a giant pulley system.', 'image_id': 1}
    test = _load(out / 'flickr30k_test.json')
    assert test[0]['image'] == 'flickr30k-images/1007129816.jpg'

    # the output loads in RetrievalDataset (train and test mode)
    img_dir = tmp_path / 'flickr30k-images'
    img_dir.mkdir()
    for name in ('1000092795', '10002456', '1007129816', '1009434119'):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(
            img_dir / f'{name}.jpg')
    ds = RetrievalDataset('ann/flickr30k_train.json', data_root=str(tmp_path),
                          check_files=True)
    assert len(ds) == 10 and ds.num_images == 2
    assert ds.get_data_info(5)['image_idx'] == 1
    ds = RetrievalDataset('ann/flickr30k_test.json', data_root=str(tmp_path),
                          test_mode=True, check_files=True)
    assert ds.num_texts == 5 and ds.texts[0] == (
        'the man with pierced ears is wearing glasses and an orange hat')


def test_name_and_image_dir(tool, tmp_path):
    tool.main([osp.join(DATA, 'dataset_flickr30k.json'), '--out-dir',
               str(tmp_path), '--name', 'f30k', '--image-dir', ''])
    assert _load(tmp_path / 'f30k_val.json')[0]['image'] == '1009434119.jpg'
    tool.main([osp.join(DATA, 'dataset_coco.json'), '--out-dir',
               str(tmp_path), '--image-dir', 'images'])
    assert _load(tmp_path / 'coco_val.json')[0]['image'] == (
        'images/COCO_val2014_000000184613.jpg')


def _broken(key, value=None, dataset='coco', index=2):
    data = _load(osp.join(DATA, f'dataset_{dataset}.json'))
    img = data['images'][index]
    if value is None:
        del img[key]
    else:
        img[key] = value
    return data


@pytest.mark.parametrize('data, msg', [
    (_broken('filename'), 'image 2: missing or empty "filename"'),
    (_broken('filepath'), 'image 2: missing key "filepath"'),
    (_broken('cocoid'), 'image 2: missing key "cocoid"'),
    (_broken('imgid', dataset='flickr30k', index=1),
     'image 1: missing key "imgid"'),
    (_broken('split', 'dev'), 'image 2: "split" must be one of'),
    (_broken('sentences'), 'image 2: "sentences" must be a non-empty list'),
    (_broken('sentences', [{'tokens': ['a']}]),
     'image 2, sentence 0: missing string "raw"'),
])
def test_errors_name_the_image(tool, data, msg):
    with pytest.raises((KeyError, ValueError), match=msg.replace(
            '(', r'\(').replace(')', r'\)')) as info:
        tool.convert_karpathy(data, 'dataset_x.json')
    assert 'dataset_x.json' in str(info.value)


def test_file_level_errors(tool, tmp_path):
    data = _load(osp.join(DATA, 'dataset_coco.json'))
    bad = copy.deepcopy(data)
    bad['dataset'] = 'vg'
    with pytest.raises(ValueError, match='"dataset" must be one of'):
        tool.convert_karpathy(bad)
    with pytest.raises(ValueError, match='"images" list'):
        tool.convert_karpathy({'dataset': 'coco'})
    with pytest.raises(FileNotFoundError, match='nope.json'):
        tool.main([str(tmp_path / 'nope.json'), '--out-dir', str(tmp_path)])
    (tmp_path / 'bad.json').write_text('{oops')
    with pytest.raises(ValueError, match='not valid json'):
        tool.main([str(tmp_path / 'bad.json'), '--out-dir', str(tmp_path)])
