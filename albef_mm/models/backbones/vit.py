"""ViT image encoder with ALBEF's settings (ViT-B/16, qkv bias, LN eps 1e-6).

Own blocks rather than timm's so that a block can keep its attention
probabilities and their gradient (ITC-mode Grad-CAM) and so that parameter
names match ALBEF's ``visual_encoder.*`` keys one to one.
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import nn

from albef_mm.registry import MODELS


class ViTAttention(nn.Module):
    """Multi-head self-attention (``qkv``, ``proj``)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool,
                 attn_drop: float, proj_drop: float):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.save_attention = False
        self.attention_map: Optional[torch.Tensor] = None
        self.attention_gradients: Optional[torch.Tensor] = None

    def _save_grad(self, grad):
        self.attention_gradients = grad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        drop = self.attn_drop if self.training else 0.0
        if self.save_attention:
            probs = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
            self.attention_map = probs
            if probs.requires_grad:
                probs.register_hook(self._save_grad)
            out = F.dropout(probs, drop, self.training) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        out = out.transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(out))


class DropPath(nn.Module):
    """Stochastic depth per sample (0 in every ALBEF model)."""

    def __init__(self, prob: float = 0.0):
        super().__init__()
        self.prob = prob

    def forward(self, x):
        if self.prob == 0.0 or not self.training:
            return x
        keep = 1 - self.prob
        mask = x.new_empty((x.shape[0], ) + (1, ) * (x.dim() - 1))
        return x * mask.bernoulli_(keep) / keep


class ViTBlock(nn.Module):
    """Pre-norm transformer block (``norm1``, ``attn``, ``norm2``, ``mlp``)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float,
                 qkv_bias: bool, eps: float, drop: float, attn_drop: float,
                 drop_path: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = ViTAttention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, hidden)
        self.mlp.fc2 = nn.Linear(hidden, dim)
        self.mlp_drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        h = self.mlp_drop(F.gelu(self.mlp.fc1(self.norm2(x))))
        return x + self.drop_path(self.mlp_drop(self.mlp.fc2(h)))


@MODELS.register_module()
class ALBEFViT(BaseModule):
    """Vision Transformer returning the full token sequence.

    Output: ``[B, 1 + (img_size / patch_size)^2, embed_dims]`` after the final
    LayerNorm (CLS first, no pooling, no classifier).

    Args:
        img_size (int): Input resolution (256 pre-training, 384 fine-tuning).
        patch_size (int): Patch size (16).
        in_channels (int): Image channels.
        embed_dims (int): Width (768).
        num_layers (int): Blocks (12).
        num_heads (int): Heads (12).
        mlp_ratio (float): FFN expansion (4).
        qkv_bias (bool): Bias in the qkv projection (True).
        layer_norm_eps (float): LayerNorm epsilon (1e-6).
        drop_rate (float): Dropout (0 in ALBEF).
        attn_drop_rate (float): Attention dropout (0 in ALBEF).
        drop_path_rate (float): Stochastic depth (0 in ALBEF).
        with_cp (bool): Activation checkpointing per block to save memory.
        pretrained (str, optional): A DeiT/timm-style ViT checkpoint (local
            file or URL) loaded by :meth:`init_weights`, with its position
            embedding interpolated to ``img_size``; classifier keys are
            ignored and every other missing/unexpected key is reported.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self, img_size: int = 256, patch_size: int = 16,
                 in_channels: int = 3, embed_dims: int = 768,
                 num_layers: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 layer_norm_eps: float = 1e-6, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 with_cp: bool = False, pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if img_size % patch_size:
            raise ValueError(f'img_size {img_size} is not a multiple of '
                             f'patch_size {patch_size}')
        self.img_size = img_size
        self.patch_size = patch_size
        self.embed_dims = embed_dims
        self.num_patches = (img_size // patch_size) ** 2
        self.with_cp = with_cp
        self.pretrained = pretrained
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(in_channels, embed_dims,
                                          kernel_size=patch_size,
                                          stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.num_patches + 1, embed_dims))
        self.pos_drop = nn.Dropout(drop_rate)
        rates = [drop_path_rate * i / max(num_layers - 1, 1)
                 for i in range(num_layers)]
        self.blocks = nn.ModuleList([
            ViTBlock(embed_dims, num_heads, mlp_ratio, qkv_bias,
                     layer_norm_eps, drop_rate, attn_drop_rate, rates[i])
            for i in range(num_layers)
        ])
        self.norm = nn.LayerNorm(embed_dims, eps=layer_norm_eps)
        self._random_init()

    def _random_init(self):
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def init_weights(self):
        if self.pretrained:
            self.load_pretrained(self.pretrained)
        elif self.init_cfg is not None:
            super().init_weights()

    def load_pretrained(self, path: str) -> None:
        """Load a DeiT/timm ViT checkpoint (see ``pretrained``)."""
        from albef_mm.checkpoint import interpolate_pos_embed, load_any
        state = load_any(path)
        state = state.get('model', state)
        state = {k: v for k, v in state.items() if not k.startswith('head')}
        if 'pos_embed' in state:
            state['pos_embed'] = interpolate_pos_embed(
                state['pos_embed'], self.num_patches)
        result = self.load_state_dict(state, strict=False)
        print_log(f'Loaded ViT weights from {path}; missing keys: '
                  f'{result.missing_keys}; unexpected keys: '
                  f'{result.unexpected_keys}', logger='current')
        if result.missing_keys:
            raise KeyError(f'{path} lacks ViT weights: {result.missing_keys}')

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed.proj(images).flatten(2).transpose(1, 2)
        if x.size(1) != self.num_patches:
            side = int(math.sqrt(self.num_patches)) * self.patch_size
            raise ValueError(
                f'Images of {tuple(images.shape[-2:])} px give {x.size(1)} '
                f'patches but the ViT is built for {side} px '
                f'({self.num_patches} patches); resize the images or build '
                'the model with a matching img_size (checkpoints interpolate '
                'the position embedding when loaded).')
        cls = self.cls_token.expand(x.size(0), -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed
        x = self.pos_drop(x)
        for blk in self.blocks:
            if self.with_cp and self.training and x.requires_grad:
                x = torch.utils.checkpoint.checkpoint(
                    blk, x, use_reentrant=False)
            else:
                x = blk(x)
        return self.norm(x)
