"""BERT text backbone: embeddings + the text-only layers of ALBEF."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import nn

from albef_mm.registry import MODELS
from ..layers import BertLayerStack, additive_mask, init_bert_weights
from ..layers.bert_layer import SELF_ATTN_MASK_VALUE


class BertEmbeddings(nn.Module):
    """Word + position + token-type embeddings, LayerNorm, dropout (HF
    names). All token types are 0 in ALBEF."""

    def __init__(self, vocab_size: int, hidden_size: int,
                 max_position_embeddings: int, type_vocab_size: int,
                 layer_norm_eps: float, dropout: float, pad_token_id: int = 0):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden_size,
                                            padding_idx=pad_token_id)
        self.position_embeddings = nn.Embedding(max_position_embeddings,
                                                hidden_size)
        self.token_type_embeddings = nn.Embedding(type_vocab_size,
                                                  hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer(
            'position_ids',
            torch.arange(max_position_embeddings).unsqueeze(0),
            persistent=False)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        length = input_ids.size(1)
        if length > self.position_ids.size(1):
            raise ValueError(
                f'Text of {length} tokens is longer than '
                f'max_position_embeddings={self.position_ids.size(1)}; '
                'truncate it in the tokenizer (max_length).')
        emb = self.word_embeddings(input_ids)
        emb = emb + self.token_type_embeddings(torch.zeros_like(input_ids))
        emb = emb + self.position_embeddings(self.position_ids[:, :length])
        return self.dropout(self.LayerNorm(emb))


@MODELS.register_module()
class BertTextEncoder(BaseModule):
    """ALBEF's unimodal text encoder: BERT embeddings + the first
    ``num_layers`` BERT layers (self-attention + FFN, no cross-attention).

    State-dict names: ``embeddings.*`` and ``encoder.layer.{i}.*``, i.e. HF
    BERT's ``bert.embeddings.*`` / ``bert.encoder.layer.{i}.*`` without the
    ``bert.`` prefix.

    Args:
        vocab_size (int): Vocabulary size (30522 for bert-base-uncased).
        hidden_size (int): Width (768).
        num_layers (int): Text layers (6 = ALBEF's ``fusion_layer``).
        num_heads (int): Attention heads.
        intermediate_size (int): FFN width.
        max_position_embeddings (int): Longest text.
        type_vocab_size (int): Token types (2; only type 0 is used).
        layer_norm_eps (float): LayerNorm epsilon.
        hidden_dropout (float): Dropout after projections/embeddings.
        attn_dropout (float): Attention dropout.
        pad_token_id (int): Padding id.
        init_std (float): Std of the random init.
        with_cp (bool): Activation checkpointing per layer (saves memory,
            costs a second forward of each layer in backward).
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self, vocab_size: int = 30522, hidden_size: int = 768,
                 num_layers: int = 6, num_heads: int = 12,
                 intermediate_size: int = 3072,
                 max_position_embeddings: int = 512, type_vocab_size: int = 2,
                 layer_norm_eps: float = 1e-12, hidden_dropout: float = 0.1,
                 attn_dropout: float = 0.1, pad_token_id: int = 0,
                 init_std: float = 0.02, with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.hidden_size = hidden_size
        self.vocab_size = vocab_size
        self.init_std = init_std
        self.embeddings = BertEmbeddings(vocab_size, hidden_size,
                                         max_position_embeddings,
                                         type_vocab_size, layer_norm_eps,
                                         hidden_dropout, pad_token_id)
        self.encoder = BertLayerStack(
            num_layers, cross_attention=False, hidden_size=hidden_size,
            num_heads=num_heads, intermediate_size=intermediate_size,
            layer_norm_eps=layer_norm_eps, hidden_dropout=hidden_dropout,
            attn_dropout=attn_dropout)
        self.encoder.with_cp = with_cp
        init_bert_weights(self, init_std)

    @property
    def layer(self) -> nn.ModuleList:
        return self.encoder.layer

    def init_weights(self):
        if self.init_cfg is None:
            init_bert_weights(self, self.init_std)
        else:
            super().init_weights()

    def forward(self, input_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> torch.Tensor:
        """``[B, L]`` ids and 0/1 mask → hidden states ``[B, L, D]``."""
        hidden = self.embeddings(input_ids)
        mask = additive_mask(attention_mask, hidden.dtype,
                             SELF_ATTN_MASK_VALUE)
        return self.encoder(hidden, mask)
