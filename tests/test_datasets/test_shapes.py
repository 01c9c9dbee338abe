import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
import time

import pytest

from albef_mm.datasets import generate_shapes
from albef_mm.datasets.shapes import generator as shapes_generator
from albef_mm.datasets.transforms import pre_caption, pre_question

SIZES = dict(num_train=16, num_val=6, num_test=6, image_size=64, seed=3)
JSON_FIELDS = {
    'pretrain.json': {'image', 'caption'},
    'retrieval_train.json': {'image', 'caption', 'image_id'},
    'retrieval_val.json': {'image', 'caption', 'image_id'},
    'retrieval_test.json': {'image', 'caption', 'image_id'},
    'grounding_train.json': {'image', 'text'},
    'grounding_val.json': {'image', 'text', 'ref_id'},
    'grounding_test.json': {'image', 'text', 'ref_id'},
    'vqa_train.json': {'question_id', 'question', 'answer', 'image',
                       'dataset'},
    'vqa_val.json': {'question_id', 'question', 'answer', 'image', 'dataset'},
    'vqa_test.json': {'question_id', 'question', 'image', 'dataset'},
    'nlvr_train.json': {'images', 'sentence', 'label'},
    'nlvr_dev.json': {'images', 'sentence', 'label'},
    'nlvr_test.json': {'images', 'sentence', 'label'},
    've_train.json': {'image', 'sentence', 'label'},
    've_dev.json': {'image', 'sentence', 'label'},
    've_test.json': {'image', 'sentence', 'label'},
}


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    out = tmp_path_factory.mktemp('shapes')
    counts = generate_shapes(str(out), **SIZES)
    return out, counts


def load(root, name):
    with open(root / name) as f:
        return json.load(f)


def _all_files(root):
    files = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = osp.join(dirpath, n)
            with open(p, 'rb') as f:
                files[osp.relpath(p, root)] = f.read()
    return files


def test_deterministic(shapes, tmp_path):
    root, _ = shapes
    generate_shapes(str(tmp_path), **SIZES)
    assert _all_files(root) == _all_files(tmp_path)
    # rendering in worker processes gives the same bytes
    pooled = tmp_path / 'pooled'
    generate_shapes(str(pooled), **SIZES, workers=2)
    assert _all_files(pooled) == _all_files(root)
    other = tmp_path / 'other_seed'
    generate_shapes(str(other), **dict(SIZES, seed=4))
    assert load(other, 'pretrain.json') != load(root, 'pretrain.json')


# sha256 over the json / txt files (name + bytes, sorted by name) of SIZES.
# Pins the generator's output: a refactor that changes one record, one
# random draw or the file order fails here. Images are left out (JPEG bytes
# depend on the Pillow / libjpeg build).
ANNOTATION_SHA256 = (
    '651737c830cf888a08a06af7b31724fb1f37fbf4c0fc11bd41bf6d7d244c2c07')


def test_annotations_match_the_recorded_checksum(shapes):
    root, _ = shapes
    digest = hashlib.sha256()
    for name in sorted(os.listdir(root)):
        if name.endswith(('.json', '.txt')):
            digest.update(name.encode())
            digest.update((root / name).read_bytes())
    assert digest.hexdigest() == ANNOTATION_SHA256


def test_format_builders_use_independent_streams(shapes):
    # each format draws from its own seed stream: building one alone gives
    # the same records as the full run
    from albef_mm.datasets.shapes import formats, sample_scene
    root, _ = shapes
    total = sum(SIZES[k] for k in ('num_train', 'num_val', 'num_test'))
    scenes = [sample_scene(formats.stream_rng(SIZES['seed'], 'scene', i),
                           SIZES['image_size']) for i in range(total)]
    splits = dict(train=range(0, 16), val=range(16, 22), test=range(22, 28))

    def path(i):
        return f'images/shapes_{i:06d}.jpg'

    got = formats.nlvr_records(scenes, splits, path, SIZES['seed'])
    assert got['nlvr_dev.json'] == load(root, 'nlvr_dev.json')
    got = formats.grounding_records(scenes, splits, path, SIZES['seed'], 64)
    assert got['refs.json'] == load(root, 'refs.json')
    assert [o['bbox'] for o in scenes[0]] == [
        o['bbox'] for o in load(root, 'scenes.json')[0]['objects']]


