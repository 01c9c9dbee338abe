"""Parity of ``ALBEFRetrieval`` (and its evaluation) with
``fixtures/retrieval.pth``."""
from typing import List, Optional

import torch

from .common import (Check, check_contrast_and_match, compare,
                     contrastive_model, replay_train_step, run_parts)
from .reference import rerank_itm_plain


def build_retrieval_model(fixture: dict):
    """Project model for the fixture's configs with its weights loaded."""
    return contrastive_model(fixture, 'ALBEFRetrieval')


def check_train_step(fixture: dict, replay: str = 'inject') -> List[Check]:
    inp = fixture['inputs']
    model = build_retrieval_model(fixture)
    losses, total, rec = replay_train_step(
        model, fixture, replay,
        (inp['image'], inp['text_ids'], inp['text_atts'], inp['idx']))
    return check_contrast_and_match(model, fixture, losses, total, rec,
                                    inp['idx'])


@torch.no_grad()
def check_eval(fixture: dict) -> List[Check]:
    exp = fixture['outputs']['eval']
    inp = fixture['inputs']
    k = fixture['config']['k_test']
    model = build_retrieval_model(fixture).eval()
    image, ids, atts = inp['image'], inp['text_ids'], inp['text_atts']
    # through the model's task methods, as the evaluation loop calls them
    img = model.extract_feat(image, mode='image')
    txt = model.extract_feat(text_ids=ids, text_mask=atts, mode='text')
    image_embeds, image_feat = img['image_embeds'], img['image_feat']
    text_embeds, text_feat = txt['text_embeds'], txt['text_feat']
    sims = image_feat @ text_feat.t()
    n = image.size(0)
    fused = model.neck(text_embeds.repeat(n, 1, 1), atts.repeat(n, 1),
                       image_embeds.repeat_interleave(n, dim=0))[:, 0]
    itm = model.itm_head(fused).view(n, n, -1)
    pair_logits = model.itm_logits(image_embeds.repeat_interleave(n, dim=0),
                                   text_embeds.repeat(n, 1, 1),
                                   atts.repeat(n, 1)).view(n, n, -1)
    fast_i2t, fast_t2i = model.score_shortlist(
        image_embeds, torch.arange(n), text_embeds, atts, sims, k)
    fast_i2t[torch.isinf(fast_i2t)] = -100
    fast_t2i[torch.isinf(fast_t2i)] = -100
    plain_i2t, plain_t2i = rerank_itm_plain(
        model.neck, model.itm_head, image_embeds, text_embeds, atts, sims, k)
    return [
        compare('image_embeds', image_embeds, exp['image_embeds']),
        compare('text_embeds', text_embeds, exp['text_embeds']),
        compare('image_feat', image_feat, exp['image_feat']),
        compare('text_feat', text_feat, exp['text_feat']),
        compare('sims_matrix', sims, exp['sims_matrix']),
        compare('itm_logits', itm, exp['itm_logits']),
        compare('itm_logits[model.itm_logits]', pair_logits,
                exp['itm_logits']),
        compare('itm_fused_cls', fused.view(n, n, -1), exp['itm_fused_cls']),
        compare('itm_score', itm[..., 1], exp['itm_score']),
        compare('score_matrix_i2t', fast_i2t, exp['score_matrix_i2t']),
        compare('score_matrix_t2i', fast_t2i, exp['score_matrix_t2i']),
        compare('score_matrix_i2t[plain]', plain_i2t,
                exp['score_matrix_i2t']),
        compare('score_matrix_t2i[plain]', plain_t2i,
                exp['score_matrix_t2i']),
    ]


def run(fixture: dict, parts: Optional[List[str]] = None,
        replay: str = 'inject'):
    """Yields ``(part, checks)``; the ``grounding`` part (Grad-CAM) is
    checked by :mod:`parity.grounding`."""
    from .grounding import check_grounding
    return run_parts(fixture, parts, 'retrieval', dict(
        train_step=lambda: check_train_step(fixture, replay),
        eval=lambda: check_eval(fixture),
        grounding=lambda: check_grounding(fixture)))
