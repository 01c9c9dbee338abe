"""The VQA answer decoder: a causal BERT with cross-attention to the fused
question states and a language-modelling head (ALBEF's ``text_decoder``)."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from albef_mm.registry import MODELS
from ..backbones.bert_text import BertEmbeddings
from ..layers import BertLayerStack, additive_mask, init_bert_weights
from ..layers.bert_layer import CROSS_ATTN_MASK_VALUE, SELF_ATTN_MASK_VALUE
from .mlm_head import MLMPredictions

KV = Tuple[torch.Tensor, torch.Tensor]


def causal_mask_with_past(mask: torch.Tensor, past: int, length: int,
                          dtype: torch.dtype) -> torch.Tensor:
    """Additive self-attention mask ``[B, 1, length, past + length]`` for
    queries at positions ``past .. past+length-1``: key ``j`` is visible to
    query ``i`` when ``j <= past + i`` and ``mask[:, j]`` is 1 (the original
    decoder's causal AND padding mask, -10000 where hidden)."""
    total = past + length
    key_pos = torch.arange(total, device=mask.device)
    query_pos = torch.arange(past, total, device=mask.device)
    causal = (key_pos[None, :] <= query_pos[:, None]).to(mask.dtype)
    return additive_mask(causal[None] * mask[:, None, :total], dtype,
                         SELF_ATTN_MASK_VALUE)


@MODELS.register_module()
class VQADecoderHead(BaseModule):
    """Answer decoder of ALBEF's VQA model.

    Word/position embeddings, ``num_layers`` BERT layers with causal
    self-attention and cross-attention to the question's fused states, and
    the MLM-style prediction head whose decoder weight is tied to the word
    embeddings (xbert's ``BertLMHeadModel``). Token 0 of an answer is
    ``[CLS]`` (the start token); answers end with an explicit ``[SEP]``.

    State-dict names: ``embeddings.*``, ``encoder.layer.{i}.*`` (HF BERT
    layer names with ``crossattention.*``), ``predictions.*`` (HF
    ``cls.predictions.*``).

    Config keys (args):
        vocab_size (int): Vocabulary (30522).
        hidden_size (int): Width (768).
        num_layers (int): Decoder layers (6).
        num_heads (int): Attention heads.
        intermediate_size (int): FFN width.
        max_position_embeddings (int): Longest answer.
        type_vocab_size (int): Token types (only type 0 is used).
        encoder_width (int, optional): Width of the question states
            (defaults to ``hidden_size``).
        layer_norm_eps (float): LayerNorm epsilon.
        hidden_dropout (float): Dropout after projections/embeddings.
        attn_dropout (float): Attention dropout.
        pad_token_id (int): ``[PAD]`` id; padded targets are ignored.
        init_std (float): Std of the random init.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self, vocab_size: int = 30522, hidden_size: int = 768,
                 num_layers: int = 6, num_heads: int = 12,
                 intermediate_size: int = 3072,
                 max_position_embeddings: int = 512, type_vocab_size: int = 2,
                 encoder_width: Optional[int] = None,
                 layer_norm_eps: float = 1e-12, hidden_dropout: float = 0.1,
                 attn_dropout: float = 0.1, pad_token_id: int = 0,
                 init_std: float = 0.02, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.vocab_size = vocab_size
        self.pad_token_id = pad_token_id
        self.init_std = init_std
        self.embeddings = BertEmbeddings(vocab_size, hidden_size,
                                         max_position_embeddings,
                                         type_vocab_size, layer_norm_eps,
                                         hidden_dropout, pad_token_id)
        self.encoder = BertLayerStack(
            num_layers, cross_attention=True, hidden_size=hidden_size,
            num_heads=num_heads, intermediate_size=intermediate_size,
            encoder_width=encoder_width or hidden_size,
            layer_norm_eps=layer_norm_eps, hidden_dropout=hidden_dropout,
            attn_dropout=attn_dropout)
        self.predictions = MLMPredictions(hidden_size, vocab_size,
                                          layer_norm_eps)
        init_bert_weights(self, init_std)
        self.predictions.decoder.weight = \
            self.embeddings.word_embeddings.weight

    @property
    def layer(self) -> nn.ModuleList:
        return self.encoder.layer

    def init_weights(self):
        if self.init_cfg is None:
            init_bert_weights(self, self.init_std)
        else:
            super().init_weights()

    # ------------------------------------------------------------ pieces
    def embed(self, input_ids: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Embeddings of tokens at positions ``offset ..`` (the sum order
        of :class:`BertEmbeddings`)."""
        emb = self.embeddings
        length = input_ids.size(1)
        if offset + length > emb.position_ids.size(1):
            raise ValueError(
                f'Answer of {offset + length} tokens is longer than '
                f'max_position_embeddings={emb.position_ids.size(1)}')
        x = emb.word_embeddings(input_ids)
        x = x + emb.token_type_embeddings(torch.zeros_like(input_ids))
        x = x + emb.position_embeddings(
            emb.position_ids[:, offset:offset + length])
        return emb.dropout(emb.LayerNorm(x))

    def project_question(self, question_states: torch.Tensor) -> List[KV]:
        """Cross-attention keys/values of every layer, head-split, computed
        once per question (re-used by all answers of that question)."""
        return [layer.crossattention.self.project_kv(question_states)
                for layer in self.layer]

    @staticmethod
    def cross_mask(question_mask: torch.Tensor,
                   dtype: torch.dtype) -> torch.Tensor:
        """Additive cross-attention mask over question tokens (-1e9, as
        transformers' ``invert_attention_mask`` in float32)."""
        return additive_mask(question_mask, dtype, CROSS_ATTN_MASK_VALUE)

    def decode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
               cross_kv: Sequence[KV], cross_mask: torch.Tensor,
               rows: Optional[torch.Tensor] = None,
               past: Optional[Sequence[KV]] = None,
               return_past: bool = False):
        """Hidden states of the answer tokens.

        Args:
            input_ids: ``[N, L]`` tokens at positions ``P .. P+L-1`` where
                ``P`` is the length of ``past`` (0 without it).
            attention_mask: ``[N, P+L]`` 0/1 mask over past + new tokens.
            cross_kv: Per layer ``(key, value)`` of the question states,
                ``[Q, heads, Lq, head_dim]``.
            cross_mask: Additive question mask ``[Q, 1, 1, Lq]``.
            rows: ``[N]`` question row of each answer row (None: row i
                uses question i).
            past: Per layer self-attention ``(key, value)`` of the first
                ``P`` positions, ``[N, heads, P, head_dim]``.
            return_past: Also return the self-attention keys/values of all
                ``P+L`` positions.
        """
        offset = 0 if past is None else past[0][0].size(2)
        hidden = self.embed(input_ids, offset)
        self_mask = causal_mask_with_past(attention_mask, offset,
                                          input_ids.size(1), hidden.dtype)
        if rows is not None:
            cross_mask = cross_mask[rows]
        new_past = []
        for i, layer in enumerate(self.layer):
            attn = layer.attention
            k, v = attn.self.project_kv(hidden)
            if past is not None:
                k = torch.cat([past[i][0], k], dim=2)
                v = torch.cat([past[i][1], v], dim=2)
            if return_past:
                new_past.append((k, v))
            hidden = attn(hidden, mask=self_mask, kv_proj=(k, v))
            ck, cv = cross_kv[i]
            if rows is not None:
                ck, cv = ck[rows], cv[rows]
            hidden = layer.crossattention(hidden, mask=cross_mask,
                                          kv_proj=(ck, cv))
            # BERT's "gelu" is the exact erf form.
            hidden = layer.output(F.gelu(layer.intermediate.dense(hidden)),
                                  hidden)
        return (hidden, new_past) if return_past else hidden

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                question_states: torch.Tensor, question_mask: torch.Tensor,
                rows: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Vocabulary logits ``[N, L, V]`` of every answer position
        (position ``t`` predicts token ``t+1``). ``rows`` maps answer rows to
        question rows (None: one answer per question)."""
        kv = self.project_question(question_states)
        mask = self.cross_mask(question_mask, question_states.dtype)
        hidden = self.decode(input_ids, attention_mask, kv, mask, rows)
        return self.predictions(hidden)

    # -------------------------------------------------------------- loss
    def targets(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Next-token targets ``[N, L-1]``: tokens 1.. with pads -> -100."""
        return input_ids[:, 1:].masked_fill(
            input_ids[:, 1:] == self.pad_token_id, -100)

    def answer_nll(self, logits: torch.Tensor, input_ids: torch.Tensor,
                   soft_labels: Optional[torch.Tensor] = None,
                   alpha: float = 0.0) -> torch.Tensor:
        """Per-answer loss ``[N]``: the summed token NLL of the shifted
        targets (no label smoothing), mixed with the summed soft
        cross-entropy against ``soft_labels`` ``[N, L-1, V]`` (momentum
        distillation): ``(1 - alpha) * nll + alpha * soft``."""
        shifted = logits[:, :-1].float()
        targets = self.targets(input_ids)
        nll = F.cross_entropy(shifted.reshape(-1, shifted.size(-1)),
                              targets.reshape(-1), ignore_index=-100,
                              reduction='none').view_as(targets).sum(1)
        if soft_labels is None:
            return nll
        soft = -torch.sum(F.log_softmax(shifted, dim=-1) * soft_labels, -1)
        soft = (soft * (targets != -100)).sum(1)
        return (1 - alpha) * nll + alpha * soft
