"""BERT transformer layer pieces shared by the text encoder, the fusion neck
and the VQA answer decoder.

Sub-module and parameter names follow HuggingFace BERT (``attention.self.
query``, ``crossattention.output.LayerNorm`` ...) so that a
``bert-base-uncased`` state dict and ALBEF's ``xbert`` checkpoints map onto
these modules by name. Attention runs through
``F.scaled_dot_product_attention``; an explicit path computes the
probabilities (Grad-CAM's :class:`AttentionCapture` switches to it).
"""
import math
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

# Additive mask values of the original code: xbert's own self-attention mask
# uses -10000; transformers 4.8.1 ``invert_attention_mask`` uses -1e9 in
# float32 (-1e4 in half precision) for cross-attention masks.
SELF_ATTN_MASK_VALUE = -10000.0
CROSS_ATTN_MASK_VALUE = -1e9


def additive_mask(mask: torch.Tensor, dtype: torch.dtype,
                  value: float) -> torch.Tensor:
    """Turn a 0/1 key mask ``[B, Lk]`` (or ``[B, Lq, Lk]``) into the additive
    ``[B, 1, 1|Lq, Lk]`` mask the attention modules take."""
    if mask.dim() == 2:
        mask = mask[:, None, None, :]
    elif mask.dim() == 3:
        mask = mask[:, None, :, :]
    value = max(value, torch.finfo(dtype).min)
    return (1.0 - mask.to(dtype)) * value


