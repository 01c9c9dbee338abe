"""Reference-fixture checks a mutation pass found missing: the training
step without cached image keys/values (the original's order of operations:
positives, text + negative image, negative text + image), and the
temperature clamp of pre-training."""
import pytest
import torch
from conftest import oracle_fixture

from parity import pretrain as parity_pretrain
from parity import retrieval as parity_retrieval
from parity.reference import rerank_itm_plain, without_kv_reuse


@pytest.mark.parametrize('task', ['pretrain', 'retrieval'])
def test_train_step_without_kv_reuse_matches_the_fixture(task, monkeypatch):
    module = dict(pretrain=parity_pretrain, retrieval=parity_retrieval)[task]
    name = f'build_{task}_model'
    build = getattr(module, name)

    def build_plain(fixture):
        return without_kv_reuse(build(fixture))

    monkeypatch.setattr(module, name, build_plain)
    fx = torch.load(oracle_fixture(f'{task}.pth'))
    checks = module.check_train_step(fx, replay='inject')
    bad = [c.name for c in checks if not c.ok]
    assert not bad, bad
    assert len(checks) > 100


def test_pretrain_step_clamps_the_temperature_and_retrieval_does_not():
    fx = torch.load(oracle_fixture('pretrain.pth'))
    inp = fx['inputs']
    model = parity_pretrain.build_pretrain_model(fx)
    with torch.no_grad():
        model.itc_head.temp.fill_(0.9)
    model.train()
    model.loss(inp['image'], inp['text_ids'], inp['text_atts'])
    assert model.itc_head.temp.item() == pytest.approx(0.5)
    fx = torch.load(oracle_fixture('retrieval.pth'))
    inp = fx['inputs']
    model = parity_retrieval.build_retrieval_model(fx)
    with torch.no_grad():
        model.itc_head.temp.fill_(0.9)
    model.train()
    model.loss(inp['image'], inp['text_ids'], inp['text_atts'], inp['idx'])
    assert model.itc_head.temp.item() == pytest.approx(0.9)


def _itc_loss(q, keys, q_m, temp, alpha):
    """ALBEF's ITC loss of one direction, from recorded features."""
    sim = q @ keys / temp
    hard = torch.zeros_like(sim)
    hard[range(q.size(0)), range(q.size(0))] = 1
    target = alpha * torch.softmax(q_m @ keys / temp, 1) + (1 - alpha) * hard
    return -(torch.log_softmax(sim, 1) * target).sum(1).mean()


@pytest.mark.parametrize('alpha', [0.0, 0.25])
def test_itc_loss_uses_the_current_alpha(alpha):
    """The distillation weight of the step is ``model.alpha`` (ramped by
    AlphaWarmupHook), not the final ``max_alpha``; expected values from the
    recorded features of the fixture."""
    fx = torch.load(oracle_fixture('pretrain.pth'))
    inp, exp = fx['inputs'], fx['outputs']['eval']
    model = parity_pretrain.build_pretrain_model(fx).eval()
    assert model.max_alpha == 0.4
    model.alpha = alpha
    queues = model.itc_loss
    text_all = torch.cat([exp['text_feat_m'].t(), queues.text_queue], 1)
    image_all = torch.cat([exp['image_feat_m'].t(), queues.image_queue], 1)
    temp = model.itc_head.temp.item()  # the fixture's (perturbed) value
    expected = (_itc_loss(exp['image_feat'], text_all, exp['image_feat_m'],
                          temp, alpha) +
                _itc_loss(exp['text_feat'], image_all, exp['text_feat_m'],
                          temp, alpha)) / 2
    with torch.no_grad():
        losses = model.loss(inp['image'], inp['text_ids'], inp['text_atts'])
    torch.testing.assert_close(losses['loss_itc'], expected, rtol=1e-5,
                               atol=1e-5)


def test_predict_scores_are_the_fixture_match_probability_and_cosine():
    fx = torch.load(oracle_fixture('pretrain.pth'))
    inp, exp = fx['inputs'], fx['outputs']['eval']
    model = parity_pretrain.build_pretrain_model(fx).eval()
    samples = model.predict(inp['image'], inp['text_ids'], inp['text_atts'])
    n = inp['image'].size(0)
    pairs = exp['itm_logits'][range(n), range(n)]
    expected_itm = torch.softmax(pairs, -1)[:, 1]
    expected_sim = exp['sim_i2t'].diag() * model.itc_head.temp.item()
    got_itm = torch.stack([s.itm_score for s in samples])
    got_sim = torch.stack([s.itc_sim for s in samples])
    assert (expected_itm.max() - expected_itm.min()) > 1e-3
    torch.testing.assert_close(got_itm, expected_itm, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got_sim, expected_sim, rtol=1e-5, atol=1e-5)


def test_grounding_predict_token_maps_cover_the_real_tokens():
    """``with_token_maps``: one map per real token of each expression
    (padding left out), equal to the fixture's per-token Grad-CAM."""
    from parity.grounding import build_grounding_model
    fx = torch.load(oracle_fixture('retrieval.pth'))
    inp, exp = fx['inputs'], fx['outputs']['grounding']['itm']
    block = min(exp)
    model = build_grounding_model(
        fx, 'itm', int(block) - fx['bert_config']['fusion_layer'])
    model.with_token_maps = True
    samples = model.predict(inp['image'], inp['text_ids'], inp['text_atts'])
    lengths = inp['text_atts'].sum(1).tolist()
    assert len(set(lengths)) > 1
    for i, (sample, n) in enumerate(zip(samples, lengths)):
        assert sample.pred_token_heatmaps.shape[0] == n
        torch.testing.assert_close(sample.pred_token_heatmaps,
                                   exp[block]['gradcam_per_token'][i, :n],
                                   rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(sample.pred_heatmap,
                                   exp[block]['gradcam'][i],
                                   rtol=1e-5, atol=1e-6)


@torch.no_grad()
@pytest.mark.parametrize('method', ['cached_kv', 'per_pair'])
def test_shortlist_longer_than_the_gallery_scores_every_pair(method):
    """k above the number of images (text -> image) or texts (image ->
    text) is clipped: every pair is re-ranked, with the fixture's ITM
    scores."""
    fx = torch.load(oracle_fixture('retrieval.pth'))
    inp, exp = fx['inputs'], fx['outputs']['eval']
    model = parity_retrieval.build_retrieval_model(fx).eval()
    images = inp['image'][:2]  # 2 images, 4 texts
    img = model.extract_feat(images, mode='image')
    txt = model.extract_feat(text_ids=inp['text_ids'],
                             text_mask=inp['text_atts'], mode='text')
    sims = img['image_feat'] @ txt['text_feat'].t()
    if method == 'cached_kv':
        i2t, t2i = model.score_shortlist(
            img['image_embeds'], torch.arange(2), txt['text_embeds'],
            inp['text_atts'], sims, k=3)
    else:  # the original's loop, the reference of the parity tool
        i2t, t2i = rerank_itm_plain(model.neck, model.itm_head,
                                    img['image_embeds'], txt['text_embeds'],
                                    inp['text_atts'], sims, k=3)
    itm = exp['itm_logits'][:2, :, 1]  # [image, text]
    torch.testing.assert_close(t2i, itm.t(), rtol=1e-5, atol=1e-5)
    top3 = sims.topk(3, dim=1).indices
    for i in range(2):
        torch.testing.assert_close(i2t[i, top3[i]], itm[i, top3[i]],
                                   rtol=1e-5, atol=1e-5)
        others = [j for j in range(4) if j not in top3[i].tolist()]
        assert (i2t[i, others] < -99).all()
