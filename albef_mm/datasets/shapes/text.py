"""Texts of the *Shapes* benchmark: captions, referring expressions, VQA
questions, NLVR2 statements and SNLI-VE hypotheses, all truthful (or false
on purpose, with the matching label) and built from a small fixed vocabulary
(:data:`VOCAB_WORDS`)."""
from typing import List, Optional, Tuple

import numpy as np

from .scene import COLORS, POSITIONS, SHAPES, SIZES

NUMBER_WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six')
POSITION_PHRASES = {
    'left': 'on the left', 'right': 'on the right', 'top': 'at the top',
    'bottom': 'at the bottom', 'center': 'in the center'
}
MATERIALS = ('wood', 'paper', 'glass', 'metal', 'plastic')
OPINIONS = ('heavy', 'expensive', 'new', 'old', 'famous')
YES_NO = ('yes', 'no')

# Every word any template below can produce (after ``pre_caption``).
_TEMPLATE_WORDS = (
    'a an and are at both bottom center color contain contains exactly how '
    'image images in is left made many more of on picture right shape shapes '
    'size the there top total what with'
).split()
MAX_CAPTION_WORDS = 19
VOCAB_WORDS: Tuple[str, ...] = tuple(sorted(set(
    _TEMPLATE_WORDS + list(NUMBER_WORDS) + list(COLORS) + list(SHAPES) +
    list(SIZES) + list(POSITIONS) + list(MATERIALS) + list(OPINIONS) +
    list(YES_NO))))

Rng = np.random.Generator


def _a(word: str) -> str:
    """``word`` with its indefinite article (``an orange``, ``a red``)."""
    return ('an ' if word[0] in 'aeiou' else 'a ') + word


def _pick(rng: Rng, items):
    return items[int(rng.integers(len(items)))]


def object_phrase(obj: dict, detail: str) -> str:
    """Describe one object.

    ``detail``: ``'color'`` (a red circle), ``'attr'`` (a large red circle),
    ``'pos'`` (a red circle on the left) or ``'full'`` (a large red circle
    on the left).
    """
    words = []
    if detail in ('attr', 'full'):
        words.append(obj['size'])
    words += [obj['color'], obj['shape']]
    if detail in ('pos', 'full'):
        words.append(POSITION_PHRASES[obj['position']])
    return _a(' '.join(words))


