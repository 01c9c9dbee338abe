"""ViT image encoder with ALBEF's settings (ViT-B/16, qkv bias, LN eps 1e-6),
built from timm's ``PatchEmbed`` and ``Block``.

Parameter names are timm's, which are ALBEF's ``visual_encoder.*`` keys one
to one (``patch_embed.proj``, ``blocks.i.attn.qkv``, ``blocks.i.mlp.fc1``
...). timm's ``Attention`` has the ``fused_attn`` switch and ``attn_drop``
module that :class:`AttentionCapture` needs for ITC-mode Grad-CAM.
"""
import math
from functools import partial
from typing import Optional

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from timm.layers import PatchEmbed
from timm.models.vision_transformer import Attention, Block
from torch import nn

from albef_mm.registry import MODELS


class ViTAttention(Attention):
    """timm's attention (``qkv``, ``proj``; SDPA while ``fused_attn``) whose
    explicit path - the one :class:`AttentionCapture` switches to - scales
    the scores after the product, ``(q @ kᵀ) * scale`` as ALBEF, where
    timm scales ``q`` first (not bit-equal unless the head width is a power
    of 4)."""

    def forward(self, x: torch.Tensor, attn_mask=None,
                is_causal: bool = False) -> torch.Tensor:
        if self.fused_attn:
            return super().forward(x, attn_mask, is_causal)
        if attn_mask is not None or is_causal:
            raise NotImplementedError("ALBEF's ViT attends without a mask")
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        probs = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        out = (self.attn_drop(probs) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(out))


class ViTBlock(Block):
    """timm's pre-norm block (``norm1``, ``attn``, ``norm2``, ``mlp``;
    exact GELU) with a LayerNorm epsilon and ALBEF's dropout arguments."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float,
                 qkv_bias: bool, eps: float, drop: float, attn_drop: float,
                 drop_path: float):
        super().__init__(dim, num_heads, mlp_ratio, qkv_bias,
                         proj_drop=drop, attn_drop=attn_drop,
                         drop_path=drop_path,
                         norm_layer=partial(nn.LayerNorm, eps=eps),
                         attn_layer=ViTAttention)


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
        # img_size=None: the patch count is checked in ``forward`` with a
        # message that names the fix.
        self.patch_embed = PatchEmbed(None, patch_size, in_channels,
                                      embed_dims)
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
        x = self.patch_embed(images)
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
