"""RefCOCODataset and the refer converter on small files in the official
formats (tests/data/grounding: refs(unc).p + instances.json + dets.json,
four 64 px images)."""
import json
import os.path as osp
import pickle
import sys

import pytest

from albef_mm.datasets.refcoco import RefCOCODataset, load_refer
from helpers.tiny import REPO_ROOT

DATA = osp.join(REPO_ROOT, 'tests', 'data', 'grounding')
REFER = osp.join(DATA, 'refer')
sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'dataset_converters'))
from refcoco_to_albef import convert  # noqa: E402

PIPELINE = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFResize', size=32),
    dict(type='PackALBEFInputs',
         algorithm_keys=('text', 'image_idx', 'ref_id', 'gt_bbox',
                         'proposals', 'ref_split', 'gt_image_size')),
]


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('refcoco+'))
    counts = convert(REFER, out, 'refcoco+', 'unc', image_prefix='')
    return out, counts


def test_load_refer_reads_boxes_from_instances():
    refs = load_refer(REFER, 'refcoco+', 'unc')
    assert len(refs) == 8
    inst = json.load(open(osp.join(REFER, 'refcoco+', 'instances.json')))
    anns = {a['id']: a for a in inst['annotations']}
    for ref in refs.values():
        assert ref['bbox'] == anns[ref['ann_id']]['bbox']
        assert (ref['height'], ref['width']) == (64, 64)
    assert {r['split'] for r in refs.values()} == {'train', 'val', 'testA',
                                                   'testB'}


def test_refer_pickle_with_objects_is_refused(tmp_path):
    folder = tmp_path / 'refcoco+'
    folder.mkdir()
    with open(folder / 'refs(unc).p', 'wb') as f:
        pickle.dump([dict(ref_id=0, obj=OSError('x'))], f)
    (folder / 'instances.json').write_text(open(osp.join(
        REFER, 'refcoco+', 'instances.json')).read())
    with pytest.raises(pickle.UnpicklingError, match='refusing'):
        load_refer(str(tmp_path), 'refcoco+', 'unc')
    with pytest.raises(FileNotFoundError, match=r'refs\(umd\).p'):
        load_refer(str(tmp_path), 'refcoco+', 'umd')


def test_converter_writes_albef_files(converted):
    out, counts = converted
    # 2 refs per split, the first of each image with 2 expressions
    assert counts['refcoco+_train.json'] == 3
    assert counts['refcoco+_val.json'] == 3
    assert counts['refcoco+_test.json'] == 6  # testA + testB
    assert counts['refcoco+_testA.json'] == 3
    assert counts['refs.json'] == 8
    train = json.load(open(osp.join(out, 'refcoco+_train.json')))
    assert set(train[0]) == {'image', 'text'}
    assert train[0]['image'] == 'COCO_train2014_000000001000.jpg'
    test = json.load(open(osp.join(out, 'refcoco+_test.json')))
    assert all(set(r) == {'image', 'text', 'ref_id'} for r in test)


def test_train_mode_indexes_images_by_file_name(converted):
    out, _ = converted
    ds = RefCOCODataset(osp.join(out, 'refcoco+_train.json'),
                        data_prefix=dict(img_path=osp.join(DATA, 'images')),
                        pipeline=PIPELINE)
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    # both train refs are on image 1000: one image index for all three
    assert [i['image_idx'] for i in infos] == [0, 0, 0]
    refs = load_refer(REFER, 'refcoco+', 'unc')
    assert [i['text'] for i in infos] == [
        sent for _, r in sorted(refs.items()) if r['split'] == 'train'
        for sent in r['sentences']]
    item = ds[0]
    assert tuple(item['inputs'].shape) == (3, 32, 32)
    assert item['data_samples'].image_idx == 0