def causal_additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Decoder self-attention mask: causal AND padding, additive -10000."""
    length = mask.size(1)
    causal = torch.tril(
        torch.ones(length, length, device=mask.device, dtype=mask.dtype))
    return additive_mask(causal[None] * mask[:, None, :], dtype,
                         SELF_ATTN_MASK_VALUE)


class BertSelfAttention(nn.Module):
    """Multi-head attention with HF names ``query``, ``key``, ``value``.

    Args:
        hidden_size (int): Width of the query stream.
        num_heads (int): Attention heads.
        kv_width (int): Input width of the key/value projections (the image
            width for cross-attention).
        attn_drop (float): Dropout on the attention probabilities.

    Attributes:
        fused_attn (bool): Attend through SDPA (True, the default); False
            computes the probabilities explicitly and passes them through
            ``attn_drop`` (set by :class:`AttentionCapture`).
        explicit_dropout_on_cpu (bool): Training with attention dropout on
            CPU tensors computes the softmax explicitly instead of through
            SDPA (same dropout draws, faster there). True by default; False
            always uses SDPA while ``fused_attn`` is set.
    """

    def __init__(self, hidden_size: int, num_heads: int, kv_width: int,
                 attn_drop: float = 0.0):
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f'hidden_size {hidden_size} is not a multiple of '
                             f'num_heads {num_heads}')
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(kv_width, hidden_size)
        self.value = nn.Linear(kv_width, hidden_size)
        self.attn_drop = nn.Dropout(attn_drop)
        self.fused_attn = True
        self.explicit_dropout_on_cpu = True

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, hidden: torch.Tensor, kv: Optional[torch.Tensor] = None,
                mask: Optional[torch.Tensor] = None,
                kv_proj: Optional[Sequence[torch.Tensor]] = None
                ) -> torch.Tensor:
        """Attend from ``hidden`` to ``kv`` (itself when None).

        ``mask`` is additive, broadcastable to ``[B, H, Lq, Lk]``.
        ``kv_proj`` optionally gives already projected and head-split
        ``(key, value)`` (re-used cross-attention keys in retrieval).
        """
        q = self._split(self.query(hidden))
        if kv_proj is not None:
            k, v = kv_proj
        else:
            src = hidden if kv is None else kv
            k, v = self._split(self.key(src)), self._split(self.value(src))
        drop = self.attn_drop.p if self.training else 0.0
        if not self.fused_attn or (drop > 0 and q.device.type == 'cpu'
                                   and self.explicit_dropout_on_cpu):
            # CPU SDPA has no kernel with dropout: its fallback scales the
            # transposed keys (a strided copy of every key) before the
            # product; the explicit form scales the scores, as the original.
            context = self._explicit_attention(q, k, v, mask)
        else:
            if mask is not None:
                mask = mask.to(q.dtype)
            context = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=drop)
        b, _, n, _ = context.shape
        return context.transpose(1, 2).reshape(b, n, -1)

    def _explicit_attention(self, q, k, v, mask) -> torch.Tensor:
        """softmax(q·kᵀ/√d + mask), ``attn_drop`` (where a capture hooks
        in), · v."""
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores + mask
        return self.attn_drop(scores.softmax(dim=-1)) @ v

    def project_kv(self, kv: torch.Tensor):
        """Key/value projections of ``kv``, head-split, for re-use."""
        return self._split(self.key(kv)), self._split(self.value(kv))


class BertSelfOutput(nn.Module):
    """Projection + dropout + residual + post-LayerNorm (HF ``dense``,
    ``LayerNorm``)."""

    def __init__(self, hidden_size: int, in_size: int, eps: float,
                 drop: float):
        super().__init__()
        self.dense = nn.Linear(in_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=eps)
        self.dropout = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    """Attention block (``self`` + ``output``) of a BERT layer."""

    def __init__(self, hidden_size: int, num_heads: int, kv_width: int,
                 eps: float, drop: float, attn_drop: float):
        super().__init__()
        self.self = BertSelfAttention(hidden_size, num_heads, kv_width,
                                      attn_drop)
        self.output = BertSelfOutput(hidden_size, hidden_size, eps, drop)

    def forward(self, hidden, kv=None, mask=None, kv_proj=None):
        return self.output(self.self(hidden, kv, mask, kv_proj), hidden)


class BertLayer(nn.Module):
    """One BERT layer; a fusion layer also owns ``crossattention``.

    Order inside a fusion layer: self-attention → cross-attention → FFN,
    each with residual and post-LayerNorm (as ALBEF's xbert).

    Args:
        hidden_size (int): Width of the text stream.
        num_heads (int): Attention heads.
        intermediate_size (int): FFN width.
        cross_attention (bool): Whether the layer cross-attends.
        encoder_width (int): Width of the cross-attended states.
        layer_norm_eps (float): LayerNorm epsilon (1e-12 in BERT).
        hidden_dropout (float): Dropout after projections.
        attn_dropout (float): Dropout on attention probabilities.
    """

    def __init__(self, hidden_size: int = 768, num_heads: int = 12,
                 intermediate_size: int = 3072, cross_attention: bool = False,
                 encoder_width: int = 768, layer_norm_eps: float = 1e-12,
                 hidden_dropout: float = 0.1, attn_dropout: float = 0.1):
        super().__init__()
        self.attention = BertAttention(hidden_size, num_heads, hidden_size,
                                       layer_norm_eps, hidden_dropout,
                                       attn_dropout)
        self.has_cross_attention = cross_attention
        if cross_attention:
            self.crossattention = BertAttention(hidden_size, num_heads,
                                                encoder_width, layer_norm_eps,
                                                hidden_dropout, attn_dropout)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(hidden_size, intermediate_size)
        self.output = BertSelfOutput(hidden_size, intermediate_size,
                                     layer_norm_eps, hidden_dropout)

    def forward(self, hidden: torch.Tensor, self_mask: Optional[torch.Tensor],
                encoder_states: Optional[torch.Tensor] = None,
                cross_mask: Optional[torch.Tensor] = None,
                cross_kv: Optional[Sequence[torch.Tensor]] = None
                ) -> torch.Tensor:
        hidden = self.attention(hidden, mask=self_mask)
        if self.has_cross_attention:
            if encoder_states is None and cross_kv is None:
                raise ValueError('A fusion layer needs encoder (image) states')
            hidden = self.crossattention(hidden, encoder_states, cross_mask,
                                         cross_kv)
        # BERT's "gelu" is the exact erf form.
        ffn = F.gelu(self.intermediate.dense(hidden))
        return self.output(ffn, hidden)


class BertLayerStack(nn.Module):
    """A ``layer`` ModuleList of :class:`BertLayer` sharing one config.

    Args:
        num_layers (int): Number of layers.
        cross_attention (bool): Whether every layer cross-attends.
        **layer_kwargs: Passed to :class:`BertLayer`.
    """

    def __init__(self, num_layers: int, cross_attention: bool = False,
                 **layer_kwargs):
        super().__init__()
        self.layer = nn.ModuleList([
            BertLayer(cross_attention=cross_attention, **layer_kwargs)
            for _ in range(num_layers)
        ])
        self.with_cp = False

    def forward(self, hidden: torch.Tensor, self_mask: Optional[torch.Tensor],
                encoder_states: Union[None, torch.Tensor,
                                      List[torch.Tensor]] = None,
                cross_masks: Union[None, torch.Tensor,
                                   List[Optional[torch.Tensor]]] = None,
                cross_kv: Optional[Sequence[Sequence[torch.Tensor]]] = None
                ) -> torch.Tensor:
        """Run all layers. A list of encoder states (NLVR2) is cycled: layer
        ``i`` attends to element ``i mod len(list)``. ``cross_kv`` (one
        ``(key, value)`` per layer, projected and head-split, e.g. by
        ``project_kv``) replaces the encoder states' projections."""
        states = encoder_states
        masks = cross_masks
        if not isinstance(states, (list, tuple)):
            states, masks = [states], [masks]
        elif not isinstance(masks, (list, tuple)):
            masks = [masks] * len(states)
        for i, layer in enumerate(self.layer):
            j = i % len(states)
            kv = None if cross_kv is None else cross_kv[i]
            if self.with_cp and self.training and hidden.requires_grad:
                hidden = torch.utils.checkpoint.checkpoint(
                    layer, hidden, self_mask, states[j], masks[j], kv,
                    use_reentrant=False)
            else:
                hidden = layer(hidden, self_mask, states[j], masks[j], kv)
        return hidden
