"""VQADataset: answer weights, VG answers, question cleaning, test records,
errors naming file and record."""
import json

import pytest

from albef_mm.datasets import VQADataset
from albef_mm.datasets.transforms.loading import ImageLoadError
from albef_mm.datasets.vqa import answer_weights


def _write(tmp_path, name, records):
    path = tmp_path / name
    path.write_text(json.dumps(records))
    return str(path)


def test_answer_weights_sum_as_the_original():
    answers, weights = answer_weights(['a', 'b', 'a', 'c', 'a'] + ['b'] * 5)
    assert answers == ['a', 'b', 'c']
    # 0.1 summed three times (not 3 * 0.1 == 0.30000000000000004 exactly)
    assert weights == [0.1 + 0.1 + 0.1, sum([0.1] * 6), 0.1]


def test_train_records_vqa_and_vg(tmp_path):
    vqa = _write(tmp_path, 'vqa_train.json', [
        dict(question='What color is the T-shirt?', image='coco/1.jpg',
             dataset='vqa', answer=['red'] * 7 + ['dark red'] * 3)])
    vg = _write(tmp_path, 'vg_qa.json', [
        dict(question='Where is it?', image='vg/2.jpg', dataset='vg',
             answer='on the table')])
    ds = VQADataset([vqa, vg], data_root=str(tmp_path),
                    data_prefix=dict(vqa='coco_root', vg='vg_root'),
                    max_words=3)
    a, b = ds.get_data_info(0), ds.get_data_info(1)
    assert a['text'] == 'what color is'
    assert a['gt_answer'] == ['red', 'dark red']
    assert a['gt_answer_weight'] == pytest.approx([0.7, 0.3])
    assert a['img_path'] == str(tmp_path / 'coco_root' / 'coco/1.jpg')
    assert b['gt_answer'] == ['on the table'] and \
        b['gt_answer_weight'] == [0.5]
    assert b['img_path'] == str(tmp_path / 'vg_root' / 'vg/2.jpg')
    with pytest.raises(ImageLoadError, match='dataset index 0'):
        ds[0]


def test_test_records_and_errors(tmp_path):
    long_q = ' '.join(['word'] * 60) + '?'
    test = _write(tmp_path, 'vqa_test.json', [
        dict(question_id=11, question=long_q, image='1.jpg', dataset='vqa'),
        dict(question_id=12, question='How many?', image='1.jpg',
             dataset='vqa', answer=['2'] * 10, question_type='how many',
             answer_type='number')])
    ds = VQADataset(test, test_mode=True)
    a, b = ds.get_data_info(0), ds.get_data_info(1)
    assert len(a['text'].split()) == 50 and a['question_id'] == 11
    assert 'gt_answer' not in a
    assert b['gt_answer'] == ['2'] * 10 and b['question_type'] == 'how many'
    bad = _write(tmp_path, 'bad.json', [
        dict(question='q', image='1.jpg', dataset='vqa', answer=['x']),
        dict(question='q', image='1.jpg', dataset='coco', answer=['x'])])
    with pytest.raises(ValueError, match=r'bad.json, record 1: "dataset"'):
        VQADataset(bad)
    with pytest.raises(KeyError, match=r'bad.json, record 0: missing key '
                       '"question_id"'):
        VQADataset(bad, test_mode=True)
    bad2 = _write(tmp_path, 'bad2.json', [
        dict(question='q', image='1.jpg', dataset='vg', answer=['x'])])
    with pytest.raises(ValueError, match='record 0: a "vg" record needs'):
        VQADataset(bad2)


def test_vqa_test_records_keep_answers_as_lists(tmp_path):
    """A val split mixing VQA (ten human answers) and VG (one answer
    string) records: both give ``gt_answer`` as a list for the metric."""
    recs = [dict(question='How many?', image='a.jpg', dataset='vg',
                 question_id=1, answer='two'),
            dict(question='What color?', image='b.jpg', dataset='vqa',
                 question_id=2, answer=['red'] * 10)]
    (tmp_path / 'val.json').write_text(json.dumps(recs))
    ds = VQADataset(str(tmp_path / 'val.json'), test_mode=True)
    assert ds.get_data_info(0)['gt_answer'] == ['two']
    assert ds.get_data_info(1)['gt_answer'] == ['red'] * 10
