"""VEInferencer / NLVRInferencer give the model's own predictions on image
files (test transform, cleaned text)."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from albef_mm.apis import NLVRInferencer, VEInferencer
from albef_mm.datasets.transforms import ALBEFResize
from helpers.tiny import CONFIG_ROOT, TINY_VOCAB

OPTIONS = {'model.data_preprocessor.tokenizer.name_or_path': TINY_VOCAB}


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        path = str(tmp_path / f'{i}.jpg')
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
                        ).save(path)
        paths.append(path)
    return paths


def _pixels(inf, path):
    img = np.asarray(Image.open(path).convert('RGB'))
    img = ALBEFResize(64).transform(dict(img=img))['img']
    pre = inf.model.data_preprocessor
    return pre.normalize(torch.from_numpy(img.transpose(2, 0, 1).copy()))


def test_ve_inferencer_matches_model(files):
    torch.manual_seed(0)
    inf = VEInferencer(osp.join(CONFIG_ROOT, 'albef',
                                'snli_ve_shapes_tiny.py'),
                       cfg_options=OPTIONS, batch_size=2)
    texts = ['A Red circle!', 'two squares', 'nothing']
    out = inf(files, texts)
    assert len(out) == 3
    tok = inf.model.data_preprocessor.tokenize(
        ['a red circle', 'two squares', 'nothing'])
    images = torch.stack([_pixels(inf, p) for p in files])
    with torch.no_grad():
        probs = F.softmax(inf.model.classify(images, tok['text_ids'],
                                             tok['text_mask']), -1)
    for row, res in zip(probs, out):
        torch.testing.assert_close(res['pred_score'], row, atol=1e-5,
                                   rtol=1e-5)
        assert res['pred_class'] == inf.classes[int(row.argmax())]
    with pytest.raises(ValueError, match='3 inputs and 2 texts'):
        inf(files, texts[:2])


def test_nlvr_inferencer_matches_model(files):
    torch.manual_seed(0)
    inf = NLVRInferencer(osp.join(CONFIG_ROOT, 'albef',
                                  'nlvr2_shapes_tiny.py'),
                         cfg_options=OPTIONS)
    pairs = [(files[0], files[1]), (files[2], files[0])]
    out = inf(pairs, ['left has more', 'right has more'])
    single = inf(pairs[1], 'right has more')
    assert len(out) == 2 and len(single) == 1
    torch.testing.assert_close(single[0]['pred_score'], out[1]['pred_score'])
    images = torch.stack([torch.stack([_pixels(inf, a), _pixels(inf, b)])
                          for a, b in pairs])
    tok = inf.model.data_preprocessor.tokenize(['left has more',
                                                'right has more'])
    with torch.no_grad():
        probs = F.softmax(inf.model.classify(images, tok['text_ids'],
                                             tok['text_mask']), -1)
    torch.testing.assert_close(torch.stack([o['pred_score'] for o in out]),
                               probs, atol=1e-5, rtol=1e-5)
    assert out[0]['pred_class'] in ('True', 'False')
    with pytest.raises(TypeError, match='ALBEFNLVR'):
        NLVRInferencer(osp.join(CONFIG_ROOT, 'albef',
                                'snli_ve_shapes_tiny.py'),
                       cfg_options=OPTIONS)