def test_fields_and_images(shapes):
    root, counts = shapes
    assert counts['images'] == 28
    for name, fields in JSON_FIELDS.items():
        records = load(root, name)
        assert records, name
        for rec in records:
            assert set(rec) == fields, (name, rec)
            paths = rec['images'] if 'images' in rec else [rec['image']]
            for p in paths:
                if name.startswith('ve_'):
                    assert '.' not in p  # id without extension
                    p = f'images/{p}.jpg'
                assert (root / p).is_file(), (name, p)


def test_split_formats(shapes):
    root, _ = shapes
    pre = load(root, 'pretrain.json')
    assert any(isinstance(r['caption'], list) for r in pre)
    assert any(isinstance(r['caption'], str) for r in pre)
    for r in load(root, 'retrieval_test.json'):
        assert len(r['caption']) == 5 and all(
            isinstance(c, str) for c in r['caption'])
    assert isinstance(load(root, 'retrieval_train.json')[0]['caption'], str)
    answers = set(load(root, 'answer_list.json'))
    for r in load(root, 'vqa_train.json') + load(root, 'vqa_val.json'):
        assert len(r['answer']) == 10 and set(r['answer']) <= answers
        assert r['dataset'] == 'vqa'
    labels = [r['label'] for r in load(root, 'nlvr_train.json')]
    assert set(labels) == {'True', 'False'}
    assert abs(labels.count('True') - labels.count('False')) <= 1
    for r in load(root, 'nlvr_dev.json'):
        assert len(r['images']) == 2 and r['images'][0] != r['images'][1]
    assert {r['label'] for r in load(root, 've_train.json')} == {
        'entailment', 'neutral', 'contradiction'}
    # splits use disjoint images
    train = {r['image'] for r in load(root, 'pretrain.json')}
    test = {r['image'] for r in load(root, 'retrieval_test.json')}
    assert not train & test


def test_grounding_boxes_in_proposals(shapes):
    root, _ = shapes
    refs = load(root, 'refs.json')
    dets = load(root, 'dets.json')
    evals = (load(root, 'grounding_val.json') +
             load(root, 'grounding_test.json'))
    assert evals
    for rec in evals:
        ref = refs[str(rec['ref_id'])]
        assert ref['file_name'] == rec['image']
        assert ref['split'] in ('val', 'testA', 'testB')
        proposals = dets[str(ref['image_id'])]
        assert ref['bbox'] in proposals and len(proposals) >= 3
        x, y, w, h = ref['bbox']
        assert 0 <= x and 0 <= y and x + w <= ref['width'] and (
            y + h <= ref['height'])
    # RefCOCO+ style: no location words in the expressions
    for rec in evals + load(root, 'grounding_train.json'):
        assert not set(rec['text'].split()) & {'left', 'right', 'top',
                                               'bottom', 'center'}


def _texts(root):
    for name in JSON_FIELDS:
        for rec in load(root, name):
            for key in ('caption', 'text', 'sentence', 'answer'):
                v = rec.get(key)
                for t in ([v] if isinstance(v, str) else v or []):
                    yield name, pre_caption(t)
            if 'question' in rec:
                yield name, pre_question(rec['question'], 50)


def test_vocab(shapes):
    root, _ = shapes
    vocab = (root / 'vocab.txt').read_text().splitlines()
    assert len(vocab) < 512 and len(set(vocab)) == len(vocab)
    assert vocab[0] == '[PAD]'
    assert vocab[100:104] == ['[UNK]', '[CLS]', '[SEP]', '[MASK]']
    assert all(t.startswith('[unused') for t in vocab[1:100])
    words = set(vocab)
    assert set('0123456789') <= words
    for name, text in _texts(root):
        assert set(text.split()) <= words, (name, text)
        assert len(text.split()) < 20, (name, text)


