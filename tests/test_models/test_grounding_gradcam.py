"""Grad-CAM grounding: the head equals a direct autograd computation, the
attention capture is scoped, the model answers under no_grad without
touching parameter gradients."""
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from albef_mm.models.layers import AttentionCapture
from albef_mm.models.layers.bert_layer import (SELF_ATTN_MASK_VALUE,
                                               additive_mask)
from albef_mm.registry import MODELS
from helpers.tiny import CONFIG_ROOT, TINY_OVERRIDES, TINY_VOCAB


def grounding_cfg(mode='itm', layer=1):
    """``configs/albef/grounding_refcoco+.py``'s model at the tiny sizes."""
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef',
                                   'grounding_refcoco+.py'))
    overrides = {k: v for k, v in TINY_OVERRIDES.items() if k != 'mlm_head'}
    cfg.merge_from_dict(dict(model=overrides))
    cfg.merge_from_dict(dict(model=dict(
        gradcam_head=dict(mode=mode, layer=layer),
        text_backbone=dict(hidden_dropout=0., attn_dropout=0.),
        neck=dict(hidden_dropout=0., attn_dropout=0.),
        data_preprocessor=dict(tokenizer=dict(name_or_path=TINY_VOCAB)))))
    return cfg.model.to_dict()


def build(mode='itm', layer=1, seed=0):
    torch.manual_seed(seed)
    return MODELS.build(grounding_cfg(mode, layer)).eval()


def inputs(seed=1):
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(3, 3, 64, 64, generator=g)
    ids = torch.randint(104, 512, (3, 7), generator=g)
    ids[:, 0] = 101
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0  # padding
    mask[2, 3:] = 0
    ids[mask == 0] = 0
    return images, ids, mask


