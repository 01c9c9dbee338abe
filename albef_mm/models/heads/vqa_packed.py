"""Teacher-forced decoding of many answer candidates as one packed token
list (used by the cached answer ranking).

Every candidate row contributes only its real tokens after ``[CLS]``
(positions ``1 .. len-2``; position 0 is the shared start step whose
self-attention keys/values are given as ``past``). All position-wise work
(projections, LayerNorms, FFN, the vocabulary projection) runs on the
packed ``[T, D]`` token matrix, i.e. on large matrix products instead of
one small product per candidate length. Attention keeps its structure:

* self-attention runs per block of equal-length rows (contiguous in the
  packed layout), over ``[past ; own tokens]`` with the causal + padding
  mask of the original decoder;
* cross-attention groups the tokens by question (padded to the longest
  group) and attends to that question's projected keys/values, which are
  therefore never repeated per candidate.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F

from .vqa_decoder_head import KV, causal_mask_with_past


class PackedCandidates:
    """Layout of the packed tokens of candidate rows.

    Args:
        ids, mask: Candidate token ids / mask ``[N, L]``.
        rows: Question index of each candidate ``[N]``.
        lengths: True length of each candidate (``[CLS]`` included).
        num_questions: Number of questions.
        pad_token_id: ``[PAD]`` id (targets equal to it are ignored).
    """

    def __init__(self, ids: torch.Tensor, mask: torch.Tensor,
                 rows: torch.Tensor, lengths: torch.Tensor,
                 num_questions: int, pad_token_id: int):
        device = ids.device
        self.blocks: List[Tuple[int, int, torch.Tensor, int]] = []
        tokens, targets, positions, owner = [], [], [], []
        start = 0
        for length in torch.unique(lengths).tolist():
            if length < 3:  # nothing after the first answer token
                continue
            sel = (lengths == length).nonzero().squeeze(1)
            n, span = sel.numel(), length - 2
            self.blocks.append((start, n, mask[sel, :length - 1], span))
            tokens.append(ids[sel, 1:length - 1].reshape(-1))
            targets.append(ids[sel, 2:length].reshape(-1))
            positions.append(torch.arange(1, length - 1, device=device
                                          ).repeat(n))
            owner.append(sel.repeat_interleave(span))
            start += n * span
        self.num_tokens = start
        empty = torch.zeros(0, dtype=torch.long, device=device)
        self.tokens = torch.cat(tokens) if tokens else empty
        targets = torch.cat(targets) if targets else empty
        self.targets = targets.masked_fill(targets == pad_token_id, -100)
        self.positions = torch.cat(positions) if positions else empty
        self.owner = torch.cat(owner) if owner else empty  # candidate row
        self.block_rows = [rows[self.owner[s:s + n * span:span]]
                           for s, n, _, span in self.blocks]
        # cross-attention layout: tokens grouped by question, padded
        question = rows[self.owner]
        order = torch.argsort(question, stable=True)
        counts = torch.bincount(question, minlength=num_questions)
        width = int(counts.max()) if self.num_tokens else 0
        offsets = torch.cumsum(counts, 0) - counts
        slot = torch.arange(self.num_tokens, device=device) - \
            offsets[question[order]]
        self.q_order = order
        self.q_index = question[order] * width + slot  # into [Q * width]
        self.q_width = width
        self.num_questions = num_questions


def _self_attention(attn, hidden: torch.Tensor, pack: PackedCandidates,
                    past: KV) -> torch.Tensor:
    sa = attn.self
    heads, dim = sa.num_heads, sa.head_dim
    q, k, v = sa.query(hidden), sa.key(hidden), sa.value(hidden)
    out = []
    for (s, n, mask, span), q_rows in zip(pack.blocks, pack.block_rows):
        e = s + n * span

        def split(x):
            return x[s:e].view(n, span, heads, dim).transpose(1, 2)

        keys = torch.cat([past[0][q_rows], split(k)], dim=2)
        values = torch.cat([past[1][q_rows], split(v)], dim=2)
        m = causal_mask_with_past(mask, 1, span, hidden.dtype)
        ctx = F.scaled_dot_product_attention(split(q), keys, values,
                                             attn_mask=m)
        out.append(ctx.transpose(1, 2).reshape(n * span, heads * dim))
    return attn.output(torch.cat(out), hidden)


def _cross_attention(attn, hidden: torch.Tensor, pack: PackedCandidates,
                     cross_kv: KV, cross_mask: torch.Tensor) -> torch.Tensor:
    sa = attn.self
    heads, dim = sa.num_heads, sa.head_dim
    q = sa.query(hidden)
    padded = q.new_zeros(pack.num_questions * pack.q_width, q.size(1))
    padded[pack.q_index] = q[pack.q_order]
    padded = padded.view(pack.num_questions, pack.q_width, heads,
                         dim).transpose(1, 2)
    ctx = F.scaled_dot_product_attention(padded, cross_kv[0], cross_kv[1],
                                         attn_mask=cross_mask)
    ctx = ctx.transpose(1, 2).reshape(-1, heads * dim)
    out = torch.empty_like(q)
    out[pack.q_order] = ctx[pack.q_index]
    return attn.output(out, hidden)


def packed_candidate_nll(decoder, pack: PackedCandidates,
                         cross_kv: Sequence[KV], cross_mask: torch.Tensor,
                         past: Sequence[KV], num_rows: int) -> torch.Tensor:
    """Summed NLL ``[num_rows]`` of every candidate's tokens 2.. (token 1
    is scored by the start step), from the packed layout."""
    nll = torch.zeros(num_rows, device=pack.tokens.device)
    if pack.num_tokens == 0:
        return nll
    emb = decoder.embeddings
    hidden = emb.word_embeddings(pack.tokens)
    hidden = hidden + emb.token_type_embeddings(
        torch.zeros_like(pack.tokens))
    hidden = hidden + emb.position_embeddings(pack.positions)
    hidden = emb.dropout(emb.LayerNorm(hidden))
    for i, layer in enumerate(decoder.layer):
        hidden = _self_attention(layer.attention, hidden, pack, past[i])
        hidden = _cross_attention(layer.crossattention, hidden, pack,
                                  cross_kv[i], cross_mask)
        # BERT's "gelu" is the exact erf form.
        hidden = layer.output(F.gelu(layer.intermediate.dense(hidden)),
                              hidden)
    logits = decoder.predictions(hidden).float()
    token_nll = F.cross_entropy(logits, pack.targets, ignore_index=-100,
                                reduction='none')
    return nll.index_add(0, pack.owner, token_nll)