def test_captions_truthful(shapes):
    root, _ = shapes
    scenes = {s['image']: s['objects'] for s in load(root, 'scenes.json')}
    for rec in load(root, 'retrieval_test.json'):
        colors = {o['color'] for o in scenes[rec['image']]}
        shapes_ = {o['shape'] for o in scenes[rec['image']]}
        for cap in rec['caption']:
            words = set(pre_caption(cap).split())
            assert words & {'red', 'green', 'blue', 'yellow', 'purple',
                            'orange', 'white'} <= colors
            assert words & {'circle', 'square', 'triangle', 'cross'} <= (
                shapes_)


def test_cli(tmp_path):
    script = osp.join(osp.dirname(__file__), '..', '..', 'tools',
                      'dataset_converters', 'generate_shapes.py')
    out = subprocess.run(
        [sys.executable, script, str(tmp_path / 's'), '--num-train', '4',
         '--num-val', '2', '--num-test', '2', '--image-size', '96',
         '--num-pretrain-extra', '3', '--workers', '2'],
        capture_output=True, text=True, check=True)
    assert 'images: 11/11' in out.stdout and 'Done' in out.stdout
    meta = load(tmp_path / 's', 'shapes_meta.json')
    assert meta['image_size'] == 96
    assert meta['num_pretrain_extra'] == 3
    assert len(load(tmp_path / 's', 'pretrain.json')) == 4 + 3


def test_pretrain_extra_images(shapes, tmp_path):
    root, _ = shapes
    generate_shapes(str(tmp_path), **SIZES, num_pretrain_extra=3)
    base, extra = _all_files(root), _all_files(tmp_path)
    changed = {'pretrain.json', 'scenes.json', 'shapes_meta.json'}
    new_images = {f'images/shapes_{i:06d}.jpg' for i in (28, 29, 30)}
    assert set(extra) == set(base) | new_images
    # every other file, and every image of the three splits, is unchanged
    assert all(extra[k] == v for k, v in base.items() if k not in changed)
    old, new = load(root, 'pretrain.json'), load(tmp_path, 'pretrain.json')
    assert new[:len(old)] == old
    assert [r['image'] for r in new[len(old):]] == sorted(new_images)
    assert all(isinstance(r['caption'], list) and len(r['caption']) == 3
               for r in new[len(old):])
    scenes = load(tmp_path, 'scenes.json')
    assert scenes[:28] == load(root, 'scenes.json')
    assert [s['split'] for s in scenes[28:]] == ['pretrain'] * 3
    with pytest.raises(ValueError, match='num_pretrain_extra must be >= 0'):
        generate_shapes(str(tmp_path), **SIZES, num_pretrain_extra=-1)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='image_size'):
        generate_shapes(str(tmp_path), image_size=16)
    with pytest.raises(ValueError, match='>= 2'):
        generate_shapes(str(tmp_path), num_val=1)
    with pytest.raises(ValueError, match='workers must be >= 1'):
        generate_shapes(str(tmp_path), workers=0)


def _slow_first_chunk(job):
    """``_make_image`` that finishes the first 64-image chunk last."""
    if job[1] < 64:
        time.sleep(0.02)
    return shapes_generator._make_image_unpatched(job)


def test_pooled_scenes_keep_image_order_when_chunks_finish_out_of_order(
        tmp_path, monkeypatch):
    """The worker pool's results are collected in image order: the second
    chunk of 64 images finishing first must not shuffle the captions
    (the files are the same as with one process)."""
    sizes = dict(num_train=100, num_val=10, num_test=10, image_size=32)
    generate_shapes(str(tmp_path / 'one'), **sizes)
    monkeypatch.setattr(shapes_generator, '_make_image_unpatched',
                        shapes_generator._make_image, raising=False)
    monkeypatch.setattr(shapes_generator, '_make_image', _slow_first_chunk)
    generate_shapes(str(tmp_path / 'pool'), **sizes, workers=2)
    for name in ('scenes.json', 'pretrain.json', 'retrieval_train.json'):
        assert load(tmp_path / 'pool', name) == load(tmp_path / 'one', name)
