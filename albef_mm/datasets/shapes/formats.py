"""One record builder per ALBEF annotation format of the *Shapes* benchmark.

Each builder takes the sampled scenes and returns ``{file name: records}``
in the json layout of the corresponding ALBEF dataset (see
:mod:`albef_mm.datasets.shapes` for the file list). Every builder draws from
its own seed stream (:func:`stream_rng`), so the files are independent of
each other: adding a format never changes another one's content.
"""
from typing import Callable, Dict, List, Sequence

import numpy as np

from . import text as T

# Seed-stream ids, so each file's draws are independent of the others.
_STREAM = dict(scene=0, pretrain=1, retrieval=2, grounding=3, vqa=4, nlvr=5,
               ve=6)

Splits = Dict[str, Sequence[int]]
PathFn = Callable[[int], str]


def stream_rng(seed: int, stream: str, *keys: int) -> np.random.Generator:
    """The generator of one seed stream (``scene``, ``pretrain``, ...) for
    the given keys (image index, ...)."""
    return np.random.default_rng([seed, _STREAM[stream], *keys])


def scene_records(scenes: List[List[dict]], splits: Splits,
                  path: PathFn) -> Dict[str, list]:
    """``scenes.json``: the ground-truth objects of every image."""
    split_of = {i: s for s, r in splits.items() for i in r}
    return {'scenes.json': [
        dict(image=path(i), image_id=i, split=split_of[i],
             objects=[{k: o[k] for k in ('color', 'shape', 'size',
                                         'position', 'bbox')}
                      for o in scenes[i]]) for i in range(len(scenes))]}


def pretrain_records(scenes: List[List[dict]], splits: Splits, path: PathFn,
                     seed: int) -> Dict[str, list]:
    """``pretrain.json``: half the train images get a list of 3
    paraphrases, the others one caption string; then the pre-training-only
    images (split ``pretrain``, if any), each with a list of 3."""
    records = []
    for i in splits['train']:
        rng = stream_rng(seed, 'pretrain', i)
        caps = T.captions(scenes[i], rng, 3)
        records.append(dict(image=path(i),
                            caption=caps if rng.random() < 0.5 else caps[0]))
    for i in splits.get('pretrain', ()):
        rng = stream_rng(seed, 'pretrain', i)
        records.append(dict(image=path(i),
                            caption=T.captions(scenes[i], rng, 3)))
    return {'pretrain.json': records}


def retrieval_records(scenes: List[List[dict]], splits: Splits, path: PathFn,
                      seed: int, train_captions: int) -> Dict[str, list]:
    """``retrieval_train.json`` (one record per caption) and
    ``retrieval_{val,test}.json`` (5 captions per image)."""
    files = {'retrieval_train.json': [
        dict(image=path(i), caption=c, image_id=i) for i in splits['train']
        for c in T.captions(scenes[i], stream_rng(seed, 'retrieval', i),
                            train_captions)]}
    for split in ('val', 'test'):
        files[f'retrieval_{split}.json'] = [
            dict(image=path(i),
                 caption=T.captions(scenes[i],
                                    stream_rng(seed, 'retrieval', i), 5),
                 image_id=i) for i in splits[split]]
    return files


