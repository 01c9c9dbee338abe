"""The best retrieval recalls achievable on a Shapes retrieval split.

Shapes captions often fit more than one image: "A red circle." is true of
every scene whose only object is a red circle, whatever its size, position
or background, and two images can even share a caption verbatim. No model
can tell such images apart from their captions, so R@K = 100 is out of
reach. This tool computes the recalls of an *oracle* that knows every
test image's scene (``scenes.json``) and the caption grammar:

* a caption is *compatible* with a scene when the caption generator can
  produce it (after the same text cleaning the retrieval datasets apply)
  from that scene;
* image -> text (TR): the oracle scores caption ``c`` for image ``i`` by
  ``1 / m_c`` if ``c`` is compatible with ``i`` (``m_c``: the number of
  split images ``c`` is compatible with, so the posterior that ``c`` was
  written for ``i``), else 0 -- specific captions first;
* text -> image (IR): every compatible image scores 1 (they are equally
  likely), the others 0;
* ties are broken uniformly at random, and the tool reports the *expected*
  R@1/5/10 (exactly, no sampling).

Example:
    python tools/analysis/shapes_ceiling.py data/shapes
    python tools/analysis/shapes_ceiling.py data/shapes --split val --json
"""
import argparse
import itertools
import json
import os.path as osp
import sys
from math import comb
from typing import Dict, List, Sequence, Set

import numpy as np

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from albef_mm.datasets.shapes import text as T  # noqa: E402
from albef_mm.datasets.transforms.text import pre_caption  # noqa: E402

# The caption grammar of ``albef_mm.datasets.shapes.text.caption``: the
# object details allowed per object count, and the optional prefixes.
DETAILS = {1: ('color', 'attr', 'pos', 'full'),
           2: ('color', 'attr', 'pos', 'full'),
           3: ('color', 'attr', 'pos')}


def _prefixes(n: int) -> List[str]:
    return ['', 'there is ' if n == 1 else 'there are ',
            f'{T.NUMBER_WORDS[n]} shape{"s" if n > 1 else ""}: ',
            'an image with ']


def _join(phrases: Sequence[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    return ', '.join(phrases[:-1]) + ' and ' + phrases[-1]


def producible_captions(objects: List[dict]) -> Set[str]:
    """Every caption (cleaned with ``pre_caption``) the Shapes caption
    generator can write for a scene: all object orders, detail levels and
    prefixes.

    Args:
        objects (list[dict]): The scene's objects, each with ``color``,
            ``shape``, ``size`` and ``position``.

    Returns:
        set[str]: The cleaned captions.
    """
    n = len(objects)
    if n not in DETAILS:
        raise ValueError(f'scenes have 1-{max(DETAILS)} objects, got {n}')
    out = set()
    for order in itertools.permutations(objects):
        for detail in DETAILS[n]:
            body = _join([T.object_phrase(o, detail) for o in order])
            for prefix in _prefixes(n):
                text = prefix + body
                if prefix and len(text.split()) > T.MAX_CAPTION_WORDS:
                    text = body  # the generator drops a too-long prefix
                out.add(pre_caption(text))
    return out


def expected_recall(scores: np.ndarray, targets: np.ndarray,
                    k: int) -> float:
    """Expected R@k of one query when ties are broken uniformly at random.

    Args:
        scores (np.ndarray): ``[N]`` candidate scores.
        targets (np.ndarray): ``[N]`` bool, the correct candidates (at least
            one).
        k (int): Cut-off.

    Returns:
        float: Probability in [0, 1] that a target is among the top ``k``.
    """
    above = 0
    for level in np.unique(scores)[::-1]:
        at = scores == level
        n_level, t_level = int(at.sum()), int((at & targets).sum())
        slots = k - above
        if slots <= 0:
            return 0.0
        if t_level:
            if slots >= n_level:
                return 1.0
            return 1.0 - comb(n_level - t_level, slots) / comb(n_level, slots)
        above += n_level
    return 0.0


def load_split(data_root: str, split: str):
    """Read ``retrieval_{split}.json`` and the split's scenes.

    Returns:
        tuple: ``(texts, txt2img, img2txt, scenes)`` -- cleaned captions in
        file order, each caption's image index, each image's caption indices
        and each image's object list.
    """
    ann_path = osp.join(data_root, f'retrieval_{split}.json')
    scene_path = osp.join(data_root, 'scenes.json')
    for path in (ann_path, scene_path):
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path} not found: generate the benchmark first with '
                'python tools/dataset_converters/generate_shapes.py '
                f'{data_root}')
    with open(ann_path, encoding='utf-8') as f:
        records = json.load(f)
    with open(scene_path, encoding='utf-8') as f:
        by_image = {s['image']: s['objects'] for s in json.load(f)}
    texts, txt2img, img2txt, scenes = [], [], [], []
    for i, rec in enumerate(records):
        if rec.get('image') not in by_image:
            raise KeyError(f'{ann_path}: record {i}: image '
                           f'{rec.get("image")!r} has no entry in '
                           f'{scene_path}; regenerate both files together')
        caps = rec['caption']
        caps = [caps] if isinstance(caps, str) else caps
        img2txt.append(list(range(len(texts), len(texts) + len(caps))))
        for c in caps:
            texts.append(pre_caption(c))
            txt2img.append(i)
        scenes.append(by_image[rec['image']])
    return texts, np.array(txt2img), img2txt, scenes


