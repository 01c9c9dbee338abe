"""The ViT built from timm's parts: ALBEF's parameter names, stochastic
depth, the explicit attention path Grad-CAM captures."""
import pytest
import torch
from conftest import oracle_fixture
from timm.layers import DropPath, PatchEmbed
from timm.models.vision_transformer import Block

from albef_mm.models.backbones.vit import ALBEFViT
from albef_mm.models.layers import AttentionCapture


def tiny_vit(**kwargs):
    return ALBEFViT(**dict(dict(img_size=64, patch_size=16, embed_dims=64,
                                num_layers=2, num_heads=2), **kwargs))


def test_parameter_names_are_the_original_visual_encoder_keys():
    original = torch.load(oracle_fixture('retrieval.pth'))['model']
    prefix = 'visual_encoder.'
    keys = {k[len(prefix):] for k in original if k.startswith(prefix)}
    vit = tiny_vit()
    assert set(vit.state_dict()) == keys
    assert isinstance(vit.patch_embed, PatchEmbed)
    assert all(isinstance(b, Block) for b in vit.blocks)
    block = vit.blocks[0]
    assert block.norm1.eps == 1e-6 and vit.norm.eps == 1e-6
    assert block.attn.qkv.bias is not None  # qkv_bias=True
    assert block.attn.fused_attn  # SDPA outside a capture


def test_drop_path_rates_rise_linearly_and_scale_kept_samples():
    vit = tiny_vit(num_layers=3, drop_path_rate=0.5)
    # block 0 has rate 0: no drop-path module at all
    assert [getattr(b.drop_path1, 'drop_prob', 0.0) for b in vit.blocks
            ] == pytest.approx([0.0, 0.25, 0.5])
    layer = vit.blocks[2].drop_path2
    assert isinstance(layer, DropPath)
    torch.manual_seed(0)
    x = torch.ones(4000, 2, 3)
    out = layer.train()(x)
    kept = out[:, 0, 0] != 0
    # a dropped sample is all zero, a kept one is x / (1 - p)
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 2.0))
    assert torch.equal(out[~kept], torch.zeros_like(out[~kept]))
    assert abs(kept.float().mean().item() - 0.5) < 0.03
    assert torch.equal(layer.eval()(x), x)


def test_captured_path_applies_attention_dropout_as_sdpa():
    """Capture during training: the explicit path draws the attention
    and projection dropout as the SDPA path does (same numbers), and SDPA
    is back on exit."""
    torch.manual_seed(0)
    vit = tiny_vit(attn_drop_rate=0.5, drop_rate=0.3).train()
    images = torch.randn(2, 3, 64, 64)
    attn = vit.blocks[1].attn
    torch.manual_seed(1)
    with AttentionCapture(attn) as capture:
        explicit = vit(images)
    assert attn.fused_attn and capture.attention_map.shape == (2, 2, 17, 17)
    torch.manual_seed(1)
    torch.testing.assert_close(explicit, vit(images), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        plain = vit.eval()(images)
    assert (plain - explicit).abs().max() > 1e-3  # dropout did act


def test_a_timm_vision_transformer_checkpoint_loads_and_agrees(tmp_path):
    """A timm ``VisionTransformer`` state dict (DeiT layout, classifier
    included) loads by name; at the same resolution the ViT computes
    timm's ``forward_features``, at another one the position embedding is
    resized."""
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(0)
    ref = VisionTransformer(img_size=32, patch_size=16, embed_dim=64,
                            depth=2, num_heads=2, num_classes=10).eval()
    path = str(tmp_path / 'deit.pth')
    torch.save({'model': ref.state_dict()}, path)
    vit = tiny_vit(img_size=32)
    vit.load_pretrained(path)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(vit.eval()(images),
                                   ref.forward_features(images))
    bigger = tiny_vit(img_size=64)
    bigger.load_pretrained(path)
    assert bigger.pos_embed.shape == (1, 17, 64)
    assert torch.equal(bigger.pos_embed[:, 0], ref.pos_embed[:, 0])