@pytest.mark.parametrize('gt', ['refs_json', 'refer'])
def test_test_mode_ground_truth_and_proposals(converted, gt):
    out, _ = converted
    kwargs = dict(refs_file=osp.join(out, 'refs.json')) if gt == \
        'refs_json' else dict(refer_root=REFER)
    ds = RefCOCODataset(
        osp.join(out, 'refcoco+_test.json'), test_mode=True,
        data_prefix=dict(img_path=osp.join(DATA, 'images')),
        dets_file=osp.join(REFER, 'refcoco+', 'dets.json'), pipeline=PIPELINE,
        **kwargs)
    refs = load_refer(REFER, 'refcoco+', 'unc')
    dets = json.load(open(osp.join(REFER, 'refcoco+', 'dets.json')))
    assert len(ds) == 6
    sample = ds[0]['data_samples']
    ref = refs[sample.ref_id]
    assert sample.gt_bbox == ref['bbox']
    assert sample.ref_split == 'testA'
    assert sample.gt_image_size == (64, 64)
    assert sample.proposals == [d[:4] for d in dets[str(ref['image_id'])]]
    assert {ds.get_data_info(i)['ref_split'] for i in range(6)} == {
        'testA', 'testB'}


def test_errors_name_file_record_and_fix(tmp_path, converted):
    out, _ = converted
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps([{'image': 'a.jpg', 'text': 'x'}]))
    with pytest.raises(KeyError, match=r'bad.json, record 0.*ref_id'):
        RefCOCODataset(str(bad), test_mode=True,
                       refs_file=osp.join(out, 'refs.json'),
                       dets_file=osp.join(REFER, 'refcoco+', 'dets.json'))
    bad.write_text(json.dumps([{'image': 'a.jpg', 'text': 'x',
                                'ref_id': 999}]))
    with pytest.raises(KeyError, match='ref_id 999 is not in the ground'):
        RefCOCODataset(str(bad), test_mode=True,
                       refs_file=osp.join(out, 'refs.json'),
                       dets_file=osp.join(REFER, 'refcoco+', 'dets.json'))
    with pytest.raises(ValueError, match='set refs_file'):
        RefCOCODataset(str(bad), test_mode=True)
    with pytest.raises(ValueError, match='needs dets_file'):
        RefCOCODataset(str(bad), test_mode=True,
                       refs_file=osp.join(out, 'refs.json'))


def test_converter_handles_refcocog_umd_splits(tmp_path):
    # RefCOCOg (umd): train / val / test splits, one test file
    folder = tmp_path / 'refer' / 'refcocog'
    folder.mkdir(parents=True)
    with open(osp.join(REFER, 'refcoco+', 'refs(unc).p'), 'rb') as f:
        refs = pickle.load(f)
    for ref in refs:
        ref['split'] = {'testA': 'test', 'testB': 'test'}.get(ref['split'],
                                                              ref['split'])
    with open(folder / 'refs(umd).p', 'wb') as f:
        pickle.dump(refs, f)
    (folder / 'instances.json').write_text(open(osp.join(
        REFER, 'refcoco+', 'instances.json')).read())
    out = str(tmp_path / 'out')
    counts = convert(str(tmp_path / 'refer'), out, 'refcocog', 'umd')
    assert counts['refcocog_test.json'] == 6
    assert sorted(counts) == ['refcocog_test.json', 'refcocog_train.json',
                              'refcocog_val.json', 'refs.json']
    test = json.load(open(osp.join(out, 'refcocog_test.json')))
    assert test[0]['image'].startswith('train2014/COCO_train2014_')
    ds = RefCOCODataset(osp.join(out, 'refcocog_test.json'), test_mode=True,
                        refer_root=str(tmp_path / 'refer'),
                        refer_dataset='refcocog', split_by='umd',
                        dets_file=osp.join(REFER, 'refcoco+', 'dets.json'))
    assert {ds.get_data_info(i)['ref_split'] for i in range(len(ds))} == {
        'test'}


def test_grounding_image_size_is_height_then_width(tmp_path):
    refs = {'7': dict(image_id=3, bbox=[1, 2, 3, 4], split='val',
                      height=48, width=64)}
    (tmp_path / 'refs.json').write_text(json.dumps(refs))
    (tmp_path / 'dets.json').write_text(json.dumps({'3': [[0, 0, 5, 5]]}))
    (tmp_path / 'test.json').write_text(json.dumps(
        [dict(image='a.jpg', text='the left one', ref_id=7)]))
    ds = RefCOCODataset(str(tmp_path / 'test.json'), test_mode=True,
                        refs_file=str(tmp_path / 'refs.json'),
                        dets_file=str(tmp_path / 'dets.json'))
    info = ds.get_data_info(0)
    assert info['gt_image_size'] == (48, 64)
    assert info['proposals'] == [[0.0, 0.0, 5.0, 5.0]]
