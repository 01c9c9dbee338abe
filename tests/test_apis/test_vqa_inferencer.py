"""VQAInferencer: the model's own ranking on image files (test transform,
question cleaned as the test dataset does)."""
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from albef_mm.apis import VQAInferencer
from albef_mm.datasets.transforms import ALBEFResize
from helpers.tiny import CONFIG_ROOT, TINY_VOCAB

ANSWERS = ['red', 'blue', 'circle', 'square', 'yes', 'no', '2', 'a big one']
OPTIONS = {'model.data_preprocessor.tokenizer.name_or_path': TINY_VOCAB,
           'model.answer_list': ANSWERS, 'model.init_from_pretrain': None,
           'model.k_test': 6}


def test_vqa_inferencer_matches_model_ranking(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f'{i}.jpg'))
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
                        ).save(paths[-1])
    torch.manual_seed(0)
    inf = VQAInferencer(osp.join(CONFIG_ROOT, 'albef', 'vqa_shapes_tiny.py'),
                        topk=3, batch_size=2, cfg_options=OPTIONS)
    questions = ['What color is the circle?', 'Is there a square?',
                 'How many shapes are there?']
    out = inf(paths, questions)
    assert len(out) == 3
    model = inf.model
    pixels = []
    for p in paths:
        img = np.asarray(Image.open(p).convert('RGB'))
        img = ALBEFResize(64).transform(dict(img=img))['img']
        pixels.append(model.data_preprocessor.normalize(
            torch.from_numpy(img.transpose(2, 0, 1).copy())))
    tok = model.data_preprocessor.tokenize(
        ['what color is the circle', 'is there a square',
         'how many shapes are there'])
    ids, probs = model.answer_questions(torch.stack(pixels),
                                        tok['text_ids'], tok['text_mask'])
    for r, row, p in zip(out, ids, probs):
        assert r['answers'] == [ANSWERS[i] for i in row[:3]]
        assert r['pred_answer'] == r['answers'][0]
        np.testing.assert_allclose(r['scores'], p[:3].numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match='2 images and 1 questions'):
        inf(paths[:2], 'what?')
