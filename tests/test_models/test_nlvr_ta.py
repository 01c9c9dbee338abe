"""Text-assignment pre-training: the three sampling cases and their labels,
the original's order of random draws, DDP safety (every trainable
parameter gets a gradient), loading a pre-training checkpoint."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from albef_mm.checkpoint import load_checkpoint_to_model
from albef_mm.models.algorithms.nlvr2_ta import (image_similarity_weights,
                                                 sample_text_assignment)
from albef_mm.registry import MODELS
from helpers.tiny import CONFIG_ROOT, TINY_OVERRIDES, TINY_VOCAB
from test_nlvr_model import (perturb, pretrain_project_state,
                             to_original_pretrain)


def ta_cfg():
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef',
                                   'nlvr2_ta_pretrain.py'))
    over = {k: dict(TINY_OVERRIDES[k])
            for k in ('vision_backbone', 'text_backbone', 'neck')}
    over['neck']['num_layers'] = 4
    for k in ('text_backbone', 'neck'):
        over[k].update(hidden_dropout=0.0, attn_dropout=0.0)
    cfg.merge_from_dict(dict(model=dict(
        over, ta_head=dict(in_channels=64), vision_width=64, embed_dim=32,
        data_preprocessor=dict(tokenizer=dict(name_or_path=TINY_VOCAB)))))
    return cfg.model.to_dict()


def test_labels_follow_the_three_cases():
    g = torch.Generator().manual_seed(0)
    weights = torch.softmax(torch.randn(6, 6, generator=g), 1)
    weights.fill_diagonal_(0)
    counts = [0, 0, 0]
    for seed in range(300):
        first, second, labels = sample_text_assignment(
            weights, torch.Generator().manual_seed(seed))
        for b, (i, j, y) in enumerate(zip(first.tolist(), second.tolist(),
                                          labels.tolist())):
            counts[y] += 1
            if y == 0:    # the caption's own image comes first
                assert i == b and j != b
            elif y == 1:  # ... second
                assert j == b and i != b
            else:         # neither: two distinct other images
                assert y == 2 and i != b and j != b and i != j
    # P(0) = P(1) = 1/3, P(2) = 1/3 (u > 1/3, then a fair coin)
    freq = [c / 1800 for c in counts]
    assert all(abs(f - 1 / 3) < 0.04 for f in freq), freq


def test_draw_order_is_the_originals():
    """Same draws as model_pretrain_nlvr.py's loop on the global generator:
    rand, multinomial(1), rand -- or rand, multinomial(2)."""
    weights = torch.softmax(torch.randn(5, 5), 1)
    weights.fill_diagonal_(0)
    torch.manual_seed(11)
    pairs, labels = [], []
    for b in range(5):
        if torch.rand(1) > 1 / 3:
            idx = torch.multinomial(weights[b], 1).item()
            if torch.rand(1) > 0.5:
                pairs.append((b, idx))
                labels.append(0)
            else:
                pairs.append((idx, b))
                labels.append(1)
        else:
            idx = torch.multinomial(weights[b], 2)
            pairs.append((int(idx[0]), int(idx[1])))
            labels.append(2)
    torch.manual_seed(11)
    first, second, got = sample_text_assignment(weights)
    assert list(zip(first.tolist(), second.tolist())) == pairs
    assert got.tolist() == labels
    with pytest.raises(ValueError, match='at least 3'):
        sample_text_assignment(weights[:2, :2])


def test_similarity_weights():
    feat = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    w = image_similarity_weights(feat)
    expected = torch.softmax(feat @ feat.t() / 0.07, 1)
    expected.fill_diagonal_(0)
    torch.testing.assert_close(w, expected)


def test_every_trainable_parameter_gets_a_gradient(monkeypatch):
    torch.manual_seed(0)
    model = perturb(MODELS.build(ta_cfg()))
    frozen = sorted(n for n, p in model.named_parameters()
                    if not p.requires_grad)
    assert frozen == ['itc_head.temp', 'itc_head.text_proj.bias',
                      'itc_head.text_proj.weight',
                      'itc_head.vision_proj.bias',
                      'itc_head.vision_proj.weight']
    images = torch.randn(5, 3, 64, 64)
    ids = torch.randint(104, 512, (5, 6))
    ids[:, 0] = 101
    mask = torch.ones_like(ids)
    model.train()
    model.generator = torch.Generator().manual_seed(3)
    losses = model(images, ids, mask, mode='loss')
    assert set(losses) == {'loss_ta'}
    losses['loss_ta'].backward()
    # DDP without find_unused_parameters needs a gradient on each of these
    no_grad = [n for n, p in model.named_parameters()
               if p.requires_grad and p.grad is None]
    assert no_grad == []
    # forced draws: the loss is CE of ta_head on the given pairs / labels
    forced = dict(first=torch.tensor([0, 2, 1, 3, 4]),
                  second=torch.tensor([1, 0, 3, 4, 0]),
                  labels=torch.tensor([0, 1, 2, 0, 2]))
    monkeypatch.setattr(
        'albef_mm.models.algorithms.nlvr2_ta.sample_text_assignment',
        lambda *a: (forced['first'], forced['second'], forced['labels']))
    out = model.assign(images, ids, mask)
    assert torch.equal(out['labels'], forced['labels'])
    assert out['logits'].shape == (5, 3)
    with torch.no_grad():
        emb = model.vision_backbone(images)
        fused = model.neck(model.text_backbone(ids, mask), mask,
                           [emb[forced['first']], emb[forced['second']]])
    torch.testing.assert_close(out['logits'], model.ta_head(fused[:, 0]))


def test_loads_pretraining_checkpoint_with_pairs():
    _, pre = pretrain_project_state()
    model = MODELS.build(ta_cfg())
    report = load_checkpoint_to_model(
        model, {'model': to_original_pretrain(pre)}, strict=True,
        logger='silent')
    assert sorted(report.missing) == ['ta_head.layers.0.bias',
                                      'ta_head.layers.0.weight']
    sd = model.state_dict()
    for j, l in ((0, 0), (1, 0), (2, 1), (3, 1)):
        assert torch.equal(
            sd[f'neck.encoder.layer.{j}.crossattention.self.query.weight'],
            pre[f'neck.encoder.layer.{l}.crossattention.self.query.weight'])
    assert torch.equal(sd['itc_head.vision_proj.weight'],
                       pre['itc_head.vision_proj.weight'])
    assert not model.itc_head.vision_proj.weight.requires_grad


def to_original_ta(state, fusion=2):
    """albef_mm text-assignment keys → original ``model_pretrain_nlvr``
    keys (the layout of the released ``pretrain_model_nlvr.pth``)."""
    out = {}
    for k, v in state.items():
        head, _, rest = k.partition('.')
        if head == 'vision_backbone':
            out[f'visual_encoder.{rest}'] = v
        elif head == 'text_backbone':
            out[f'text_encoder.{rest}'] = v
        elif head == 'neck':
            layer, tail = rest[len('encoder.layer.'):].split('.', 1)
            out[f'text_encoder.encoder.layer.{int(layer) + fusion}.{tail}'] \
                = v
        elif head == 'itc_head':
            out[rest] = v
        elif head == 'ta_head':
            out[f'ta_head.{rest[len("layers.0."):]}'] = v
    return out


def test_original_ta_checkpoint_into_ta_and_nlvr_models(tmp_path):
    from test_nlvr_model import tiny_cfg
    torch.manual_seed(0)
    ta = perturb(MODELS.build(ta_cfg()))
    original = to_original_ta(ta.state_dict())
    assert 'ta_head.weight' in original and 'temp' in original
    path = str(tmp_path / 'pretrain_model_nlvr.pth')
    torch.save({'model': original}, path)
    again = MODELS.build(ta_cfg())
    report = load_checkpoint_to_model(again, path, strict=True,
                                      logger='silent')
    assert not report.missing and not report.unexpected
    for k, v in ta.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k
    # NLVR2 fine-tuning starts from it: classifier new, TA parts unused,
    # momentum branch = the loaded online weights (not a random teacher)
    nlvr = MODELS.build(tiny_cfg())
    report = load_checkpoint_to_model(nlvr, path, strict=True,
                                      logger='silent')
    assert all(k.startswith('cls_head') for k in report.missing)
    assert sorted(report.unexpected) == [
        'itc_head.temp', 'itc_head.text_proj.bias',
        'itc_head.text_proj.weight', 'itc_head.vision_proj.bias',
        'itc_head.vision_proj.weight', 'ta_head.layers.0.bias',
        'ta_head.layers.0.weight']
    assert report.momentum_from_online
    sd = nlvr.state_dict()
    for k in ('neck.encoder.layer.3.crossattention.self.value.weight',
              'vision_backbone.blocks.1.attn.qkv.weight'):
        mk = k.replace('.', '_m.', 1)
        assert torch.equal(sd[k], ta.state_dict()[k])
        assert torch.equal(sd[mk], sd[k])


def test_text_assignment_weights_are_row_softmax_without_self():
    feat = torch.nn.functional.normalize(torch.tensor(
        [[1., 0.], [0.8, 0.6], [0., 1.]]), dim=-1)
    w = image_similarity_weights(feat, temp=0.5)
    sim = feat @ feat.t() / 0.5
    row0 = torch.exp(sim[0]) / torch.exp(sim[0]).sum()
    torch.testing.assert_close(w[0], torch.tensor([0., row0[1], row0[2]]))
    assert torch.equal(w.diag(), torch.zeros(3))
    # rows (not columns) sum to one before the diagonal is zeroed
    torch.testing.assert_close(
        w.sum(1) + torch.softmax(sim, 1).diag(), torch.ones(3))