def _join(phrases: List[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    return ', '.join(phrases[:-1]) + ' and ' + phrases[-1]


def caption(objects: List[dict], rng: Rng) -> str:
    """One random truthful caption of the scene (at most
    :data:`MAX_CAPTION_WORDS` words)."""
    n = len(objects)
    order = [objects[i] for i in rng.permutation(n)]
    details = {1: ('color', 'attr', 'pos', 'full'),
               2: ('color', 'attr', 'pos', 'full'),
               3: ('color', 'attr', 'pos')}[n]
    detail = _pick(rng, details)
    body = _join([object_phrase(o, detail) for o in order])
    prefix = _pick(rng, ('', 'there is ' if n == 1 else 'there are ',
                         f'{NUMBER_WORDS[n]} shape{"s" if n > 1 else ""}: ',
                         'an image with '))
    if len((prefix + body).split()) <= MAX_CAPTION_WORDS:
        body = prefix + body
    return body[0].upper() + body[1:] + '.'


def captions(objects: List[dict], rng: Rng, k: int,
             distinct: bool = True) -> List[str]:
    """``k`` captions, distinct when possible (up to 50 tries)."""
    out: List[str] = []
    for _ in range(50 * k):
        c = caption(objects, rng)
        if not distinct or c not in out:
            out.append(c)
        if len(out) == k:
            return out
    while len(out) < k:
        out.append(caption(objects, rng))
    return out


def referring_expression(target: dict, objects: List[dict],
                         rng: Rng) -> Optional[str]:
    """An appearance-only expression (RefCOCO+ style: no location words)
    that matches ``target`` and no other object, or None if none does."""
    others = [o for o in objects if o is not target]
    candidates = [('shape', ), ('color', 'shape'), ('size', 'shape'),
                  ('size', 'color', 'shape'), ('color', )]
    unique = [keys for keys in candidates
              if not any(all(o[k] == target[k] for k in keys)
                         for o in others)]
    if not unique:
        return None
    keys = unique[int(rng.integers(len(unique)))]
    words = [target[k] for k in ('size', 'color', 'shape') if k in keys]
    if 'shape' not in keys:
        words.append('shape')
    phrase = ' '.join(words)
    return _pick(rng, ('the ' + phrase, _a(phrase), phrase))


def _present(objects: List[dict], **attrs) -> bool:
    return any(all(o[k] == v for k, v in attrs.items()) for o in objects)


def vqa_question(objects: List[dict], rng: Rng) -> Tuple[str, str]:
    """A (question, answer) pair about the scene."""
    n = len(objects)
    kind = int(rng.integers(6))
    by_shape = [o for o in objects
                if sum(p['shape'] == o['shape'] for p in objects) == 1]
    if kind == 1 and by_shape:
        o = _pick(rng, by_shape)
        return f'What color is the {o["shape"]}?', o['color']
    if kind == 2:
        o = _pick(rng, objects)
        return (f'What shape is {POSITION_PHRASES[o["position"]]}?',
                o['shape'])
    if kind == 3:
        o = _pick(rng, objects)
        return (f'What color is the shape {POSITION_PHRASES[o["position"]]}?',
                o['color'])
    if kind == 4 and by_shape:
        o = _pick(rng, by_shape)
        return f'What size is the {o["shape"]}?', o['size']
    if kind == 5:
        if rng.random() < 0.5:
            o = _pick(rng, objects)
            color, shape = o['color'], o['shape']
        else:
            color, shape = _pick(rng, list(COLORS)), _pick(rng, SHAPES)
        answer = 'yes' if _present(objects, color=color, shape=shape) else 'no'
        return f'Is there {_a(color)} {shape}?', answer
    return 'How many shapes are there?', str(n)


def vqa_answers(answer: str, rng: Rng, k: int = 10,
                agree: float = 0.9) -> List[str]:
    """``k`` "human" answers: the true one with probability ``agree``, else
    a confusable answer of the same type."""
    for group in (list(COLORS), list(SHAPES), list(SIZES), list(YES_NO),
                  ['1', '2', '3']):
        if answer in group:
            break
    out = []
    for _ in range(k):
        out.append(answer if rng.random() < agree else _pick(rng, group))
    return out


def answer_list() -> List[str]:
    """Every answer :func:`vqa_question` can produce."""
    return (list(COLORS) + list(SHAPES) + list(SIZES) + list(YES_NO) +
            ['1', '2', '3'])


def nlvr_statement(left: List[dict], right: List[dict], rng: Rng,
                   want: bool) -> Optional[str]:
    """A statement about an image pair whose truth value is ``want``
    (None when this draw cannot produce one; call again)."""
    kind = int(rng.integers(5))
    if kind == 0:
        side, objs = _pick(rng, (('left', left), ('right', right)))
        color, shape = _choose_attr(objs, rng, want, ('color', 'shape'))
        return f'The {side} image contains {_a(color)} {shape}.'
    if kind == 1:
        shape = _pick(rng, SHAPES)
        truth = _present(left, shape=shape) and _present(right, shape=shape)
        return f'Both images contain a {shape}.' if truth == want else None
    if kind == 2:
        if len(left) == len(right):
            return None
        more = 'left' if len(left) > len(right) else 'right'
        side = more if want else ('right' if more == 'left' else 'left')
        return f'There are more shapes in the {side} image.'
    if kind == 3:
        total = len(left) + len(right)
        if not want:
            total = _pick(rng, [t for t in range(2, 7) if t != total])
        return f'There are {NUMBER_WORDS[total]} shapes in total.'
    color = _pick(rng, list(COLORS))
    truth = _present(left, color=color) != _present(right, color=color)
    if truth != want:
        return None
    return f'Exactly one image contains {_a(color)} shape.'


def _choose_attr(objects: List[dict], rng: Rng, present: bool,
                 keys: Tuple[str, ...]) -> Tuple[str, ...]:
    if present:
        o = _pick(rng, objects)
        return tuple(o[k] for k in keys)
    pools = {'color': list(COLORS), 'shape': list(SHAPES),
             'size': list(SIZES)}
    while True:
        values = tuple(_pick(rng, pools[k]) for k in keys)
        if not _present(objects, **dict(zip(keys, values))):
            return values


def ve_hypothesis(objects: List[dict], rng: Rng, label: str) -> str:
    """An SNLI-VE hypothesis with the given label (entailment, neutral or
    contradiction) about the scene."""
    n = len(objects)
    if label == 'neutral':
        o = _pick(rng, objects)
        if rng.random() < 0.5:
            return (f'The {o["color"]} {o["shape"]} is made of '
                    f'{_pick(rng, MATERIALS)}.')
        return f'The {o["color"]} {o["shape"]} is {_pick(rng, OPINIONS)}.'
    truth = label == 'entailment'
    kind = int(rng.integers(3))
    if kind == 0:
        color, shape = _choose_attr(objects, rng, truth, ('color', 'shape'))
        return f'There is {_a(color)} {shape}.'
    if kind == 1:
        count = n if truth else _pick(rng, [c for c in (1, 2, 3) if c != n])
        noun = 'shape' if count == 1 else 'shapes'
        verb = 'is' if count == 1 else 'are'
        return f'There {verb} {NUMBER_WORDS[count]} {noun} in the picture.'
    size, shape = _choose_attr(objects, rng, truth, ('size', 'shape'))
    return f'The image contains a {size} {shape}.'
