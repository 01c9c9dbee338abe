"""ImageTextRetrievalInferencer on a tiny random retrieval model, and the
model list."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from albef_mm.apis import ImageTextRetrievalInferencer
from albef_mm.datasets import generate_shapes
from albef_mm.registry import MODELS
from helpers import CONFIG_ROOT

CFG = osp.join(CONFIG_ROOT, 'albef', 'retrieval_shapes_tiny.py')


@pytest.fixture(scope='module')
def inferencer(tmp_path_factory):
    root = tmp_path_factory.mktemp('retrieval_inferencer')
    data = str(root / 'shapes')
    generate_shapes(data, num_train=4, num_val=4, num_test=12)
    opts = {'model.data_preprocessor.tokenizer.name_or_path':
            osp.join(data, 'vocab.txt')}
    cfg = Config.fromfile(CFG)
    cfg.merge_from_dict(opts)
    torch.manual_seed(0)
    ckpt = str(root / 'random.pth')
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, ckpt)
    inf = ImageTextRetrievalInferencer(CFG, ckpt, k=4, batch_size=5,
                                       cfg_options=opts)
    return inf, data, root


def _images(data):
    return sorted(osp.join(data, 'images', f)
                  for f in __import__('os').listdir(osp.join(data, 'images'))
                  )[:7]


@torch.no_grad()
def test_text_to_image_reranks_the_itc_shortlist_by_itm(inferencer):
    inf, data, _ = inferencer
    files = _images(data)
    inf.set_image_gallery(files)
    out = inf.text_to_image(['a red circle', 'two blue squares'], topk=3)
    assert [len(r) for r in out] == [3, 3]
    # brute force: ITC over the gallery, top-4 re-scored by ITM
    model = inf.model
    imgs = model.extract_feat(inf._images(files), mode='image')
    tok = model.data_preprocessor.tokenize(['a red circle'], max_length=30,
                                           padding='max_length')
    txt = model.extract_feat(text_ids=tok['text_ids'],
                             text_mask=tok['text_mask'], mode='text')
    sims = (txt['text_feat'] @ imgs['image_feat'].t())[0]
    short = sims.topk(4).indices
    fused = model.neck(txt['text_embeds'].expand(4, -1, -1),
                       tok['text_mask'].expand(4, -1),
                       imgs['image_embeds'][short])
    prob = model.itm_head(fused[:, 0]).softmax(-1)[:, 1]
    best = prob.argsort(descending=True)[:3]
    assert [r['image'] for r in out[0]] == [files[int(short[i])]
                                            for i in best]
    torch.testing.assert_close(torch.tensor([r['itm'] for r in out[0]]),
                               prob[best], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.tensor([r['itc'] for r in out[0]]),
                               sims[short[best]], atol=1e-5, rtol=1e-5)
    assert [r['itm'] for r in out[0]] == sorted(
        [r['itm'] for r in out[0]], reverse=True)


def test_gallery_save_load_and_image_to_text(inferencer, tmp_path):
    inf, data, _ = inferencer
    inf.set_image_gallery(osp.join(data, 'images'))
    inf.set_text_gallery(['a red circle', 'a green cross',
                          'two blue squares', 'a yellow triangle',
                          'a white circle'])
    first = inf.text_to_image('a green cross', topk=2)
    pics = inf.image_to_text(_images(data)[:2], topk=5)
    assert [len(r) for r in pics] == [4, 4]  # at most k results
    path = str(tmp_path / 'gallery.pth')
    inf.save_gallery(path)
    inf.gallery = {}
    with pytest.raises(RuntimeError, match='set_image_gallery'):
        inf.text_to_image('a red circle')
    inf.load_gallery(path)
    assert inf.text_to_image('a green cross', topk=2) == first
    assert inf.image_to_text(_images(data)[:2], topk=5) == pics
    with pytest.raises(FileNotFoundError, match='not a folder'):
        inf.set_image_gallery(str(tmp_path / 'missing'))
