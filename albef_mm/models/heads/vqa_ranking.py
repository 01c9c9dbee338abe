"""Answer-list ranking of the VQA decoder (ALBEF's ``rank_answer``).

Two implementations of one formula:

* :func:`rank_answers_repeat` follows the original step by step: the
  question states are repeated ``k`` times and every one of the ``k``
  candidates is teacher-forced at the padded length of the answer list.
* :func:`rank_answers_cached` (the default) gives the same scores with less
  work: the question's cross-attention keys/values are projected once per
  question; the ``[CLS]`` start step is run once per question and its
  self-attention keys/values are re-used by the candidates (the decoder is
  causal, so position 0 is the same for all of them and later padding never
  changes earlier positions); the candidates' remaining real tokens are
  decoded as one packed token list (:mod:`.vqa_packed`), so no padded
  position is decoded, the vocabulary projection runs only on positions
  that predict a token, and the matrix products stay large.

Scores: ``'original'`` (default) reproduces ALBEF exactly: ``log p(first
token)`` from the start step **plus** the teacher-forced log-likelihood of
the whole answer, which also contains the first token, so the first token
counts twice. ``'lavis'`` uses the log-likelihood alone. The ``k`` scores
of a question are soft-maxed and sorted.
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from .vqa_packed import PackedCandidates, packed_candidate_nll

SCORES = ('original', 'lavis')


def _check(answer_ids: torch.Tensor, k: int, score: str) -> int:
    if score not in SCORES:
        raise ValueError(f'score must be one of {SCORES}, got {score!r}')
    if answer_ids.dim() != 2 or answer_ids.size(1) < 2:
        raise ValueError('answer_ids must be [num_answers, L >= 2] '
                         '([CLS] answer tokens [SEP]), got shape '
                         f'{tuple(answer_ids.shape)}')
    if k < 1:
        raise ValueError(f'k must be >= 1, got {k}')
    return min(k, answer_ids.size(0))


def _rerank(first_probs: torch.Tensor, first_ids: torch.Tensor,
            nll: torch.Tensor, score: str, record: Optional[dict]
            ) -> Tuple[torch.Tensor, torch.Tensor]:
    num_q, k = first_ids.shape
    if score == 'original':
        pieces = torch.cat([first_probs.reshape(-1, 1).log(),
                            -nll.reshape(-1, 1)], dim=1)
        log_probs = pieces.sum(1)
    else:
        pieces = -nll.reshape(-1, 1)
        log_probs = pieces[:, 0]
    log_probs_sum = log_probs.view(num_q, k)
    probs, rerank = F.softmax(log_probs_sum, dim=-1).topk(k, dim=1)
    ids = torch.gather(first_ids, 1, rerank)
    if record is not None:
        record.update(answer_loss=nll.reshape(-1, 1), log_probs=pieces,
                      log_probs_sum=log_probs_sum, rerank_id=rerank)
    return ids, probs


def _first_token(logits: torch.Tensor, answer_ids: torch.Tensor, k: int,
                 record: Optional[dict]):
    probs = F.softmax(logits, dim=1).index_select(1, answer_ids[:, 1])
    top_probs, top_ids = probs.topk(k, dim=1)
    if record is not None:
        record.update(logits=logits, prob_first_token=probs,
                      first_topk_ids=top_ids, first_topk_probs=top_probs)
    return top_probs, top_ids


@torch.no_grad()
def rank_answers_repeat(decoder, question_states: torch.Tensor,
                        question_mask: torch.Tensor,
                        answer_ids: torch.Tensor, answer_mask: torch.Tensor,
                        k: int, score: str = 'original',
                        record: Optional[Dict] = None
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Rank the answer list as the original does (reference path).

    Args:
        decoder: A :class:`VQADecoderHead`.
        question_states: Fused question states ``[Q, Lq, D]``.
        question_mask: Question mask ``[Q, Lq]``.
        answer_ids, answer_mask: Tokenised answer list ``[A, L]``
            (``[CLS] tokens [SEP] [PAD]..``).
        k: Candidates kept after the first-token step (clamped to ``A``).
        score: ``'original'`` or ``'lavis'`` (see the module docstring).
        record: Optional dict filled with the intermediate tensors.

    Returns:
        ``(ids, probs)``, both ``[Q, k]``: answer-list indices sorted by
        the soft-maxed score, and those scores.
    """
    k = _check(answer_ids, k, score)
    num_q = question_states.size(0)
    start = answer_ids[0, 0].repeat(num_q, 1)
    start_logits = decoder(start, torch.ones_like(start), question_states,
                           question_mask)[:, 0, :]
    top_probs, top_ids = _first_token(start_logits, answer_ids, k, record)
    flat = top_ids.reshape(-1)
    input_ids, input_mask = answer_ids[flat], answer_mask[flat]
    states = question_states.repeat_interleave(k, dim=0)
    q_mask = question_mask.repeat_interleave(k, dim=0)
    logits = decoder(input_ids, input_mask, states, q_mask)
    nll = decoder.answer_nll(logits, input_ids)
    return _rerank(top_probs, top_ids, nll, score, record)


@torch.no_grad()
def rank_answers_cached(decoder, question_states: torch.Tensor,
                        question_mask: torch.Tensor,
                        answer_ids: torch.Tensor, answer_mask: torch.Tensor,
                        k: int, score: str = 'original',
                        record: Optional[Dict] = None
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Same arguments and results as :func:`rank_answers_repeat`, computed
    with per-question key/value caches and without padded positions."""
    k = _check(answer_ids, k, score)
    num_q = question_states.size(0)
    dtype = question_states.dtype
    cross_kv = decoder.project_question(question_states)
    cross_mask = decoder.cross_mask(question_mask, dtype)
    start = answer_ids[0, 0].repeat(num_q, 1)
    hidden0, past0 = decoder.decode(start, torch.ones_like(start), cross_kv,
                                    cross_mask, return_past=True)
    start_logits = decoder.predictions(hidden0)[:, 0, :]
    top_probs, top_ids = _first_token(start_logits, answer_ids, k, record)

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
    return _rerank(top_probs, top_ids, nll, score, record)


def rank_answers(decoder, question_states, question_mask, answer_ids,
                 answer_mask, k: int, score: str = 'original',
                 method: str = 'cached', record: Optional[Dict] = None):
    """Dispatch to :func:`rank_answers_cached` (``method='cached'``) or
    :func:`rank_answers_repeat` (``'repeat'``)."""
    if method == 'cached':
        fn = rank_answers_cached
    elif method == 'repeat':
        fn = rank_answers_repeat
    else:
        raise ValueError(f"method must be 'cached' or 'repeat', got "
                         f'{method!r}')
    return fn(decoder, question_states, question_mask, answer_ids,
              answer_mask, k, score, record)
