"""Catalogue: annotation records that used to give a silent wrong result.

Each case feeds one defect to the real dataset (or model / loop) and
asserts the refusal at load time: the error type and a message naming the
file, the record and the fix.
"""
import json

import numpy as np
import pytest
from PIL import Image

from albef_mm.registry import DATASETS


@pytest.fixture
def root(tmp_path):
    Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(
        tmp_path / 'ok.jpg')
    return tmp_path


def _dataset(root, typ, records, **kwargs):
    path = root / 'ann.json'
    path.write_text(json.dumps(records))
    return DATASETS.build(dict(type=typ, ann_file=str(path),
                               data_root=str(root), pipeline=[], **kwargs))


def _vqa(question='what?', **extra):
    return dict(dict(image='ok.jpg', question=question, dataset='vqa',
                     answer=['a']), **extra)


def _ground_truth(root, bbox=(1, 1, 4, 4), height=8, width=8, dets=None):
    (root / 'refs.json').write_text(json.dumps({'7': dict(
        image_id=3, bbox=list(bbox), split='val', height=height,
        width=width)}))
    (root / 'dets.json').write_text(json.dumps(dets or {'3': [[0, 0, 4,
                                                               4]]}))
    return dict(test_mode=True, refs_file='refs.json', dets_file='dets.json')


# ----------------------------------------------- text empty once cleaned
@pytest.mark.parametrize('typ,records,kwargs,pattern', [
    ('VQADataset', [_vqa(), _vqa('?!')], {},
     r"ann\.json, record 1: question '\?!' is empty once cleaned"),
    ('RetrievalDataset', [dict(image='ok.jpg', caption='...', image_id=1)],
     {}, r"ann\.json, record 0: caption '\.\.\.' is empty once cleaned"),
    ('RetrievalDataset', [dict(image='ok.jpg', caption=['a dog', ' ; '])],
     dict(test_mode=True), r"ann\.json, record 0, caption 1: caption ' ; ' "
     r'is empty once cleaned'),
    ('RefCOCODataset', [dict(image='ok.jpg', text='"!"')], {},
     r"ann\.json, record 0: expression '\"!\"' is empty once cleaned"),
])
def test_text_empty_once_cleaned_is_refused(root, typ, records, kwargs,
                                            pattern):
    with pytest.raises(ValueError, match=pattern + r'.*fix or remove it'):
        _dataset(root, typ, records, **kwargs)


# ------------------------------------------------------------------ VQA
@pytest.mark.parametrize('qid', [float('nan'), 1.5, True, ''])
def test_vqa_question_id_of_another_type_is_refused(root, qid):
    with pytest.raises(ValueError, match=r'ann\.json, record 0: '
                       r'"question_id" must be an integer or a non-empty '
                       r'string, got ' + repr(qid)):
        _dataset(root, 'VQADataset', [_vqa(question_id=qid)],
                 test_mode=True)


def test_vqa_test_questions_sharing_an_id_are_refused(root):
    with pytest.raises(ValueError, match=r'record 2: question_id 4 is also '
                       r'the id of .*ann\.json, record 0'):
        _dataset(root, 'VQADataset', [_vqa(question_id=q) for q in (4, 5, 4)],
                 test_mode=True)


@pytest.mark.parametrize('answers,pattern', [
    (['red', 'red', 'red', 'blue'],
     r"answer_list: answer 'red' appears twice \(entries 0 and 1\)"),
    (['red', ''], r"answer_list: answer 1 is empty \(''\)"),
])
def test_vqa_answer_list_with_duplicates_or_empty_is_refused(
        answers, pattern):
    from albef_mm.models.algorithms.vqa import ALBEFVQA
    with pytest.raises(ValueError, match=pattern):
        ALBEFVQA._check_answers(answers, 'answer_list')


def test_vqa_answer_list_file_with_duplicates_names_the_file(tmp_path):
    from albef_mm.models.algorithms.vqa import ALBEFVQA
    path = tmp_path / 'answer_list.json'
    path.write_text(json.dumps(['yes', 'no', 'yes']))
    model = ALBEFVQA.__new__(ALBEFVQA)  # only the answer-list logic
    model._answer_file, model._answer_list = str(path), None
    with pytest.raises(ValueError, match=r"answer_list\.json: answer 'yes' "
                       r'appears twice \(entries 0 and 2\)'):
        model.answer_list


