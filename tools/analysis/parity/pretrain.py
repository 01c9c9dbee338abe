"""Parity of ``ALBEFPretrain`` with ``fixtures/pretrain.pth``."""
from typing import List, Optional

import torch

from .common import (Check, check_contrast_and_match, compare,
                     contrastive_model, replay_train_step, run_parts)


def build_pretrain_model(fixture: dict):
    """The project model matching the fixture's configs, with the
    fixture's original-format weights converted and loaded (strict)."""
    cfg, bert = fixture['config'], fixture['bert_config']
    special = fixture['meta']['special_tokens']
    return contrastive_model(
        fixture, 'ALBEFPretrain',
        mlm_head=dict(type='MLMHead', hidden_size=bert['hidden_size'],
                      vocab_size=bert['vocab_size'],
                      layer_norm_eps=bert['layer_norm_eps'],
                      mask_prob=cfg['mlm_probability'],
                      pad_token_id=special['pad'],
                      cls_token_id=special['cls'],
                      mask_token_id=special['mask']))


def check_train_step(fixture: dict, replay: str = 'inject') -> List[Check]:
    exp = fixture['outputs']['train_step']
    inp = fixture['inputs']
    model = build_pretrain_model(fixture)
    losses, total, rec = replay_train_step(
        model, fixture, replay,
        (inp['image'], inp['text_ids'], inp['text_atts']),
        modules=('mlm_head', 'mlm_head_m'), methods=('mlm_head.mask_tokens',),
        replacements={'mlm_head.mask_tokens': lambda *a, **k: (
            exp['mlm_masked_input_ids'], exp['mlm_labels'])})
    mlm_ids, mlm_labels = rec.results['mlm_head.mask_tokens'][0]
    got = dict(mlm_input_ids=mlm_ids, mlm_labels=mlm_labels,
               logits_m=rec.outputs['mlm_head_m'][0],
               mlm_logits=rec.outputs['mlm_head'][0])
    loc = exp['forward_locals']
    return check_contrast_and_match(model, fixture, losses, total, rec) + [
        compare('losses/loss_mlm', losses['loss_mlm'],
                exp['losses']['loss_mlm']),
        compare('mlm_masked_input_ids', got['mlm_input_ids'],
                exp['mlm_masked_input_ids']),
        compare('mlm_labels', got['mlm_labels'], exp['mlm_labels']),
        compare('forward_locals/logits_m', got['logits_m'],
                _as_computed(loc['logits_m'], got['logits_m'], mlm_labels)),
        compare('forward_locals/mlm_output/logits', got['mlm_logits'],
                _as_computed(loc['mlm_output']['logits'], got['mlm_logits'],
                             mlm_labels)),
    ]


def _as_computed(expected: torch.Tensor, got: torch.Tensor,
                 labels: torch.Tensor) -> torch.Tensor:
    """The original's ``[B, L, V]`` logits, reduced to the masked
    positions when the model computed only those (``[N, V]``,
    ``MLMHead.logits_at_labels_only``)."""
    if got.dim() == expected.dim() - 1:
        return expected[labels != -100]
    return expected


@torch.no_grad()
def check_eval(fixture: dict) -> List[Check]:
    exp = fixture['outputs']['eval']
    inp = fixture['inputs']
    model = build_pretrain_model(fixture).eval()
    image, ids, atts = inp['image'], inp['text_ids'], inp['text_atts']
    image_embeds = model.vision_backbone(image)
    text_embeds = model.text_backbone(ids, atts)
    fusion = model.neck(text_embeds, atts, image_embeds)
    feats = model.extract_feat(image, ids, atts, 'multimodal')
    head = model.itc_head
    n = image.size(0)
    # every (image i, text j) pair
    fused = model.neck(text_embeds.repeat(n, 1, 1), atts.repeat(n, 1),
                       image_embeds.repeat_interleave(n, dim=0))[:, 0]
    itm = model.itm_head(fused)
    mlm_ids, mlm_labels = exp['mlm_input_ids'], exp['mlm_labels']
    mlm_logits = model.mlm_head(model.neck(
        model.text_backbone(mlm_ids, atts), atts, image_embeds))
    image_embeds_m = model.vision_backbone_m(image)
    text_embeds_m = model.text_backbone_m(ids, atts)
    return [
        compare('image_embeds', image_embeds, exp['image_embeds']),
        compare('text_embeds', text_embeds, exp['text_embeds']),
        compare('fusion_embeds', fusion, exp['fusion_embeds']),
        compare('multimodal_embeds', feats['multimodal_embeds'],
                exp['multimodal_embeds']),
        compare('image_feat', feats['image_feat'], exp['image_feat']),
        compare('text_feat', feats['text_feat'], exp['text_feat']),
        compare('sim_i2t', feats['image_feat'] @ feats['text_feat'].t() /
                head.temp, exp['sim_i2t']),
        compare('itm_logits', itm.view(n, n, -1), exp['itm_logits']),
        compare('itm_fused_cls', fused.view(n, n, -1), exp['itm_fused_cls']),
        compare('mlm_logits', mlm_logits, exp['mlm_logits']),
        compare('mlm_loss_hard', model.mlm_head.loss(mlm_logits, mlm_labels),
                exp['mlm_loss_hard']),
        compare('image_embeds_m', image_embeds_m, exp['image_embeds_m']),
        compare('image_feat_m', head.image_feat(image_embeds_m[:, 0], True),
                exp['image_feat_m']),
        compare('text_feat_m', head.text_feat(text_embeds_m[:, 0], True),
                exp['text_feat_m']),
    ]


def run(fixture: dict, parts: Optional[List[str]] = None,
        replay: str = 'inject'):
    """Yields ``(part, checks)`` for the requested parts."""
    return run_parts(fixture, parts, 'pretrain', dict(
        train_step=lambda: check_train_step(fixture, replay),
        eval=lambda: check_eval(fixture)))
