"""tools/dataset_converters/vqa_to_albef.py: official VQA v2 and VG QA to
ALBEF's json, answer list; the output loads in VQADataset."""
import json
import os.path as osp
import sys

import pytest

from albef_mm.datasets import VQADataset
from helpers.tiny import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'dataset_converters'))
import vqa_to_albef  # noqa: E402

QUESTIONS = dict(data_subtype='val2014', questions=[
    dict(question_id=42001, image_id=42, question='How many dogs?'),
    dict(question_id=42002, image_id=42, question='Is it sunny?')])
ANNOTATIONS = dict(annotations=[
    dict(question_id=42002, image_id=42, question_type='is it',
         answer_type='yes/no',
         answers=[dict(answer='yes', answer_id=i + 1,
                       answer_confidence='yes') for i in range(10)]),
    dict(question_id=42001, image_id=42, question_type='how many',
         answer_type='number',
         answers=[dict(answer=a, answer_id=i + 1, answer_confidence='yes')
                  for i, a in enumerate(['2'] * 7 + ['3'] * 3)])])
VG = [dict(id=7, qas=[dict(qa_id=1, image_id=7, question='What color?',
                           answer='Brown.'),
                      dict(qa_id=2, image_id=7, question='Where?',
                           answer='On the table. ')])]


def _write(tmp_path, name, obj):
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return str(path)


def test_vqa_v2_train_and_test_records(tmp_path):
    q = _write(tmp_path, 'q.json', QUESTIONS)
    a = _write(tmp_path, 'a.json', ANNOTATIONS)
    out = str(tmp_path / 'vqa_val.json')
    assert vqa_to_albef.main(['vqa', '--questions', q, '--annotations', a,
                              '--out', out]) == 0
    recs = json.loads(open(out).read())
    assert recs[0] == dict(
        question_id=42001, question='How many dogs?',
        image='val2014/COCO_val2014_000000000042.jpg', dataset='vqa',
        answer=['2'] * 7 + ['3'] * 3, question_type='how many',
        answer_type='number')
    ds = VQADataset(out)
    assert ds.get_data_info(0)['gt_answer'] == ['2', '3']
    test = str(tmp_path / 'vqa_test.json')
    vqa_to_albef.main(['vqa', '--questions', q, '--out', test])
    recs = json.loads(open(test).read())
    assert set(recs[1]) == {'question_id', 'question', 'image', 'dataset'}
    assert VQADataset(test, test_mode=True).get_data_info(1)['text'] == \
        'is it sunny'
    with pytest.raises(KeyError, match='has no annotation'):
        vqa_to_albef.convert_vqa(QUESTIONS, dict(annotations=[]))


def test_vg_and_answer_list(tmp_path):
    vg = vqa_to_albef.convert_vg(VG)
    assert vg == [dict(question='What color?', answer='brown',
                       image='image/7.jpg', dataset='vg'),
                  dict(question='Where?', answer='on the table',
                       image='image/7.jpg', dataset='vg')]
    assert vqa_to_albef.convert_vg(VG, raw_answers=True)[0]['answer'] == \
        'Brown.'
    vqa = vqa_to_albef.convert_vqa(QUESTIONS, ANNOTATIONS)
    # 10 x yes, 7 x 2, 3 x 3, 1 x brown, 1 x on the table
    assert vqa_to_albef.build_answer_list(vqa + vg, top=3) == \
        ['yes', '2', '3']
    assert vqa_to_albef.build_answer_list(vqa + vg, top=10,
                                          min_count=2) == ['yes', '2', '3']
    path = _write(tmp_path, 'vg_qa.json', vg)
    assert VQADataset(path).get_data_info(1)['gt_answer_weight'] == [0.5]


def _mc(qid, answer):
    return dict(question_id=qid, multiple_choice_answer=answer)


# a small frequency table: (normalised answer, questions)
VOCAB_TABLE = (
    [_mc(i, 'yes') for i in range(3)]                        # yes: 3
    + [_mc(10, 'Two'), _mc(11, 'two'), _mc(12, '2')]         # 2: 3
    + [_mc(20, 'red.'), _mc(21, 'red'), _mc(22, 'Red')]      # red: 3
    + [_mc(30, 'the'), _mc(31, 'a'), _mc(32, 'an')]          # '': 3
    + [_mc(40, 'blue'), _mc(41, 'blue')]                     # blue: 2
    + [_mc(50, 'cat'), _mc(50, 'cat'), _mc(51, 'cat')]       # cat: 2 q
    + [_mc(60, '1,000'), _mc(61, '1000'), _mc(62, 'a dog'),
       _mc(63, 'dog'), _mc(64, 'the dog'), _mc(65, '1000')]  # 1000, dog: 3
)


def test_standard_answer_list_recipe_on_a_frequency_table():
    # compute_softscore: normalised multiple_choice_answer, distinct
    # questions >= the threshold, first-appearance order; '' dropped
    assert vqa_to_albef.standard_answer_list(VOCAB_TABLE, 3) == [
        'yes', '2', 'red', '1000', 'dog']
    assert vqa_to_albef.standard_answer_list(
        VOCAB_TABLE, 3, drop_empty=False) == [
        'yes', '2', 'red', '', '1000', 'dog']
    assert vqa_to_albef.standard_answer_list(VOCAB_TABLE, 2) == [
        'yes', '2', 'red', 'blue', 'cat', '1000', 'dog']
    assert vqa_to_albef.STANDARD_MIN_QUESTIONS == 9
    with pytest.raises(KeyError, match='official VQA v2 annotation'):
        vqa_to_albef.standard_answer_list([dict(question_id=1, answer='x')])


def test_answer_list_command_standard_and_approximation(tmp_path, capsys):
    train = _write(tmp_path, 'train_ann.json',
                   dict(annotations=VOCAB_TABLE[:9]))
    val = _write(tmp_path, 'val_ann.json', dict(annotations=VOCAB_TABLE[9:]))
    out = str(tmp_path / 'answers.json')
    assert vqa_to_albef.main(['answer-list', '--annotations', train, val,
                              '--min-questions', '3', '--out', out]) == 0
    with open(out) as f:
        assert json.load(f) == ['yes', '2', 'red', '1000', 'dog']
    assert 'standard recipe' in capsys.readouterr().out
    records = _write(tmp_path, 'records.json', vqa_to_albef.convert_vqa(
        QUESTIONS, ANNOTATIONS))
    out2 = str(tmp_path / 'top.json')
    vqa_to_albef.main(['answer-list', records, '--top', '2', '--out', out2])
    assert 'approximation' in capsys.readouterr().out
    with open(out2) as f:
        assert json.load(f) == ['yes', '2']
    for bad in (['answer-list', records, '--out', out2],
                ['answer-list', '--out', out2],
                ['answer-list', records, '--annotations', train, '--top',
                 '2', '--out', out2]):
        with pytest.raises(SystemExit):
            vqa_to_albef.main(bad)
