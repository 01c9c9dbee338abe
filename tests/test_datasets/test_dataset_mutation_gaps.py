"""Dataset and transform behaviour a package-wide mutation pass found
untested (hand-computed expectations)."""
import numpy as np

from albef_mm.datasets.transforms import ALBEFResize


def test_resize_scale_factor_is_width_then_height():
    img = np.zeros((20, 40, 3), dtype=np.uint8)  # h 20, w 40
    out = ALBEFResize((10, 30))(dict(img=img))  # to h 10, w 30
    assert out['img'].shape == (10, 30, 3)
    assert out['scale_factor'] == (0.75, 0.5)
    pair = ALBEFResize((10, 30))(dict(img=[img, np.zeros((10, 10, 3),
                                                         dtype=np.uint8)]))
    assert pair['scale_factor'] == [(0.75, 0.5), (3.0, 1.0)]


def test_grounding_image_size_is_height_then_width(tmp_path):
    import json

    from albef_mm.datasets.refcoco import RefCOCODataset
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


def test_nlvr2_labels_from_strings_and_json_booleans(tmp_path):
    import json

    from albef_mm.datasets.nlvr2 import NLVR2Dataset
    recs = [dict(images=['a.png', 'b.png'], sentence='Two dogs.', label=lab)
            for lab in ('True', 'False', True, False)]
    (tmp_path / 'ann.json').write_text(json.dumps(recs))
    ds = NLVR2Dataset(str(tmp_path / 'ann.json'))
    assert [ds.get_data_info(i)['gt_label'] for i in range(4)] == [1, 0, 1, 0]
    assert ds.get_data_info(0)['text'] == 'two dogs'


def test_class_datasets_order_classes_and_files_deterministically(tmp_path):
    """Class names from labels are sorted (label = position); the images
    of a class folder are listed in sorted order, whatever the order the
    file system returns them in."""
    from albef_mm.datasets.class_folder import (ClassAnnotationDataset,
                                                ClassFolderDataset)
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


def test_vqa_test_records_keep_answers_as_lists(tmp_path):
    """A val split mixing VQA (ten human answers) and VG (one answer
    string) records: both give ``gt_answer`` as a list for the metric."""
    import json

    from albef_mm.datasets.vqa import VQADataset
    recs = [dict(question='How many?', image='a.jpg', dataset='vg',
                 question_id=1, answer='two'),
            dict(question='What color?', image='b.jpg', dataset='vqa',
                 question_id=2, answer=['red'] * 10)]
    (tmp_path / 'val.json').write_text(json.dumps(recs))
    ds = VQADataset(str(tmp_path / 'val.json'), test_mode=True)
    assert ds.get_data_info(0)['gt_answer'] == ['two']
    assert ds.get_data_info(1)['gt_answer'] == ['red'] * 10


def test_feature_extractor_without_test_pipeline_resizes_to_the_vit():
    from types import SimpleNamespace

    from mmengine.config import Config

    from albef_mm.apis.feature_extractor import _image_pipeline
    model = SimpleNamespace(vision_backbone=SimpleNamespace(img_size=48))
    steps = _image_pipeline(Config(dict()), model)
    img = np.zeros((30, 70, 3), dtype=np.uint8)
    out = dict(img=img)
    for t in steps:
        out = t(out)
    assert out['img'].shape == (48, 48, 3)


def test_random_augment_defaults_two_ops_at_magnitude_seven():
    """Defaults N=2, M=7: two Brightness ops with factor 7/10*1.8+0.1 =
    1.36 each (values truncated): 100 -> 136 -> 184."""
    from albef_mm.datasets.transforms.randaugment import RandomAugment
    aug = RandomAugment(augs=['Brightness'], prob=1.0)
    img = np.full((4, 4, 3), 100, dtype=np.uint8)
    assert (aug.augment(img) == 184).all()
