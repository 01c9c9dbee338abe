"""*Shapes*: a small generated benchmark in the formats of ALBEF's datasets.

Images show 1-3 coloured shapes (7 colours, 4 shapes, 2 sizes, 5 slots) on
a noisy background. All texts are built from the scene, so they are true
(or false on purpose, with the label saying so) and use a vocabulary of a
few hundred WordPiece tokens. The annotation files use the json formats of
ALBEF's real datasets (spec §4.1), with paths relative to ``out_dir``::

    out_dir/
      images/shapes_000000.jpg ...   RGB JPEG (quality 95, no chroma
                                     subsampling), image_id = the number
      pretrain.json                  [{image, caption: str | list[str]}]
      retrieval_train.json           [{image, caption, image_id}] per caption
      retrieval_{val,test}.json      [{image, caption: [5 str], image_id}]
      grounding_train.json           [{image, text}]  (RefCOCO+ style:
                                     appearance words only, no locations)
      grounding_{val,test}.json      [{image, text, ref_id}]
      dets.json                      {str(image_id): [[x, y, w, h], ...]}
                                     true boxes + 2 random distractors
      refs.json                      {str(ref_id): {image_id, bbox (xywh),
                                     split: train|val|testA|testB, height,
                                     width, file_name}}; replaces the REFER
                                     API pickle refs(unc).p + instances.json
      vqa_train.json                 [{question_id, question, answer: [10],
                                     image, dataset: 'vqa'}]
      vqa_val.json                   same, for local accuracy
      vqa_test.json                  [{question_id, question, image, dataset}]
      answer_list.json               [answer, ...]
      nlvr_{train,dev,test}.json     [{images: [p0, p1], sentence,
                                     label: 'True' | 'False'}] (balanced)
      ve_{train,dev,test}.json       [{image: id without extension, sentence,
                                     label}]; file = images/<id>.jpg; one
                                     hypothesis per label per image
      scenes.json                    [{image, image_id, split, objects}]
                                     (ground truth, for analysis)
      vocab.txt                      WordPiece vocab, bert-base-uncased
                                     special ids ([UNK]=100 ... [MASK]=103)
      shapes_meta.json               generator arguments and file list

Splits use disjoint images: ``num_train`` for every train file (and
pre-training), ``num_val`` for val/dev files, ``num_test`` for test files.
"""
import json
import os
import os.path as osp
from typing import Callable, Dict, List, Optional

import numpy as np
from PIL import Image

from . import shapes_text as T
from .shapes_scene import render_scene, sample_scene

SPECIAL_TOKENS = ['[PAD]'] + [f'[unused{i}]' for i in range(99)] + [
    '[UNK]', '[CLS]', '[SEP]', '[MASK]']
# Seed-stream ids, so each file's draws are independent of the others.
_STREAM = dict(scene=0, pretrain=1, retrieval=2, grounding=3, vqa=4, nlvr=5,
               ve=6)


def build_vocab() -> List[str]:
    """The Shapes WordPiece vocabulary (``[PAD]`` = 0, ``[UNK]`` = 100,
    ``[CLS]`` = 101, ``[SEP]`` = 102, ``[MASK]`` = 103, then the words,
    digits, letters and ``##`` letters so any word can be tokenised)."""
    letters = [chr(c) for c in range(ord('a'), ord('z') + 1)]
    tokens = list(SPECIAL_TOKENS)
    for tok in (list(T.VOCAB_WORDS) + [str(d) for d in range(10)] + letters +
                ['##' + c for c in letters] + ['##' + str(d)
                                               for d in range(10)]):
        if tok not in tokens:
            tokens.append(tok)
    return tokens


def _rng(seed: int, stream: str, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAM[stream], *keys])


def _dump(obj, path: str) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=None, separators=(',', ':'))
        f.write('\n')