# ------------------------------------------------------------ grounding
@pytest.mark.parametrize('truth,pattern', [
    (dict(bbox=(1, 1, 0, 4)), r'"bbox" \[1, 1, 0, 4\] has width or height '
     r'<= 0, which no proposal can match'),
    (dict(bbox=(1, 1, -2, 4)), r'"bbox" \[1, 1, -2, 4\] has width or '
     r'height <= 0'),
    (dict(bbox=(1, float('nan'), 4, 4)), r'"bbox" must be 4 finite numbers'
     r' \[x, y, w, h\], got \[1, nan, 4, 4\]'),
    (dict(bbox=(1, 1, float('inf'), 4)), r'"bbox" must be 4 finite '
     r'numbers \[x, y, w, h\], got \[1, 1, inf, 4\]'),
    (dict(height=0), r'image "height" must be a positive integer, got 0'),
    (dict(width=-3), r'image "width" must be a positive integer, got -3'),
])
def test_refcoco_ground_truth_that_cannot_be_scored_is_refused(
        root, truth, pattern):
    kwargs = _ground_truth(root, **truth)
    with pytest.raises(ValueError, match=r'ann\.json, record 0: ref_id 7: '
                       + pattern):
        _dataset(root, 'RefCOCODataset',
                 [dict(image='ok.jpg', text='the dog', ref_id=7)], **kwargs)


def test_refcoco_proposal_with_nan_is_refused(root):
    kwargs = _ground_truth(root, dets={'3': [[0, 0, 4, 4],
                                             [1, float('nan'), 2, 2]]})
    with pytest.raises(ValueError, match=r'dets\.json, image 3, proposal 1:'
                       r' coordinates must be finite numbers'):
        _dataset(root, 'RefCOCODataset',
                 [dict(image='ok.jpg', text='the dog', ref_id=7)], **kwargs)


# ------------------------------------------------------------ retrieval
def test_retrieval_same_image_under_two_spellings_is_one_image(root):
    with pytest.raises(ValueError, match=r'record 1: image .*ok\.jpg already '
                       r'appears in .*record 0'):
        _dataset(root, 'RetrievalDataset',
                 [dict(image='ok.jpg', caption=['a']),
                  dict(image='./ok.jpg', caption=['b'])], test_mode=True)


def test_retrieval_image_id_as_number_and_string_is_refused(root):
    with pytest.raises(ValueError, match=r"record 1: image_id '1' and 1 of "
                       r'.*record 0 differ only in type'):
        _dataset(root, 'RetrievalDataset',
                 [dict(image='ok.jpg', caption='a', image_id=1),
                  dict(image='ok.jpg', caption='b', image_id='1')])


@pytest.mark.parametrize('k_test', [0, -5, 2.5])
def test_retrieval_k_test_not_positive_is_refused(k_test):
    from albef_mm.engine.runner.retrieval_loop import RetrievalEvalMixin
    with pytest.raises(ValueError, match=r'k_test must be a positive '
                       rf'integer \(128 / 256 in ALBEF\), got {k_test}'):
        RetrievalEvalMixin()._setup(k_test=k_test)


# ------------------------------------------------------------ file level
@pytest.mark.parametrize('typ,name', [
    ('PretrainCaptionDataset', 'ann.json'),
    ('ClassAnnotationDataset', 'ann.json'),
    ('ClassAnnotationDataset', 'ann.txt'),
])
def test_non_utf8_annotation_names_the_file(root, typ, name):
    (root / name).write_bytes('[{"image": "ok.jpg", "caption": "caf\xe9"}]'
                              .encode('latin1'))
    with pytest.raises(ValueError, match=rf'{name.replace(".", chr(92)+".")}'
                       r' is not UTF-8 text \(byte \d+: invalid '
                       r'continuation byte\).*iconv'):
        DATASETS.build(dict(type=typ, ann_file=str(root / name), pipeline=[]))


def test_missing_shapes_classification_file_names_the_converter(tmp_path):
    import os.path as osp

    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(osp.dirname(__file__), '..', '..',
                                   'configs', 'albef',
                                   'zeroshot_shapes_tiny.py'))
    dataset = dict(cfg.test_dataloader.dataset, data_root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r'annotation file not found:'
                       r' .*classification/color_test\.txt; create it with '
                       r'`python tools/dataset_converters/shapes_'
                       r'classification\.py data/shapes`'):
        DATASETS.build(dataset)


def test_inferencer_query_empty_once_cleaned_is_refused():
    from albef_mm.apis.nlvr_ve_inferencer import VEInferencer
    inferencer = VEInferencer.__new__(VEInferencer)  # only the input checks
    with pytest.raises(ValueError, match=r"text 1: text '\.\.\.' is empty "
                       r'once cleaned'):
        inferencer._pairs(['a.jpg', 'b.jpg'], ['a dog', '...'])