def ceiling(texts: List[str], txt2img: np.ndarray, img2txt: List[List[int]],
            scenes: List[List[dict]]) -> Dict[str, float]:
    """The oracle's expected recalls (in %, keys as the ``RetrievalRecall``
    metric) plus counts of what makes captions ambiguous.

    Raises:
        ValueError: if a caption cannot be produced from its own image's
            scene (the annotation and ``scenes.json`` disagree, or the
            caption grammar above is out of date).
    """
    producible = [producible_captions(s) for s in scenes]
    compat = np.array([[t in p for t in texts] for p in producible])
    for j, i in enumerate(txt2img):
        if not compat[i, j]:
            raise ValueError(
                f'caption {j} {texts[j]!r} of image {i} cannot be produced '
                f'from its scene {scenes[i]}: the annotation and scenes.json '
                'disagree, or this tool\'s caption grammar is out of date')
    m = compat.sum(0)  # images each caption fits
    out = {}
    tr_scores = compat / m[None, :]
    for k in (1, 5, 10):
        tr = [expected_recall(tr_scores[i], np.isin(np.arange(len(texts)),
                                                    img2txt[i]), k)
              for i in range(len(scenes))]
        ir = [expected_recall(compat[:, j].astype(float),
                              np.arange(len(scenes)) == txt2img[j], k)
              for j in range(len(texts))]
        out[f'txt_r{k}'] = 100.0 * float(np.mean(tr))
        out[f'img_r{k}'] = 100.0 * float(np.mean(ir))
    out['txt_r_mean'] = np.mean([out[f'txt_r{k}'] for k in (1, 5, 10)])
    out['img_r_mean'] = np.mean([out[f'img_r{k}'] for k in (1, 5, 10)])
    out['r_mean'] = (out['txt_r_mean'] + out['img_r_mean']) / 2
    out = {k: float(v) for k, v in out.items()}
    # what makes the split ambiguous
    owners: Dict[str, Set[int]] = {}
    for t, i in zip(texts, txt2img):
        owners.setdefault(t, set()).add(int(i))
    out['captions'] = len(texts)
    out['captions_fitting_several_images'] = int((m > 1).sum())
    out['captions_shared_verbatim'] = int(sum(
        1 for t in texts if len(owners[t]) > 1))
    groups: Dict[frozenset, int] = {}
    for p in producible:
        groups[frozenset(p)] = groups.get(frozenset(p), 0) + 1
    out['images'] = len(scenes)
    out['images_with_an_indistinguishable_twin'] = int(sum(
        g for g in groups.values() if g > 1))
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Best achievable retrieval recalls on a Shapes split '
        '(an oracle that knows every scene).')
    parser.add_argument('data_root', help='generated Shapes folder, e.g. '
                        'data/shapes')
    parser.add_argument('--split', default='test', choices=('val', 'test'))
    parser.add_argument('--json', action='store_true',
                        help='print the result as one json object')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    result = ceiling(*load_split(args.data_root, args.split))
    if args.json:
        print(json.dumps(result))
        return
    print(f'Shapes {args.split} split: {result["images"]} images, '
          f'{result["captions"]} captions')
    print(f'  captions that fit several images: '
          f'{result["captions_fitting_several_images"]}; shared verbatim: '
          f'{result["captions_shared_verbatim"]}')
    print(f'  images with a twin no caption tells apart: '
          f'{result["images_with_an_indistinguishable_twin"]}')
    print('  oracle (best achievable) expected recalls, %:')
    for side, name in (('txt', 'TR (image->text)'),
                       ('img', 'IR (text->image)')):
        print(f'    {name}: R@1 {result[side + "_r1"]:.1f}  '
              f'R@5 {result[side + "_r5"]:.1f}  '
              f'R@10 {result[side + "_r10"]:.1f}  '
              f'mean {result[side + "_r_mean"]:.1f}')
    print(f'    r_mean {result["r_mean"]:.1f}')


if __name__ == '__main__':
    main()
