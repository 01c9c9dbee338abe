"""Tests written for the survivors of the fifth mutation batch (pkg5) on
the inferencers: the zero-shot scores over all classes, and how the
grounding inferencer reads an empty proposal list."""
import os.path as osp

import numpy as np
import torch

from albef_mm.apis import (VisualGroundingInferencer,
                           ZeroShotClassificationInferencer)
from helpers import CONFIG_ROOT
from helpers.tiny import TINY_VOCAB

ZS_CFG = osp.join(CONFIG_ROOT, 'albef', 'zeroshot_shapes_tiny.py')


def test_zero_shot_score_covers_every_class_whatever_topk():
    torch.manual_seed(0)
    inf = ZeroShotClassificationInferencer(ZS_CFG, cfg_options={
        'model.data_preprocessor.tokenizer.name_or_path': TINY_VOCAB})
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3),
                                              dtype=np.uint8)
    out = inf(image, classnames=['red', 'blue', 'green'], topk=1)[0]
    scores = inf.model.classify(inf._images([image]))[0]
    assert out['pred_score'].shape == (3, )
    assert torch.allclose(out['pred_score'], scores)
    assert out['pred_label'] == int(scores.argmax())
    assert out['topk'] == [(out['pred_class'],
                            float(scores.max()))]


def test_grounding_proposals_empty_list_is_one_list_for_all_images():
    per_image = VisualGroundingInferencer._per_image
    # [] is "no proposals" for every image, not "zero images' lists"
    assert per_image([]) is False
    assert per_image([[0, 0, 4, 4], [1, 1, 2, 2]]) is False
    assert per_image([[[0, 0, 4, 4]], []]) is True
