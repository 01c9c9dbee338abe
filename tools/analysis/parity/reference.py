"""The original ALBEF's computations where albef_mm computes the same
numbers another way: the references that prove an optimisation equal
(parity tool, tests) and time it (benchmarks). Nothing in the package
uses them.

* :func:`rerank_itm_plain`: retrieval re-ranking pair by pair (the
  package: ``retrieval_rerank.rerank_itm``);
* :func:`rank_answers_repeat`: VQA answer ranking with the question
  states repeated per candidate (the package:
  ``heads.vqa_ranking.rank_answers``);
* :func:`without_kv_reuse`: the contrastive training step with one image
  token set per fused row (the package projects each fusion layer's image
  keys/values once per step, ``ALBEFContrastiveBase.fuse_rows``).
"""
import types
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from albef_mm.models.algorithms.retrieval_rerank import topk_pairs
from albef_mm.models.heads.vqa_ranking import check_ranking_args


@torch.no_grad()
def rerank_itm_plain(neck, itm_head, image_embeds: torch.Tensor,
                     text_embeds: torch.Tensor, text_mask: torch.Tensor,
                     sims: torch.Tensor, k: int, add_itc: bool = False
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """The original's evaluation: per image, fuse its k texts (padded
    length, image tokens repeated); per text, its k images. Scores are
    -100 outside the shortlists."""
    i2t, t2i = topk_pairs(sims, k)
    ni, nt = sims.shape
    scores_i2t = torch.full((ni, nt), -100.0)
    scores_t2i = torch.full((nt, ni), -100.0)
    for i in range(ni):
        js = i2t[i]
        fused = neck(text_embeds[js], text_mask[js],
                     image_embeds[i:i + 1].repeat(len(js), 1, 1))
        score = itm_head(fused[:, 0])[:, 1].float()
        scores_i2t[i, js] = (score + sims[i, js] if add_itc else score).cpu()
    for j in range(nt):
        iis = t2i[j]
        fused = neck(text_embeds[j:j + 1].repeat(len(iis), 1, 1),
                     text_mask[j:j + 1].repeat(len(iis), 1),
                     image_embeds[iis])
        score = itm_head(fused[:, 0])[:, 1].float()
        scores_t2i[j, iis] = (score + sims[iis, j] if add_itc
                              else score).cpu()
    return scores_i2t, scores_t2i


@torch.no_grad()
def rank_answers_repeat(decoder, question_states: torch.Tensor,
                        question_mask: torch.Tensor,
                        answer_ids: torch.Tensor, answer_mask: torch.Tensor,
                        k: int, score: str = 'original',
                        record: Optional[Dict] = None
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
    """ALBEF's ``rank_answer`` step by step: same arguments and results as
    ``rank_answers``; ``record`` (optional dict) receives the original's
    locals (``logits``, ``prob_first_token``, ``first_topk_ids``,
    ``first_topk_probs``, ``answer_loss``, ``log_probs``,
    ``log_probs_sum``, ``rerank_id``)."""
    record = {} if record is None else record
    k = check_ranking_args(answer_ids, k, score)
    num_q = question_states.size(0)
    start = answer_ids[0, 0].repeat(num_q, 1)
    logits = decoder(start, torch.ones_like(start), question_states,
                     question_mask)[:, 0, :]
    prob_first = F.softmax(logits, dim=1).index_select(1, answer_ids[:, 1])
    top_probs, top_ids = prob_first.topk(k, dim=1)
    flat = top_ids.reshape(-1)
    input_ids, input_mask = answer_ids[flat], answer_mask[flat]
    states = question_states.repeat_interleave(k, dim=0)
    q_mask = question_mask.repeat_interleave(k, dim=0)
    nll = decoder.answer_nll(decoder(input_ids, input_mask, states, q_mask),
                             input_ids).reshape(-1, 1)
    if score == 'original':
        log_probs = torch.cat([top_probs.reshape(-1, 1).log(), -nll], dim=1)
    else:
        log_probs = -nll
    log_probs_sum = log_probs.sum(1).view(num_q, k)
    probs, rerank_id = F.softmax(log_probs_sum, dim=-1).topk(k, dim=1)
    record.update(logits=logits, prob_first_token=prob_first,
                  first_topk_ids=top_ids, first_topk_probs=top_probs,
                  answer_loss=nll, log_probs=log_probs,
                  log_probs_sum=log_probs_sum, rerank_id=rerank_id)
    return torch.gather(top_ids, 1, rerank_id), probs


def _fuse_rows_plain(model, image_embeds: torch.Tensor, rows: torch.Tensor,
                     texts: torch.Tensor, masks: torch.Tensor):
    """``fuse_rows`` as the original: the image tokens of every row
    (``cat([image_embeds, image_embeds[neg], image_embeds])``) go through
    each fusion layer's key/value projections; no keys/values are kept
    (the MLM pass projects its own)."""
    return model.neck(texts, masks, image_embeds.index_select(0, rows)), None


def without_kv_reuse(model):
    """Make a contrastive model's training step fuse its ITM rows as the
    original does (on this instance; returns the model)."""
    model.fuse_rows = types.MethodType(_fuse_rows_plain, model)
    return model
