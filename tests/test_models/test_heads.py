"""Heads against direct computations of the spec's formulas."""
import math

import pytest
import torch
import torch.nn.functional as F

from albef_mm.models.heads import ITCHead, ITCLoss, ITMHead, MLMHead
from albef_mm.models.heads.itc_loss import split_itc_cfg


def _feats(b, e, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [F.normalize(torch.randn(b, e, generator=g), dim=-1)
            for _ in range(4)]


def test_itc_loss_matches_formula():
    torch.manual_seed(0)
    head = ITCLoss(embed_dim=6, queue_size=10)
    v, t, vm, tm = _feats(3, 6)
    alpha = 0.3
    temp = torch.tensor(0.07, requires_grad=True)
    out = head.loss(v, t, vm, tm, temp, alpha)
    out['loss_itc'].backward()
    assert temp.grad is not None  # the temperature is learned through it
    temp = temp.item()
    tall = torch.cat([tm.t(), head.text_queue], 1)
    vall = torch.cat([vm.t(), head.image_queue], 1)
    loss = 0
    for q, k, qm in ((v, tall, vm), (t, vall, tm)):
        s = q @ k / temp
        y = torch.zeros_like(s)
        y[range(3), range(3)] = 1
        target = alpha * F.softmax(qm @ k / temp, 1) + (1 - alpha) * y
        # (1-a)·CE(y, p) + a·CE(q, p), per row, mean over rows
        loss = loss + (-(target * F.log_softmax(s, 1)).sum(1)).mean() / 2
    assert out['sim_i2t'].shape == (3, 13)
    torch.testing.assert_close(out['loss_itc'], loss)


def test_itc_idx_targets_and_no_distill():
    head = ITCLoss(embed_dim=6, queue_size=4, use_idx_queue=True,
                   distill=False)
    head.idx_queue[:] = torch.tensor([[5, -100, 7, 5]])
    idx = torch.tensor([5, 7, 5])
    v, t, vm, tm = _feats(3, 6, seed=1)
    temp = torch.tensor(0.07)
    out = head.loss(v, t, vm, tm, temp, alpha=0.4, idx=idx)
    # row 0 (image 5): batch cols 0, 2 and queue cols 0, 3 are positives
    expected = torch.tensor([1, 0, 1, 1, 0, 0, 1.]) / 4
    torch.testing.assert_close(out['targets_i2t'][0], expected)
    with pytest.raises(ValueError, match='image index'):
        head.loss(v, t, vm, tm, temp, 0.4)


def test_itc_features_clamp_and_momentum_copies():
    feats = ITCHead(vision_width=4, text_width=5, embed_dim=3)
    with torch.no_grad():
        feats.temp.fill_(0.9)
    feats.clamp_temperature()
    assert feats.temp.item() == pytest.approx(0.5)
    cls = torch.randn(2, 5)
    torch.testing.assert_close(feats.text_feat(cls),
                               F.normalize(feats.text_proj(cls), dim=-1))
    pairs = feats.momentum_module_pairs()
    assert [(a, b) for a, b in pairs] == [
        (feats.vision_proj, feats.vision_proj_m),
        (feats.text_proj, feats.text_proj_m)]
    assert not feats.vision_proj_m.weight.requires_grad
    plain = ITCHead(vision_width=4, text_width=5, embed_dim=3,
                    clamp_temp=False, momentum=False)
    with torch.no_grad():
        plain.temp.fill_(0.9)
    plain.clamp_temperature()
    assert plain.temp.item() == pytest.approx(0.9)
    assert plain.momentum_module_pairs() == []
    assert not any(k.endswith('_m.weight') for k in plain.state_dict())
    with pytest.raises(RuntimeError, match='momentum=False'):
        plain.image_feat(torch.randn(2, 4), momentum=True)


def test_split_itc_cfg_gives_the_training_keys_to_the_loss():
    features, loss = split_itc_cfg(dict(
        type='ITCHead', vision_width=4, embed_dim=3, temp=0.1,
        clamp_temp=False, queue_size=12, use_idx_queue=True, distill=False))
    assert features == dict(type='ITCHead', vision_width=4, embed_dim=3,
                            temp=0.1, clamp_temp=False)
    assert loss == dict(type='ITCLoss', embed_dim=3, queue_size=12,
                        use_idx_queue=True, distill=False)
    _, default = split_itc_cfg(dict(type='ITCHead'))
    assert default == dict(type='ITCLoss', embed_dim=256)


def test_itc_queue_wraparound():
    head = ITCLoss(embed_dim=3, queue_size=6)
    head.queue_ptr[0] = 4
    img, txt = torch.ones(2, 3), 2 * torch.ones(2, 3)
    head.enqueue(img, txt)
    assert head.queue_ptr.item() == 0
    assert torch.equal(head.image_queue[:, 4:], torch.ones(3, 2))
    assert torch.equal(head.text_queue[:, 4:], 2 * torch.ones(3, 2))
    head.enqueue(3 * img, 3 * txt)
    assert head.queue_ptr.item() == 2
    assert torch.equal(head.image_queue[:, :2], 3 * torch.ones(3, 2))
    with pytest.raises(ValueError, match='not a multiple of the global '
                       'batch 4'):
        head.enqueue(torch.ones(4, 3), torch.ones(4, 3))


def test_itm_negative_weights_and_loss():
    head = ITMHead(hidden_size=4)
    sim = torch.randn(3, 7)
    w = head.negative_weights(sim)
    expected = F.softmax(sim[:, :3], 1)
    expected.fill_diagonal_(0)
    torch.testing.assert_close(w, expected)
    # image-index masking: samples 0 and 2 share an image
    w = head.negative_weights(sim, torch.tensor([1, 2, 1]))
    assert w[0, 2] == 0 and w[2, 0] == 0 and w[0, 1] > 0
    logits = torch.randn(6, 2)
    labels = torch.tensor([1, 1, 0, 0, 0, 0])
    torch.testing.assert_close(head.loss(logits),
                               F.cross_entropy(logits, labels))


def test_itm_draw_never_picks_a_positive_and_survives_empty_rows():
    torch.manual_seed(0)
    sim = torch.randn(4, 4)
    for _ in range(50):
        neg_i, neg_t = ITMHead().sample_negatives(sim, sim)
        assert (neg_i != torch.arange(4)).all()
        assert (neg_t != torch.arange(4)).all()
    # all samples of one image: every row is empty → uniform over others
    idx = torch.zeros(4, dtype=torch.long)
    neg_i, _ = ITMHead().sample_negatives(sim, sim, idx)
    assert (neg_i != torch.arange(4)).all()
    # a batch of one cannot crash
    assert ITMHead().sample_negatives(sim[:1, :1], sim[:1, :1])[0].tolist() \
        == [0]


def test_mlm_masking_statistics_and_exclusions():
    head = MLMHead(hidden_size=8, vocab_size=500, mask_prob=0.15)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(104, 500, (2000, 50), generator=gen)
    ids[:, 0] = 101
    ids[:, 40:] = 0
    masked, labels = head.mask_tokens(ids, generator=gen)
    sel = labels != -100
    assert not sel[:, 0].any() and not sel[:, 40:].any()
    assert torch.equal(labels[sel], ids[sel])
    assert torch.equal(masked[~sel], ids[~sel])
    rate = sel[:, 1:40].float().mean().item()
    assert abs(rate - 0.15) < 0.01
    n = sel.sum().item()
    frac_mask = (masked[sel] == 103).float().mean().item()
    kept = (masked[sel] == ids[sel]).float().mean().item()
    assert abs(frac_mask - 0.8) < 0.02
    # 10 % random (a random id equal to the original counts as kept) + 10 %
    assert abs(kept - 0.1) < 0.015 and n > 10000
    assert torch.equal(ids[:, 0], torch.full((2000, ), 101))  # not in place


def test_mlm_loss_formula_and_no_mask():
    head = MLMHead(hidden_size=8, vocab_size=11)
    logits = torch.randn(2, 5, 11)
    labels = torch.full((2, 5), -100)
    labels[0, 1], labels[1, 3] = 4, 7
    soft = F.softmax(torch.randn(2, 5, 11), -1)
    alpha = 0.4
    logp = F.log_softmax(logits, -1)
    hard = -(logp[0, 1, 4] + logp[1, 3, 7]) / 2
    dist = -((soft[0, 1] * logp[0, 1]).sum() + (soft[1, 3] * logp[1, 3]).sum()
             ) / 2
    torch.testing.assert_close(head.loss(logits, labels, soft, alpha),
                               (1 - alpha) * hard + alpha * dist)
    nothing = torch.full((2, 5), -100)
    assert head.loss(logits, nothing, soft, alpha).item() == 0.0
    assert math.isfinite(head.loss(logits, nothing).item())


def test_mlm_select_labelled_keeps_masked_rows_in_order_and_auto_mode():
    head = MLMHead(hidden_size=8, vocab_size=20)
    labels = torch.tensor([[-100, 5, -100], [7, -100, 9]])
    hidden = torch.arange(2 * 3 * 8, dtype=torch.float).view(2, 3, 8)
    assert head.logits_at_labels_only is None  # auto: CPU tensors select
    out_labels, out_hidden, out_again = head.select_labelled(
        labels, hidden, hidden + 1)
    assert out_labels.tolist() == [5, 7, 9]
    torch.testing.assert_close(out_hidden,
                               hidden.view(6, 8)[[1, 3, 5]])
    torch.testing.assert_close(out_again, out_hidden + 1)
    # auto on an accelerator (any non-CPU device): no selection, no sync
    on_device = head.select_labelled(labels.to('meta'), hidden.to('meta'))
    assert on_device[0].shape == (2, 3) and on_device[1].shape == (2, 3, 8)
    head.logits_at_labels_only = False
    kept = head.select_labelled(labels, hidden)
    assert kept[0] is labels and kept[1] is hidden
    # no masked token: an empty selection, and the loss is 0, not NaN
    head.logits_at_labels_only = True
    none, empty = head.select_labelled(torch.full((2, 3), -100), hidden)
    assert none.shape == (0,) and empty.shape == (0, 8)
    loss = head.loss(head(empty), none, torch.zeros(0, 20), alpha=0.4)
    assert loss.item() == 0.0


def test_mlm_random_words_cover_the_whole_vocabulary():
    head = MLMHead(hidden_size=8, vocab_size=5, mask_prob=1.0,
                   mask_token_id=103, cls_token_id=101)
    ids = torch.full((400, 30), 2)
    gen = torch.Generator().manual_seed(0)
    masked, labels = head.mask_tokens(ids, generator=gen)
    assert (labels == 2).all()
    random = masked[(masked != 103) & (masked != 2)]
    assert random.numel() > 800
    assert set(random.unique().tolist()) == {0, 1, 3, 4}


def test_mlm_head_default_masks_15_percent_of_tokens():
    head = MLMHead(hidden_size=8, vocab_size=11)  # default mask_prob
    ids = torch.full((1000, 40), 5)
    _, labels = head.mask_tokens(ids, torch.Generator().manual_seed(0))
    assert abs((labels != -100).float().mean().item() - 0.15) < 0.005


def test_itm_fallback_draw_never_picks_the_sample_itself():
    gen = torch.Generator().manual_seed(0)
    draws = torch.stack([ITMHead.draw(torch.zeros(3, 3), gen)
                         for _ in range(200)])
    assert not (draws == torch.arange(3)).any()
    assert set(draws[:, 0].tolist()) == {1, 2}  # uniform over the others
    single = ITMHead.draw(torch.zeros(1, 1), gen)
    assert single.tolist() == [0]