def grounding_records(scenes: List[List[dict]], splits: Splits, path: PathFn,
                      seed: int, image_size: int) -> Dict[str, object]:
    """RefCOCO+-style ``grounding_{train,val,test}.json``, the proposals
    ``dets.json`` and the reference table ``refs.json``. Up to two
    appearance-only expressions per image with at least two objects; test
    images alternate between ``testA`` and ``testB``."""
    refs, dets, grounding = {}, {}, {s: [] for s in splits}
    for split, indices in splits.items():
        for i in indices:
            objects = scenes[i]
            if len(objects) < 2:
                continue
            rng = stream_rng(seed, 'grounding', i)
            targets = [(j, T.referring_expression(o, objects, rng))
                       for j, o in enumerate(objects)]
            targets = [t for t in targets if t[1] is not None]
            rng.shuffle(targets)
            for j, expression in targets[:2]:
                ref_id = i * 10 + j
                ref_split = split if split != 'test' else (
                    'testA' if i % 2 == 0 else 'testB')
                refs[str(ref_id)] = dict(
                    image_id=i, bbox=objects[j]['bbox'], split=ref_split,
                    height=image_size, width=image_size,
                    file_name=path(i))
                rec = dict(image=path(i), text=expression)
                if split != 'train':
                    rec['ref_id'] = ref_id
                grounding[split].append(rec)
            if targets:
                dets[str(i)] = _proposals(objects, rng, image_size)
    return {'grounding_train.json': grounding['train'],
            'grounding_val.json': grounding['val'],
            'grounding_test.json': grounding['test'],
            'dets.json': dets, 'refs.json': refs}


def _proposals(objects: List[dict], rng: np.random.Generator,
               image_size: int) -> List[List[int]]:
    """Every object's box plus two random boxes, in random order."""
    boxes = [list(o['bbox']) for o in objects]
    for _ in range(2):
        w, h = (int(v) for v in rng.integers(image_size // 10,
                                             image_size * 2 // 5, size=2))
        x = int(rng.integers(0, image_size - w))
        y = int(rng.integers(0, image_size - h))
        boxes.append([x, y, w, h])
    order = rng.permutation(len(boxes))
    return [boxes[k] for k in order]


def vqa_records(scenes: List[List[dict]], splits: Splits, path: PathFn,
                seed: int, questions: int) -> Dict[str, list]:
    """``vqa_{train,val,test}.json`` (10 "human" answers per question,
    none in test) and ``answer_list.json``."""
    files = {}
    for split, out in (('train', 'vqa_train.json'), ('val', 'vqa_val.json'),
                       ('test', 'vqa_test.json')):
        records = []
        for i in splits[split]:
            rng = stream_rng(seed, 'vqa', i)
            for q in range(questions):
                question, answer = T.vqa_question(scenes[i], rng)
                answers = T.vqa_answers(answer, rng)
                rec = dict(question_id=i * 10 + q, question=question,
                           image=path(i), dataset='vqa')
                if split != 'test':
                    rec['answer'] = answers
                records.append(rec)
        files[out] = records
    files['answer_list.json'] = T.answer_list()
    return files


def nlvr_records(scenes: List[List[dict]], splits: Splits, path: PathFn,
                 seed: int) -> Dict[str, list]:
    """``nlvr_{train,dev,test}.json``: as many image pairs as images in the
    split, labels alternating True / False (balanced)."""
    files = {}
    for split, out in (('train', 'nlvr_train.json'), ('val', 'nlvr_dev.json'),
                       ('test', 'nlvr_test.json')):
        pool = list(splits[split])
        records = []
        for k in range(len(pool)):
            rng = stream_rng(seed, 'nlvr', pool[0], k)
            a, b = (int(x) for x in rng.choice(pool, 2, replace=False))
            want = k % 2 == 0
            sentence = None
            while sentence is None:
                sentence = T.nlvr_statement(scenes[a], scenes[b], rng, want)
            records.append(dict(images=[path(a), path(b)], sentence=sentence,
                                label='True' if want else 'False'))
        files[out] = records
    return files


def ve_records(scenes: List[List[dict]], splits: Splits, names: List[str],
               seed: int) -> Dict[str, list]:
    """``ve_{train,dev,test}.json``: one hypothesis per label per image;
    ``image`` is the file name without folder or extension, as SNLI-VE."""
    files = {}
    for split, out in (('train', 've_train.json'), ('val', 've_dev.json'),
                       ('test', 've_test.json')):
        records = []
        for i in splits[split]:
            rng = stream_rng(seed, 've', i)
            for label in ('entailment', 'neutral', 'contradiction'):
                records.append(dict(
                    image=names[i], label=label,
                    sentence=T.ve_hypothesis(scenes[i], rng, label)))
        files[out] = records
    return files