def generate_shapes(out_dir: str,
                    num_train: int = 2000,
                    num_val: int = 200,
                    num_test: int = 200,
                    image_size: int = 64,
                    seed: int = 0,
                    retrieval_train_captions: int = 2,
                    vqa_questions: int = 2,
                    progress: Optional[Callable[[str], None]] = None
                    ) -> Dict[str, int]:
    """Generate the Shapes benchmark into ``out_dir``.

    Deterministic: the same arguments give byte-identical files.

    Args:
        out_dir (str): Output folder (created; existing files overwritten).
        num_train (int): Training images. Defaults to 2000.
        num_val (int): Validation images. Defaults to 200.
        num_test (int): Test images. Defaults to 200.
        image_size (int): Image side in pixels (>= 32). Defaults to 64.
        seed (int): Random seed. Defaults to 0.
        retrieval_train_captions (int): Captions (records) per image in
            ``retrieval_train.json``. Defaults to 2.
        vqa_questions (int): Questions per image in the VQA files.
            Defaults to 2.
        progress (Callable[[str], None], optional): Called with progress
            messages (e.g. ``print``).

    Returns:
        dict: Number of records written per file name.
    """
    if image_size < 32:
        raise ValueError(f'image_size must be >= 32, got {image_size}')
    if min(num_train, num_val, num_test) < 2:
        raise ValueError('num_train, num_val and num_test must each be >= 2 '
                         '(NLVR2 pairs need two images)')
    log = progress or (lambda msg: None)
    os.makedirs(osp.join(out_dir, 'images'), exist_ok=True)
    splits = {'train': range(0, num_train),
              'val': range(num_train, num_train + num_val),
              'test': range(num_train + num_val,
                            num_train + num_val + num_test)}
    total = num_train + num_val + num_test

    # 1. scenes and images
    scenes, names = [], []
    for idx in range(total):
        rng = _rng(seed, 'scene', idx)
        objects = sample_scene(rng, image_size)
        img = render_scene(objects, rng, image_size)
        name = f'shapes_{idx:06d}'
        Image.fromarray(img).save(
            osp.join(out_dir, 'images', name + '.jpg'), quality=95,
            subsampling=0)
        scenes.append(objects)
        names.append(name)
        if (idx + 1) % 500 == 0 or idx + 1 == total:
            log(f'images: {idx + 1}/{total}')

    def path(idx: int) -> str:
        return f'images/{names[idx]}.jpg'

    files: Dict[str, list] = {}
    split_of = {i: s for s, r in splits.items() for i in r}
    files['scenes.json'] = [
        dict(image=path(i), image_id=i, split=split_of[i],
             objects=[{k: o[k] for k in ('color', 'shape', 'size',
                                         'position', 'bbox')}
                      for o in scenes[i]]) for i in range(total)]

    # 2. pre-training: half the images get a list of 3 paraphrases
    pretrain = []
    for i in splits['train']:
        rng = _rng(seed, 'pretrain', i)
        caps = T.captions(scenes[i], rng, 3)
        pretrain.append(dict(image=path(i),
                             caption=caps if rng.random() < 0.5 else caps[0]))
    files['pretrain.json'] = pretrain

    # 3. retrieval
    files['retrieval_train.json'] = [
        dict(image=path(i), caption=c, image_id=i) for i in splits['train']
        for c in T.captions(scenes[i], _rng(seed, 'retrieval', i),
                            retrieval_train_captions)]
    for split in ('val', 'test'):
        files[f'retrieval_{split}.json'] = [
            dict(image=path(i),
                 caption=T.captions(scenes[i], _rng(seed, 'retrieval', i), 5),
                 image_id=i) for i in splits[split]]

    # 4. grounding (RefCOCO+ style)
    refs, dets, grounding = {}, {}, {s: [] for s in splits}
    for split, rng_idx in splits.items():
        for i in rng_idx:
            objects = scenes[i]
            if len(objects) < 2:
                continue
            rng = _rng(seed, 'grounding', i)
            targets = [(j, T.referring_expression(o, objects, rng))
                       for j, o in enumerate(objects)]
            targets = [t for t in targets if t[1] is not None]
            rng.shuffle(targets)
            for j, text in targets[:2]:
                ref_id = i * 10 + j
                ref_split = split if split != 'test' else (
                    'testA' if i % 2 == 0 else 'testB')
                refs[str(ref_id)] = dict(
                    image_id=i, bbox=objects[j]['bbox'], split=ref_split,
                    height=image_size, width=image_size,
                    file_name=path(i))
                rec = dict(image=path(i), text=text)
                if split != 'train':
                    rec['ref_id'] = ref_id
                grounding[split].append(rec)
            if targets:
                dets[str(i)] = _proposals(objects, rng, image_size)
    files['grounding_train.json'] = grounding['train']
    files['grounding_val.json'] = grounding['val']
    files['grounding_test.json'] = grounding['test']
    files['dets.json'] = dets
    files['refs.json'] = refs

    # 5. VQA
    for split, out in (('train', 'vqa_train.json'), ('val', 'vqa_val.json'),
                       ('test', 'vqa_test.json')):
        records = []
        for i in splits[split]:
            rng = _rng(seed, 'vqa', i)
            for q in range(vqa_questions):
                question, answer = T.vqa_question(scenes[i], rng)
                answers = T.vqa_answers(answer, rng)
                rec = dict(question_id=i * 10 + q, question=question,
                           image=path(i), dataset='vqa')
                if split != 'test':
                    rec['answer'] = answers
                records.append(rec)
        files[out] = records
    files['answer_list.json'] = T.answer_list()

    # 6. NLVR2: as many balanced pairs as images in the split
    for split, out in (('train', 'nlvr_train.json'), ('val', 'nlvr_dev.json'),
                       ('test', 'nlvr_test.json')):
        pool = list(splits[split])
        records = []
        for k in range(len(pool)):
            rng = _rng(seed, 'nlvr', pool[0], k)
            a, b = (int(x) for x in rng.choice(pool, 2, replace=False))
            want = k % 2 == 0
            sentence = None
            while sentence is None:
                sentence = T.nlvr_statement(scenes[a], scenes[b], rng, want)
            records.append(dict(images=[path(a), path(b)], sentence=sentence,
                                label='True' if want else 'False'))
        files[out] = records

    # 7. SNLI-VE: one hypothesis per label per image
    for split, out in (('train', 've_train.json'), ('val', 've_dev.json'),
                       ('test', 've_test.json')):
        records = []
        for i in splits[split]:
            rng = _rng(seed, 've', i)
            for label in ('entailment', 'neutral', 'contradiction'):
                records.append(dict(
                    image=names[i], label=label,
                    sentence=T.ve_hypothesis(scenes[i], rng, label)))
        files[out] = records

    _check_vocab(files)
    counts = {}
    for name, obj in files.items():
        _dump(obj, osp.join(out_dir, name))
        counts[name] = len(obj)
    with open(osp.join(out_dir, 'vocab.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(build_vocab()) + '\n')
    counts['vocab.txt'] = len(build_vocab())
    counts['images'] = total
    _dump(dict(num_train=num_train, num_val=num_val, num_test=num_test,
               image_size=image_size, seed=seed,
               retrieval_train_captions=retrieval_train_captions,
               vqa_questions=vqa_questions, counts=counts),
          osp.join(out_dir, 'shapes_meta.json'))
    log(f'wrote {len(files) + 2} files to {out_dir}')
    return counts


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


def _texts(files: Dict[str, list]):
    for name, records in files.items():
        if not isinstance(records, list):
            continue
        for rec in records:
            if not isinstance(rec, dict):
                yield name, rec
                continue
            for key in ('caption', 'text', 'sentence', 'question', 'answer'):
                value = rec.get(key)
                if isinstance(value, str):
                    yield name, value
                elif isinstance(value, list):
                    yield from ((name, v) for v in value)


def _check_vocab(files: Dict[str, list]) -> None:
    """Fail loudly if a template produced a word outside the vocabulary."""
    from .transforms.text import pre_caption
    vocab = set(build_vocab())
    for name, text in _texts(files):
        unknown = [w for w in pre_caption(text, 100).split() if w not in vocab]
        if unknown:
            raise AssertionError(f'Shapes generator bug: {name} text {text!r} '
                                 f'has words outside the vocab: {unknown}')
