"""Parity of ``ALBEFPretrain`` with ``fixtures/pretrain.pth``."""
from typing import List, Optional

import torch

from albef_mm.checkpoint import load_checkpoint_to_model
from albef_mm.registry import MODELS
from .common import (Check, check_parameters, compare, neck_cfg, run_parts,
                     text_backbone_cfg, vit_cfg)


def build_pretrain_model(fixture: dict):
    """The project model matching the fixture's configs, with the
    fixture's original-format weights converted and loaded (strict)."""
    cfg, bert = fixture['config'], fixture['bert_config']
    fusion = bert['fusion_layer']
    special = fixture['meta']['special_tokens']
    model_cfg = dict(
        type='ALBEFPretrain',
        vision_backbone=vit_cfg(fixture),
        text_backbone=text_backbone_cfg(bert, fusion),
        neck=neck_cfg(bert, bert['num_hidden_layers'] - fusion),
        itc_head=dict(type='ITCHead', vision_width=cfg['vision_width'],
                      text_width=bert['hidden_size'],
                      embed_dim=cfg['embed_dim'], temp=cfg['temp'],
                      queue_size=cfg['queue_size']),
        itm_head=dict(type='ITMHead', hidden_size=bert['hidden_size']),
        mlm_head=dict(type='MLMHead', hidden_size=bert['hidden_size'],
                      vocab_size=bert['vocab_size'],
                      layer_norm_eps=bert['layer_norm_eps'],
                      mask_prob=cfg['mlm_probability'],
                      pad_token_id=special['pad'],
                      cls_token_id=special['cls'],
                      mask_token_id=special['mask']),
        momentum=cfg['momentum'], alpha=cfg['alpha'])
    model = MODELS.build(model_cfg)
    load_checkpoint_to_model(model, {'model': fixture['model']}, strict=True,
                             logger='silent')
    return model


def check_train_step(fixture: dict, replay: str = 'inject') -> List[Check]:
    exp = fixture['outputs']['train_step']
    inp = fixture['inputs']
    fusion = fixture['bert_config']['fusion_layer']
    model = build_pretrain_model(fixture)
    model.train()
    model.zero_grad(set_to_none=True)
    model.alpha = inp['alpha']
    model.intermediates = {}
    forced = None
    if replay == 'inject':
        forced = dict(neg_image_idx=exp['itm_neg_image_idx_for_text'],
                      neg_text_idx=exp['itm_neg_text_idx_for_image'],
                      mlm_input_ids=exp['mlm_masked_input_ids'],
                      mlm_labels=exp['mlm_labels'])
    else:
        torch.manual_seed(fixture['seeds']['forward'])
    # MomentumUpdateHook.before_train_iter, then the step, then
    # QueueUpdateHook.after_train_iter, as a training iteration runs them.
    model.momentum_update()
    losses = model.loss(inp['image'], inp['text_ids'], inp['text_atts'],
                        forced_draws=forced)
    total = losses['loss_itc'] + losses['loss_itm'] + losses['loss_mlm']
    total.backward()
    model.dequeue_and_enqueue()
    got = model.intermediates
    loc = exp['forward_locals']
    b = inp['image'].size(0)
    checks = [
        compare('losses/loss_ita', losses['loss_itc'],
                exp['losses']['loss_ita']),
        compare('losses/loss_itm', losses['loss_itm'],
                exp['losses']['loss_itm']),
        compare('losses/loss_mlm', losses['loss_mlm'],
                exp['losses']['loss_mlm']),
        compare('loss_total', total, exp['loss_total']),
        compare('temp_after_clamp', model.itc_head.temp,
                exp['temp_after_clamp']),
        compare('itm_neg_image_idx_for_text', got['neg_image_idx'],
                exp['itm_neg_image_idx_for_text']),
        compare('itm_neg_text_idx_for_image', got['neg_text_idx'],
                exp['itm_neg_text_idx_for_image']),
        compare('mlm_masked_input_ids', got['mlm_input_ids'],
                exp['mlm_masked_input_ids']),
        compare('mlm_labels', got['mlm_labels'], exp['mlm_labels']),
    ]
    same = ['image_embeds', 'text_embeds', 'image_feat', 'text_feat',
            'image_feat_m', 'text_feat_m', 'sim_i2t', 'sim_t2i',
            'sim_i2t_targets', 'sim_t2i_targets', 'logits_m']
    for key in same:
        checks.append(compare(f'forward_locals/{key}', got[key], loc[key]))
    weights_i2t = model.itm_head.negative_weights(got['sim_i2t'])
    weights_t2i = model.itm_head.negative_weights(got['sim_t2i'])
    checks += [
        compare('forward_locals/weights_i2t', weights_i2t,
                loc['weights_i2t']),
        compare('forward_locals/weights_t2i', weights_t2i,
                loc['weights_t2i']),
        compare('forward_locals/output_pos/last_hidden_state',
                got['itm_fused'][:b], loc['output_pos']['last_hidden_state']),
        compare('forward_locals/output_neg/last_hidden_state',
                got['itm_fused'][b:], loc['output_neg']['last_hidden_state']),
        compare('forward_locals/vl_output', got['itm_logits'],
                loc['vl_output']),
        compare('forward_locals/mlm_output/logits', got['mlm_logits'],
                loc['mlm_output']['logits']),
    ]
    head = model.itc_head
    for key in ('image_queue', 'text_queue', 'queue_ptr'):
        checks.append(compare(f'queue_after/{key}', getattr(head, key),
                              exp['queue_after'][key]))
    checks += check_parameters(model, exp, fusion)
    return checks


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
