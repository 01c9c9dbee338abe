"""Answer-list ranking of the VQA decoder (ALBEF's ``rank_answer``).

The original repeats the question states ``k`` times and teacher-forces
every one of the ``k`` candidates at the padded length of the answer list
(that computation is kept as the reference of the parity and benchmark
tools). :func:`rank_answers` gives the same scores with less work: the
question's cross-attention keys/values are projected once per
question; the ``[CLS]`` start step is run once per question and its
self-attention keys/values are re-used by the candidates (the decoder is
causal, so position 0 is the same for all of them and later padding never
changes earlier positions); the candidates' remaining real tokens are
decoded as one packed token list (:mod:`.vqa_packed`), so no padded
position is decoded, the vocabulary projection runs only on positions that
predict a token, and the matrix products stay large.

Scores: ``'original'`` (default) reproduces ALBEF exactly: ``log p(first
token)`` from the start step **plus** the teacher-forced log-likelihood of
the whole answer, which also contains the first token, so the first token
counts twice. ``'lavis'`` uses the log-likelihood alone. The ``k`` scores
of a question are soft-maxed and sorted.
"""
from typing import Tuple

import torch
import torch.nn.functional as F

from .vqa_packed import PackedCandidates, packed_candidate_nll

SCORES = ('original', 'lavis')


def check_ranking_args(answer_ids: torch.Tensor, k: int, score: str) -> int:
    if score not in SCORES:
        raise ValueError(f'score must be one of {SCORES}, got {score!r}')
    if answer_ids.dim() != 2 or answer_ids.size(1) < 2:
        raise ValueError('answer_ids must be [num_answers, L >= 2] '
                         '([CLS] answer tokens [SEP]), got shape '
                         f'{tuple(answer_ids.shape)}')
    if k < 1:
        raise ValueError(f'k must be >= 1, got {k}')
    return min(k, answer_ids.size(0))


def rerank(first_probs: torch.Tensor, first_ids: torch.Tensor,
           nll: torch.Tensor, score: str
           ) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(ids, probs)`` ``[Q, k]`` of the candidates ``first_ids`` sorted
    by the soft-maxed score (from the first-token probabilities and the
    candidates' answer NLL ``[Q * k]``, see the module docstring)."""
    num_q, k = first_ids.shape
    log_probs = -nll.reshape(-1)
    if score == 'original':
        log_probs = first_probs.reshape(-1).log() + log_probs
    probs, order = F.softmax(log_probs.view(num_q, k), dim=-1).topk(k, dim=1)
    return torch.gather(first_ids, 1, order), probs


def first_token_topk(logits: torch.Tensor, answer_ids: torch.Tensor,
                     k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(probs, ids)`` ``[Q, k]``: the k answers whose first token is the
    most probable after the start step (``logits`` ``[Q, V]``)."""
    probs = F.softmax(logits, dim=1).index_select(1, answer_ids[:, 1])
    return probs.topk(k, dim=1)


@torch.no_grad()
def rank_answers(decoder, question_states: torch.Tensor,
                 question_mask: torch.Tensor, answer_ids: torch.Tensor,
                 answer_mask: torch.Tensor, k: int, score: str = 'original'
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Rank the answer list for each question.

    Args:
        decoder: A :class:`VQADecoderHead`.
        question_states: Fused question states ``[Q, Lq, D]``.
        question_mask: Question mask ``[Q, Lq]``.
        answer_ids, answer_mask: Tokenised answer list ``[A, L]``
            (``[CLS] tokens [SEP] [PAD]..``).
        k: Candidates kept after the first-token step (clamped to ``A``).
        score: ``'original'`` or ``'lavis'`` (see the module docstring).

    Returns:
        ``(ids, probs)``, both ``[Q, k]``: answer-list indices sorted by
        the soft-maxed score, and those scores.
    """
    k = check_ranking_args(answer_ids, k, score)
    num_q = question_states.size(0)
    dtype = question_states.dtype
    cross_kv = decoder.project_question(question_states)
    cross_mask = decoder.cross_mask(question_mask, dtype)
    start = answer_ids[0, 0].repeat(num_q, 1)
    hidden0, past0 = decoder.decode(start, torch.ones_like(start), cross_kv,
                                    cross_mask, return_past=True)
    start_logits = decoder.predictions(hidden0)[:, 0, :]
    top_probs, top_ids = first_token_topk(start_logits, answer_ids, k)

    flat = top_ids.reshape(-1)
    rows = torch.arange(num_q, device=flat.device).repeat_interleave(k)
    ids, mask = answer_ids[flat], answer_mask[flat]
    pad = decoder.pad_token_id
    # True length: up to the last token that is attended or not [PAD].
    used = (mask != 0) | (ids != pad)
    pos = torch.arange(ids.size(1), device=ids.device)
    lengths = ((pos + 1) * used).amax(dim=1)
    # Token 1 is predicted by the shared start step.
    log_p0 = F.log_softmax(start_logits.float(), dim=-1)
    first = ids[:, 1]
    nll = -log_p0[rows, first] * (first != pad)
    pack = PackedCandidates(ids, mask, rows, lengths, num_q, pad)
    nll = nll + packed_candidate_nll(decoder, pack, cross_kv, cross_mask,
                                     past0, ids.size(0)).to(nll.dtype)
    return rerank(top_probs, top_ids, nll, score)
