"""FeatureExtractor and ZeroShotClassificationInferencer on a tiny model."""
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from albef_mm.apis import FeatureExtractor, ZeroShotClassificationInferencer
from helpers import CONFIG_ROOT
from helpers.tiny import TINY_VOCAB

CFG = osp.join(CONFIG_ROOT, 'albef', 'zeroshot_shapes_tiny.py')
OPTS = {'model.data_preprocessor.tokenizer.name_or_path': TINY_VOCAB}


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)
              for _ in range(3)]
    root = tmp_path_factory.mktemp('inf')
    paths = []
    for i, a in enumerate(arrays):
        paths.append(str(root / f'{i}.png'))
        Image.fromarray(a).save(paths[-1])
    return arrays, paths


@pytest.fixture(scope='module')
def extractor():
    torch.manual_seed(0)
    return FeatureExtractor(CFG, cfg_options=OPTS, batch_size=2)


def test_image_features_match_the_model(extractor, images):
    arrays, paths = images
    from_files = extractor.image(paths)
    from_arrays = extractor.image(arrays)
    torch.testing.assert_close(from_files['image_feat'],
                               from_arrays['image_feat'])
    model = extractor.model
    batch = model.data_preprocessor(dict(inputs=[
        torch.from_numpy(np.array(Image.fromarray(a).resize(
            (64, 64), Image.BICUBIC))).permute(2, 0, 1) for a in arrays]))
    ref = model.extract_feat(batch['images'], mode='image')
    torch.testing.assert_close(from_arrays['image_feat'], ref['image_feat'])
    torch.testing.assert_close(from_arrays['image_cls'],
                               ref['image_embeds'][:, 0])
    assert from_arrays['image_feat'].shape == (3, 64)


def test_text_and_multimodal_features(extractor, images):
    texts = ['there is a red circle.', 'a cross.', 'two squares.']
    out = extractor.text(texts)
    tok = extractor.model.data_preprocessor.tokenize(texts)
    ref = extractor.model.extract_feat(text_ids=tok['text_ids'],
                                       text_mask=tok['text_mask'],
                                       mode='text')
    torch.testing.assert_close(out['text_feat'], ref['text_feat'])
    fused = extractor.multimodal(images[0], texts)['multimodal_cls']
    assert fused.shape == (3, 64)
    one = extractor.multimodal(images[0][1], texts[1])['multimodal_cls']
    torch.testing.assert_close(one[0], fused[1], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match='3 images and 2 texts'):
        extractor.multimodal(images[0], texts[:2])
    with pytest.raises(ValueError, match='image 0'):
        extractor.image([np.zeros((4, 4))])


def test_inferencer_ranks_classes(images):
    torch.manual_seed(0)
    inf = ZeroShotClassificationInferencer(CFG, cfg_options=OPTS)
    out = inf(images[1], topk=3)
    scores = inf.model.classify(inf._images(images[1]))
    assert [r['pred_label'] for r in out] == scores.argmax(1).tolist()
    assert out[0]['pred_class'] == inf.model.classnames[
        out[0]['pred_label']]
    assert [s for _, s in out[0]['topk']] == sorted(
        [s for _, s in out[0]['topk']], reverse=True)
    assert len(out[0]['topk']) == 3
    new = inf(images[1][0], classnames=['red', 'blue'])
    assert {n for n, _ in new[0]['topk']} == {'red', 'blue'}
    assert new[0]['pred_score'].shape == (2, )


def test_zero_shot_score_covers_every_class_whatever_topk():
    torch.manual_seed(0)
    inf = ZeroShotClassificationInferencer(CFG, cfg_options=OPTS)
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3),
                                              dtype=np.uint8)
    out = inf(image, classnames=['red', 'blue', 'green'], topk=1)[0]
    scores = inf.model.classify(inf._images([image]))[0]
    assert out['pred_score'].shape == (3, )
    assert torch.allclose(out['pred_score'], scores)
    assert out['pred_label'] == int(scores.argmax())
    assert out['topk'] == [(out['pred_class'],
                            float(scores.max()))]