def split(x, heads):
    b, n, d = x.shape
    return x.view(b, n, heads, d // heads).transpose(1, 2)


def manual_itm_gradcam(model, images, ids, mask, layer_idx):
    """Fusion forward with the chosen layer's cross-attention written out,
    ``retain_grad`` on its probabilities, ``backward`` of the positive ITM
    logit, then the Grad-CAM formula."""
    image = model.vision_backbone(images)
    hidden = model.text_backbone(ids, mask)
    self_mask = additive_mask(mask, hidden.dtype, SELF_ATTN_MASK_VALUE)
    probs = None
    for i, layer in enumerate(model.neck.layer):
        if i != layer_idx:
            hidden = layer(hidden, self_mask, image, None)
            continue
        h1 = layer.attention(hidden, mask=self_mask)
        att = layer.crossattention.self
        q, k = split(att.query(h1), att.num_heads), split(att.key(image),
                                                           att.num_heads)
        v = split(att.value(image), att.num_heads)
        probs = (q @ k.transpose(-1, -2) / math.sqrt(att.head_dim)
                 ).softmax(-1)
        probs.retain_grad()
        ctx = (probs @ v).transpose(1, 2).reshape(h1.shape)
        h2 = layer.crossattention.output(ctx, h1)
        hidden = layer.output(F.gelu(layer.intermediate.dense(h2)), h2)
    logits = model.itm_head(hidden[:, 0])
    model.zero_grad()
    logits[:, 1].sum().backward()
    b, heads, length, n = probs.shape
    side = int(math.sqrt(n - 1))
    m = mask.view(b, 1, length, 1, 1).float()
    cam = probs.detach()[..., 1:].reshape(b, heads, length, side, side) * m
    grad = probs.grad[..., 1:].clamp(min=0).reshape(b, heads, length, side,
                                                     side) * m
    per_token = (cam * grad).mean(1)
    return per_token, per_token.mean(1), logits.detach()


def manual_itc_gradcam(model, images, ids, mask, block_idx):
    vit = model.vision_backbone
    x = vit.patch_embed.proj(images).flatten(2).transpose(1, 2)
    x = torch.cat([vit.cls_token.expand(x.size(0), -1, -1), x], 1)
    x = x + vit.pos_embed
    probs = None
    for i, blk in enumerate(vit.blocks):
        if i != block_idx:
            x = blk(x)
            continue
        a = blk.attn
        b, n, c = x.shape
        qkv = a.qkv(blk.norm1(x)).reshape(b, n, 3, a.num_heads,
                                          c // a.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        probs = (q @ k.transpose(-2, -1) * a.scale).softmax(-1)
        probs.retain_grad()
        out = a.proj((probs @ v).transpose(1, 2).reshape(b, n, c))
        x = x + out
        x = x + blk.mlp.fc2(F.gelu(blk.mlp.fc1(blk.norm2(x))))
    image = vit.norm(x)
    head = model.itc_head
    text = model.text_backbone(ids, mask)
    sim = F.normalize(head.vision_proj(image[:, 0]), dim=-1) @ \
        F.normalize(head.text_proj(text[:, 0]), dim=-1).t() / head.temp
    model.zero_grad()
    sim.diag().sum().backward()
    side = int(math.sqrt(probs.size(-1) - 1))
    cam = probs.detach()[:, :, 0, 1:].reshape(b, -1, side, side)
    grad = probs.grad[:, :, 0, 1:].reshape(b, -1, side, side).clamp(0)
    return (cam * grad).mean(1)


@pytest.mark.parametrize('layer', [0, 1])
def test_itm_gradcam_equals_direct_autograd(layer):
    model = build('itm', layer)
    images, ids, mask = inputs()
    per_token, gradcam, logits = manual_itm_gradcam(model, images, ids, mask,
                                                    layer)
    model.zero_grad(set_to_none=True)
    out = model.gradcam(images, ids, mask)
    assert out['gradcam'].shape == (3, 4, 4)
    assert out['per_token'].shape == (3, 7, 4, 4)
    torch.testing.assert_close(out['itm_logits'], logits, rtol=1e-5,
                               atol=1e-6)
    torch.testing.assert_close(out['per_token'], per_token, rtol=1e-5,
                               atol=1e-9)
    torch.testing.assert_close(out['gradcam'], gradcam, rtol=1e-5,
                               atol=1e-9)
    assert gradcam.abs().sum() > 0  # not a trivially zero map
    # padded tokens have zero maps; the average divides by the padded length
    assert out['per_token'][2, 3:].abs().sum() == 0
    torch.testing.assert_close(out['gradcam'][2],
                               out['per_token'][2].sum(0) / 7)


@pytest.mark.parametrize('block', [0, 1])
def test_itc_gradcam_equals_direct_autograd(block):
    model = build('itc', block)
    images, ids, mask = inputs()
    expected = manual_itc_gradcam(model, images, ids, mask, block)
    out = model.gradcam(images, ids, mask)
    assert 'per_token' not in out
    torch.testing.assert_close(out['gradcam'], expected, rtol=1e-5,
                               atol=1e-9)
    assert expected.abs().sum() > 0


def test_gradcam_under_no_grad_leaves_parameters_alone():
    model = build()
    images, ids, mask = inputs()
    with torch.no_grad():
        out = model.gradcam(images, ids, mask)
        samples = model(images, ids, mask, mode='predict')
        assert not torch.is_grad_enabled()  # restored after the Grad-CAM
    assert all(p.grad is None for p in model.parameters())
    assert out['gradcam'].abs().sum() > 0
    torch.testing.assert_close(samples[1].pred_heatmap, out['gradcam'][1])
    # frozen parameters: the maps still get their gradient
    for p in model.parameters():
        p.requires_grad_(False)
    torch.testing.assert_close(model.gradcam(images, ids, mask)['gradcam'],
                               out['gradcam'])


def _explicit_calls(module):
    """Calls of ``module``'s explicit path (its ``attn_drop``), counted."""
    calls = []
    module.attn_drop.register_forward_hook(lambda *_: calls.append(1))
    return calls


@pytest.mark.parametrize('mode', ['itm', 'itc'])
def test_capture_is_scoped_to_the_context(mode):
    model = build(mode, 1)
    attn = model.gradcam_attention()
    assert attn is (model.neck.layer[1].crossattention.self if mode == 'itm'
                    else model.vision_backbone.blocks[1].attn)
    calls = _explicit_calls(attn)
    images, ids, mask = inputs()
    model.gradcam(images, ids, mask)
    assert len(calls) == 1 and attn.fused_attn
    # outside a capture the fused SDPA path runs: no explicit call
    model.extract_feat(images, ids, mask)
    assert len(calls) == 1
    capture = AttentionCapture(attn)
    with pytest.raises(RuntimeError, match='boom'):
        with capture:
            assert not attn.fused_attn
            model.extract_feat(images, ids, mask)
            raise RuntimeError('boom')
    shape = (3, 2, 7, 17) if mode == 'itm' else (3, 2, 17, 17)
    assert capture.attention_map.shape == shape
    torch.testing.assert_close(capture.attention_map.sum(-1),
                               torch.ones(shape[:3]))
    # after the error: switch restored, hook gone, nothing captured
    assert attn.fused_attn and len(calls) == 2
    model.extract_feat(images, ids, mask)
    assert len(calls) == 2 and capture.attention_map.shape == shape
    with pytest.raises(TypeError, match='crossattention.self'):
        AttentionCapture(model.neck.layer[1])


def test_captured_vit_attention_equals_the_fused_path():
    """The ViT's explicit path (the capture's) and SDPA give the same
    block outputs; the captured probabilities are the softmax of
    (q @ kᵀ) * scale."""
    model = build('itc', 0)
    images = inputs()[0]
    fused = model.vision_backbone(images)
    attn = model.vision_backbone.blocks[0].attn
    with AttentionCapture(attn) as capture:
        explicit = model.vision_backbone(images)
    torch.testing.assert_close(explicit, fused, rtol=1e-5, atol=1e-6)
    x = model.vision_backbone.patch_embed(images)
    x = torch.cat([model.vision_backbone.cls_token.expand(3, -1, -1), x], 1)
    q, k, _ = attn.qkv(model.vision_backbone.blocks[0].norm1(
        x + model.vision_backbone.pos_embed)).reshape(
            3, 17, 3, 2, -1).permute(2, 0, 3, 1, 4)
    assert torch.equal(capture.attention_map,
                       ((q @ k.transpose(-2, -1)) * attn.scale).softmax(-1))


def test_layer_out_of_range_is_a_build_error():
    with pytest.raises(IndexError, match=r'gradcam_head.layer to 0..1'):
        build('itm', 2)
    with pytest.raises(ValueError, match="'itm' or 'itc'"):
        MODELS.build(dict(type='GradCAMHead', mode='gradient'))
    head = MODELS.build(dict(type='GradCAMHead'))
    assert (head.mode, head.layer) == ('itm', 2)
    assert MODELS.build(dict(type='GradCAMHead', mode='itc')).layer == 8


def test_checkpoint_layout_is_the_retrieval_one():
    model = build()
    retrieval = grounding_cfg()
    retrieval['type'] = 'ALBEFRetrieval'
    retrieval.pop('gradcam_head')
    other = MODELS.build(retrieval)
    assert set(model.state_dict()) == set(other.state_dict())
