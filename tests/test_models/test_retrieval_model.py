"""ALBEFRetrieval: training step, re-ranking equivalences, loading a
pre-training checkpoint."""
import pickle

import pytest
import torch
from parity.reference import rerank_itm_plain

from albef_mm.checkpoint import load_checkpoint_to_model
from albef_mm.registry import MODELS
from helpers import tiny_pretrain_model_cfg


def retrieval_cfg(img_size=64):
    cfg = tiny_pretrain_model_cfg()
    cfg['type'] = 'ALBEFRetrieval'
    cfg.pop('mlm_head')
    cfg['vision_backbone']['img_size'] = img_size
    cfg['itc_head'].update(use_idx_queue=True, clamp_temp=False)
    return cfg


@pytest.fixture
def model():
    torch.manual_seed(0)
    return MODELS.build(retrieval_cfg()).eval()


def test_retrieval_loss_and_idx_enqueue(model):
    from albef_mm.structures import DataSample
    model.train()
    images = torch.randn(4, 3, 64, 64)
    ids = torch.randint(104, 512, (4, 7))
    ids[:, 0] = 101
    mask = torch.ones_like(ids)
    samples = [DataSample(image_idx=i) for i in (3, 5, 7, 7)]
    losses = model(images, ids, mask, samples, mode='loss')
    assert set(losses) == {'loss_itc', 'loss_itm'}
    model.dequeue_and_enqueue()
    assert model.itc_loss.idx_queue[0, :4].tolist() == [3, 5, 7, 7]
    with pytest.raises(ValueError, match='image_idx'):
        model(images, ids, mask, [DataSample() for _ in range(4)],
              mode='loss')


def _inputs(n_img=5, n_txt=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    image_embeds = torch.randn(n_img, 17, 64, generator=g)
    text_embeds = torch.randn(n_txt, 30, 64, generator=g)
    lengths = torch.randint(3, 31, (n_txt, ), generator=g)
    mask = (torch.arange(30)[None] < lengths[:, None]).long()
    sims = torch.randn(n_img, n_txt, generator=g)
    return image_embeds, text_embeds, mask, sims


@torch.no_grad()
def test_rerank_equals_bruteforce_restricted_to_topk(model):
    image_embeds, text_embeds, mask, sims = _inputs()
    n_img, n_txt, k = 5, 12, 3
    full = torch.empty(n_img, n_txt)
    for i in range(n_img):
        fused = model.neck(text_embeds, mask,
                           image_embeds[i:i + 1].expand(n_txt, -1, -1))
        full[i] = model.itm_head(fused[:, 0])[:, 1]
    top_i2t = sims.topk(k, dim=1).indices
    top_t2i = sims.t().topk(k, dim=1).indices
    exp_i2t = torch.full((n_img, n_txt), -100.)
    exp_t2i = torch.full((n_txt, n_img), -100.)
    for i in range(n_img):
        exp_i2t[i, top_i2t[i]] = full[i, top_i2t[i]]
    for j in range(n_txt):
        exp_t2i[j, top_t2i[j]] = full[top_t2i[j], j]
    stats = {}
    i2t, t2i = model.score_shortlist(image_embeds, torch.arange(n_img),
                                     text_embeds, mask, sims, k,
                                     pair_batch=4, stats=stats)
    i2t[torch.isinf(i2t)] = -100
    t2i[torch.isinf(t2i)] = -100
    torch.testing.assert_close(i2t, exp_i2t, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(t2i, exp_t2i, atol=1e-5, rtol=1e-5)
    # pairs asked for by both directions are fused once
    union = torch.zeros(n_img, n_txt, dtype=torch.bool)
    union.scatter_(1, top_i2t, True)
    union |= torch.zeros(n_txt, n_img, dtype=torch.bool).scatter_(
        1, top_t2i, True).t()
    assert stats['pairs'] == int(union.sum()) < n_img * k + n_txt * k
    assert stats['text_tokens'] < stats['pairs'] * 30
    plain_i2t, plain_t2i = rerank_itm_plain(
        model.neck, model.itm_head, image_embeds, text_embeds, mask, sims, k)
    torch.testing.assert_close(plain_i2t, exp_i2t, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(plain_t2i, exp_t2i, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_rerank_on_an_image_shard_and_itc_bonus(model):
    image_embeds, text_embeds, mask, sims = _inputs(seed=1)
    full_i2t, full_t2i = model.score_shortlist(
        image_embeds, torch.arange(5), text_embeds, mask, sims, 4)
    a = model.score_shortlist(image_embeds[:2], torch.tensor([0, 1]),
                              text_embeds, mask, sims, 4)
    b = model.score_shortlist(image_embeds[2:], torch.tensor([2, 3, 4]),
                              text_embeds, mask, sims, 4)
    torch.testing.assert_close(torch.maximum(a[0], b[0]), full_i2t)
    torch.testing.assert_close(torch.maximum(a[1], b[1]), full_t2i)
    bonus, _ = model.score_shortlist(image_embeds, torch.arange(5),
                                     text_embeds, mask, sims, 4,
                                     add_itc=True)
    finite = torch.isfinite(full_i2t)
    torch.testing.assert_close(bonus[finite], (full_i2t + sims)[finite])


def test_load_pretrain_checkpoint_into_retrieval_at_higher_resolution():
    torch.manual_seed(0)
    pre = MODELS.build(tiny_pretrain_model_cfg())
    ret = MODELS.build(retrieval_cfg(img_size=96))
    report = load_checkpoint_to_model(ret, pre.state_dict(), strict=True)
    assert report.missing == ['itc_loss.idx_queue']
    assert all(k.startswith('mlm_head') for k in report.unexpected)
    assert len(report.interpolated) == 2
    assert ret.vision_backbone_m.pos_embed.shape == (1, 37, 64)
    assert (ret.itc_loss.idx_queue == -100).all()
    assert torch.equal(ret.itc_loss.image_queue, pre.itc_loss.image_queue)
    assert torch.equal(ret.neck.encoder.layer[1].crossattention.self.key
                       .weight, pre.neck.encoder.layer[1].crossattention
                       .self.key.weight)


def test_checkpoint_with_the_queues_under_itc_head_still_loads():
    """albef_mm checkpoints written before the ITC split hold the queues
    as ``itc_head.{image,text,idx}_queue`` / ``queue_ptr``: every load
    (the checkpoint loader, plain ``load_state_dict``) renames them to
    ``itc_loss.*``."""
    torch.manual_seed(0)
    saved = MODELS.build(retrieval_cfg())
    saved.itc_loss.idx_queue.fill_(4)
    saved.itc_loss.queue_ptr.fill_(8)
    old = {k.replace('itc_loss.', 'itc_head.'): v
           for k, v in saved.state_dict().items()}
    assert 'itc_head.idx_queue' in old and not any('itc_loss' in k
                                                   for k in old)
    for load in (lambda m: load_checkpoint_to_model(m, {'state_dict': old}),
                 lambda m: m.load_state_dict(old)):
        torch.manual_seed(1)
        model = MODELS.build(retrieval_cfg())
        load(model)
        for name in ('image_queue', 'text_queue', 'idx_queue', 'queue_ptr'):
            assert torch.equal(getattr(model.itc_loss, name),
                               getattr(saved.itc_loss, name)), name
    # the seam survives pickling (torch.save of a whole model, spawn)
    clone = pickle.loads(pickle.dumps(MODELS.build(retrieval_cfg())))
    clone.load_state_dict(old)
    assert torch.equal(clone.itc_loss.idx_queue, saved.itc_loss.idx_queue)
