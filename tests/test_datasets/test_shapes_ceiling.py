"""tools/analysis/shapes_ceiling.py on a hand-made four-image split."""
import json
import os.path as osp

import numpy as np
import pytest
import shapes_ceiling as sc  # tools/analysis is on sys.path (conftest)


def _obj(color, shape, size, position):
    return dict(color=color, shape=shape, size=size, position=position,
                bbox=[0, 0, 1, 1])


# img0 / img1: a red circle that differs only in size and position; img2 /
# img3: the same blue square twice (only the background would differ).
SCENES = [[_obj('red', 'circle', 'small', 'left')],
          [_obj('red', 'circle', 'large', 'right')],
          [_obj('blue', 'square', 'small', 'center')],
          [_obj('blue', 'square', 'small', 'center')]]
CAPTIONS = [['A red circle.', 'A small red circle on the left.'],
            ['A red circle.', 'A large red circle.'],
            ['There is a blue square.'],
            ['A blue square.']]


def _write(root, captions=CAPTIONS, scenes=SCENES):
    images = [f'images/shapes_{i:06d}.jpg' for i in range(len(scenes))]
    with open(osp.join(root, 'retrieval_test.json'), 'w') as f:
        json.dump([dict(image=p, caption=c, image_id=i)
                   for i, (p, c) in enumerate(zip(images, captions))], f)
    with open(osp.join(root, 'scenes.json'), 'w') as f:
        json.dump([dict(image=p, image_id=i, split='test', objects=o)
                   for i, (p, o) in enumerate(zip(images, scenes))], f)
    return str(root)


def test_ceiling_by_hand(tmp_path):
    result = sc.ceiling(*sc.load_split(_write(tmp_path), 'test'))
    # TR: img0 and img1 each own a caption no other image fits (ranked
    # first, 1 / m = 1); img2 and img3 tie between "there is a blue square"
    # and "a blue square" (both fit both images): 1/2 each.
    assert result['txt_r1'] == pytest.approx(100 * (1 + 1 + .5 + .5) / 4)
    # IR: "a red circle" (twice) and both blue-square captions fit two
    # images (1/2); the two specific captions fit one (1).
    assert result['img_r1'] == pytest.approx(100 * 4 / 6)
    for key in ('txt_r5', 'txt_r10', 'img_r5', 'img_r10'):
        assert result[key] == pytest.approx(100.0)
    assert result['captions'] == 6
    assert result['captions_fitting_several_images'] == 4
    assert result['captions_shared_verbatim'] == 2
    assert result['images_with_an_indistinguishable_twin'] == 2


def test_expected_recall_ties():
    scores = np.array([1., .5, .5, .5, 0.])
    # the target in a 3-way tie after one higher candidate
    target = np.array([False, True, False, False, False])
    assert sc.expected_recall(scores, target, 1) == 0.0
    assert sc.expected_recall(scores, target, 2) == pytest.approx(1 / 3)
    assert sc.expected_recall(scores, target, 3) == pytest.approx(2 / 3)
    assert sc.expected_recall(scores, target, 4) == 1.0
    # two targets in the tie: 1 - C(1, 1) / C(3, 1)
    two = np.array([False, True, True, False, False])
    assert sc.expected_recall(scores, two, 2) == pytest.approx(2 / 3)


def test_producible_captions_match_generator():
    from albef_mm.datasets.shapes import text as T
    from albef_mm.datasets.transforms.text import pre_caption
    scene = [_obj('red', 'circle', 'small', 'left'),
             _obj('blue', 'cross', 'large', 'top'),
             _obj('white', 'triangle', 'small', 'center')]
    possible = sc.producible_captions(scene)
    rng = np.random.default_rng(0)
    drawn = {pre_caption(T.caption(scene, rng)) for _ in range(2000)}
    # every drawn caption is in the set; 2000 draws cover all 72 forms
    assert drawn == possible
    assert 'a blue cross at the top and a small red circle' not in possible


def test_caption_not_from_scene_is_an_error(tmp_path):
    captions = [list(c) for c in CAPTIONS]
    captions[2] = ['A green triangle.']
    root = _write(tmp_path, captions=captions)
    with pytest.raises(ValueError, match="caption 4 'a green triangle' of "
                       'image 2 cannot be produced'):
        sc.ceiling(*sc.load_split(root, 'test'))


def test_missing_scene_names_record(tmp_path):
    root = _write(tmp_path)
    with open(osp.join(root, 'scenes.json'), 'w') as f:
        json.dump([], f)
    with pytest.raises(KeyError, match='record 0'):
        sc.load_split(root, 'test')
