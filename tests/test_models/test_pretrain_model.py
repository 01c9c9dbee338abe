"""ALBEFPretrain: build from the real configs, forward modes, EMA."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from albef_mm.models.momentum import MomentumPairs
from albef_mm.registry import MODELS
from helpers import CONFIG_ROOT, tiny_pretrain_model_cfg


@pytest.fixture
def model():
    torch.manual_seed(0)
    return MODELS.build(tiny_pretrain_model_cfg())


def _batch(b=4, length=9):
    g = torch.Generator().manual_seed(1)
    images = torch.randn(b, 3, 64, 64, generator=g)
    ids = torch.randint(104, 512, (b, length), generator=g)
    ids[:, 0] = 101
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    ids[1, 6:] = 0
    return images, ids, mask


def test_full_size_pretrain_config_builds_with_210m_params():
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, '_base_', 'models',
                                   'albef_pretrain.py'))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    online = {id(p): p for n, p in model.named_parameters()
              if p.requires_grad}
    count = sum(p.numel() for p in online.values())
    frozen = sum(p.numel() for p in model.parameters()
                 if not p.requires_grad)
    print(f'\nALBEF pre-training model: {count / 1e6:.1f} M online '
          f'parameters, {frozen / 1e6:.1f} M momentum parameters')
    assert 205e6 < count < 215e6
    assert model.itc_loss.image_queue.shape == (256, 65536)
    assert len(model.text_backbone.layer) == 6 and len(model.neck.layer) == 6
    assert model.vision_backbone.pos_embed.shape == (1, 257, 768)
    # momentum branch = online minus ITM head and temperature
    assert frozen == count - 768 * 2 - 2 - 1


def test_loss_predict_tensor_modes(model):
    images, ids, mask = _batch()
    losses = model(images, ids, mask, mode='loss')
    assert set(losses) == {'loss_itc', 'loss_itm', 'loss_mlm'}
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert model.itc_head.temp.grad is not None
    assert model.vision_backbone.cls_token.grad is not None
    assert all(p.grad is None for n, p in model.named_parameters()
               if n.startswith(('vision_backbone_m', 'neck_m')))
    samples = model(images, ids, mask, mode='predict')
    assert len(samples) == 4 and samples[0].image_feat.shape == (32, )
    assert 0 <= samples[0].itm_score <= 1
    feats = model(images, ids, mask, mode='tensor')
    assert feats['multimodal_embeds'].shape == (4, 9, 64)
    assert feats['image_embeds'].shape == (4, 17, 64)
    with pytest.raises(ValueError, match="mode must be"):
        model(images, ids, mask, mode='bogus')


def test_mlm_decoder_tied_in_both_branches(model):
    assert model.mlm_head.predictions.decoder.weight is \
        model.text_backbone.embeddings.word_embeddings.weight
    assert model.mlm_head_m.predictions.decoder.weight is \
        model.text_backbone_m.embeddings.word_embeddings.weight
    assert model.mlm_head_m.predictions.decoder.weight is not \
        model.mlm_head.predictions.decoder.weight


def test_momentum_update_is_ema_of_each_unique_pair(model):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    pairs = MomentumPairs(model.momentum_module_pairs())
    before_on = [p.detach().clone() for p in pairs.online]
    before_m = [p.detach().clone() for p in pairs.momentum]
    model.momentum_update()
    for p0, m0, m1 in zip(before_on, before_m, pairs.momentum):
        torch.testing.assert_close(m1, 0.995 * m0 + 0.005 * p0)
    # the tied word embedding / decoder weight is one pair, updated once
    ids = [id(p) for p in pairs.online]
    assert len(ids) == len(set(ids))
    names = {id(p): n for n, p in model.named_parameters()}
    assert sum('word_embeddings' in names[i] for i in ids) == 1
    assert any('vision_proj' in names[id(p)] for p in pairs.online)
    assert not any('itm_head' in names[id(p)] or 'temp' in names[id(p)]
                   for p in pairs.online)
    model.copy_params()
    for p, p_m in zip(pairs.online, pairs.momentum):
        assert torch.equal(p, p_m) and not p_m.requires_grad


def test_queue_pending_features_are_enqueued(model):
    images, ids, mask = _batch()
    model.itc_loss.queue_ptr[0] = 12
    model(images, ids, mask, mode='loss')
    feat_m = model._queue_pending[0]
    model.dequeue_and_enqueue()
    assert model.itc_loss.queue_ptr.item() == 0
    torch.testing.assert_close(model.itc_loss.image_queue[:, 12:], feat_m.T)
    assert model._queue_pending is None


def test_train_step_without_hooks_names_them(model):
    from mmengine.optim import OptimWrapper
    images, ids, mask = _batch()
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters()))
    data = dict(inputs=list((images * 50 + 120).clamp(0, 255).byte()))
    with pytest.raises(RuntimeError, match='MomentumUpdateHook'):
        model.train_step(data, wrapper)


def test_extract_feat_errors(model):
    with pytest.raises(ValueError, match='needs images'):
        model.extract_feat(mode='image')
    with pytest.raises(ValueError, match='needs text ids'):
        model.extract_feat(torch.zeros(1, 3, 64, 64), mode='text')
    with pytest.raises(ValueError, match='built for 64 px'):
        model.extract_feat(torch.zeros(1, 3, 96, 96), mode='image')


def _count_forwards(modules):
    """Forward-call counters on the given modules (a checkpointed layer
    runs its forward a second time during backward)."""
    counts = [0] * len(modules)
    for i, module in enumerate(modules):
        def hook(*_, i=i):
            counts[i] += 1
        module.register_forward_hook(hook)
    return counts


def test_activation_checkpointing_gives_the_same_loss_and_grads():
    results = []
    for with_cp in (False, True):
        torch.manual_seed(0)
        cfg = tiny_pretrain_model_cfg()
        for key in ('vision_backbone', 'text_backbone', 'neck'):
            cfg[key]['with_cp'] = with_cp
        m = MODELS.build(cfg)
        # the same ITM negatives and MLM masks in both runs
        m.generator = torch.Generator().manual_seed(0)
        images, ids, mask = _batch()
        # hooks on a module *inside* each checkpointed layer (the
        # recomputation re-enters the layer's forward, not its hooks)
        counted = {'vit': m.vision_backbone.blocks[0].attn.qkv,
                   'text': m.text_backbone.layer[0].intermediate.dense,
                   'neck': m.neck.layer[0].crossattention.self.query}
        counts = _count_forwards(list(counted.values()))
        loss = sum(m.loss(images, ids, mask).values())
        before = list(counts)
        loss.backward()
        recomputed = [a - b for a, b in zip(counts, before)]
        # Checkpointing must have run on every encoder: each layer's forward
        # is re-run in backward once per training forward that kept graph
        # (ViT: 1 online pass; text: ITC + MLM passes; neck: ITM + MLM).
        expected = [1, 2, 2] if with_cp else [0, 0, 0]
        assert recomputed == expected, (with_cp, dict(zip(counted,
                                                          recomputed)))
        results.append((loss.detach(),
                        m.vision_backbone.blocks[0].attn.qkv.weight.grad,
                        m.neck.layer[0].crossattention.self.key.weight.grad))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b)


def _rows_through(linear):
    """Rows fed to ``linear`` per call (a forward-hook log)."""
    rows = []
    linear.register_forward_hook(
        lambda _, inp, __: rows.append(inp[0].shape[0]))
    return rows


def test_image_kv_reuse_equals_the_reference_path_and_projects_once():
    """The step projects each fusion layer's image keys/values for the B
    images once (not 3B for ITM + B for MLM) and gives the same losses and
    gradients as the original's order of operations (the parity tool's
    reference)."""
    from parity.reference import without_kv_reuse
    results = []
    for reuse in (True, False):
        torch.manual_seed(0)
        m = MODELS.build(tiny_pretrain_model_cfg())
        if not reuse:
            without_kv_reuse(m)
        m.generator = torch.Generator().manual_seed(0)
        images, ids, mask = _batch()
        key_rows = _rows_through(m.neck.layer[1].crossattention.self.key)
        losses = m.loss(images, ids, mask)
        sum(losses.values()).backward()
        b = images.size(0)
        assert key_rows == ([b] if reuse else [3 * b, b]), (reuse, key_rows)
        results.append([losses[k].detach() for k in sorted(losses)] + [
            m.vision_backbone.blocks[0].attn.qkv.weight.grad,
            m.neck.layer[1].crossattention.self.key.weight.grad,
            m.neck.layer[0].crossattention.self.value.bias.grad])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_mlm_logits_at_masked_positions_only_equal_logits_everywhere():
    """Projecting only the masked positions onto the vocabulary gives the
    losses and gradients of projecting every position (the original)."""
    results = []
    for only in (True, False):
        torch.manual_seed(0)
        cfg = tiny_pretrain_model_cfg()
        cfg['mlm_head']['logits_at_labels_only'] = only
        m = MODELS.build(cfg)
        m.generator = torch.Generator().manual_seed(0)
        images, ids, mask = _batch()
        rows = _rows_through(m.mlm_head.predictions.decoder)
        rows_m = _rows_through(m.mlm_head_m.predictions.decoder)
        drawn = []
        mask_tokens = m.mlm_head.mask_tokens
        m.mlm_head.mask_tokens = lambda *a, **k: drawn.append(
            mask_tokens(*a, **k)) or drawn[-1]
        losses = m.loss(images, ids, mask)
        sum(losses.values()).backward()
        masked = int((drawn[0][1] != -100).sum())
        assert rows == rows_m
        if only:  # [N, D] rows of the N masked tokens
            assert 0 < masked < ids.numel() and rows == [masked], rows
        else:  # [B, L, D]: _rows_through records B
            assert rows == [ids.size(0)], rows
        results.append([losses[k].detach() for k in sorted(losses)] + [
            m.text_backbone.embeddings.word_embeddings.weight.grad,
            m.mlm_head.predictions.transform.dense.weight.grad,
            m.mlm_head.predictions.bias.grad,
            m.neck.layer[1].output.dense.weight.grad])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
