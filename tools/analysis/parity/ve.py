"""Parity of ``ALBEFVE`` with ``fixtures/ve.pth`` (original
``models/model_ve.py``); the checks shared with NLVR2 live here too.

Fixture layout: ``inputs`` = ``image`` [B,3,H,W] (``image0``/``image1``
for NLVR2), ``text_ids``, ``text_atts`` [B,L], ``targets`` [B], ``alpha``;
``outputs`` = ``logits`` (eval mode), ``image_embeds`` (ViT output),
``text_encoder_output`` (last hidden state of the text + fusion encoder),
``train_loss`` (train mode, distillation, momentum update inside the
forward) and ``grad_norms`` (original parameter name → gradient norm
after backward of ``train_loss``).
"""
from typing import Callable, Dict, List, Optional

import torch

from albef_mm.checkpoint import convert_albef_state_dict, \
    load_checkpoint_to_model
from albef_mm.models.heads.cls_head import convert_original_head_keys
from albef_mm.registry import MODELS
from .common import (UnsupportedFixture, compare, neck_cfg,
                     text_backbone_cfg, vit_cfg)

EVAL_OUTPUTS = ('logits', 'image_embeds', 'text_encoder_output')
TRAIN_OUTPUTS = ('train_loss', 'grad_norms')


def classification_model_cfg(fixture: dict, model_type: str,
                             num_classes: int, neck_layers: int,
                             neck_type: str = 'FusionEncoder') -> dict:
    """Project config of the fixture's VE / NLVR2 model."""
    cfg, bert = fixture['config'], fixture['bert_config']
    fusion = bert['fusion_layer']
    neck = neck_cfg(bert, neck_layers)
    neck['type'] = neck_type
    return dict(type=model_type, vision_backbone=vit_cfg(fixture),
                text_backbone=text_backbone_cfg(bert, fusion), neck=neck,
                cls_head=dict(type='ALBEFClsHead',
                              in_channels=bert['hidden_size'],
                              num_classes=num_classes),
                distill=bool(cfg.get('distill', True)),
                alpha=cfg.get('alpha', 0.4))


def build_loaded(model_cfg: dict, fixture: dict):
    """Build the model and load the fixture's original-layout weights
    strictly (every key must be used)."""
    model = MODELS.build(model_cfg)
    report = load_checkpoint_to_model(model, {'model': fixture['model']},
                                      strict=True, logger='silent')
    if report.missing or report.unexpected:
        raise UnsupportedFixture(
            f'fixture weights do not fit the project model: missing '
            f'{report.missing}, unexpected {report.unexpected}')
    return model


def project_param_names(names, fusion_layer: int) -> Dict[str, str]:
    """Original parameter name → albef_mm name (encoders as pre-training,
    ``cls_head.N`` → ``cls_head.layers.N``; no layer replication)."""
    state = {n: i for i, n in enumerate(names)}
    heads = convert_original_head_keys(state, 'cls_head')
    converted, _ = convert_albef_state_dict(state, fusion_layer)
    converted.update(heads)
    by_index = {i: n for n, i in converted.items()}
    return {n: by_index[i] for i, n in enumerate(names)}


def wanted(parts: Optional[List[str]]) -> Dict[str, bool]:
    """Which of the two parts (``eval``, ``train``) to check; output names
    select the part they belong to."""
    if not parts:
        return dict(eval=True, train=True)
    known = ('eval', 'train') + EVAL_OUTPUTS + TRAIN_OUTPUTS
    unknown = [p for p in parts if p not in known]
    if unknown:
        raise UnsupportedFixture(f'parts {unknown} not known (use eval, '
                                 f'train or one of {known[2:]})')
    return dict(eval=any(p in ('eval', ) + EVAL_OUTPUTS for p in parts),
                train=any(p in ('train', ) + TRAIN_OUTPUTS for p in parts))


def run_classification(fixture: dict, parts: Optional[List[str]],
                       build: Callable, encode: Callable, images):
    """Yield ``('eval', checks)`` and ``('train', checks)``.

    Args:
        build: ``() -> model`` with the fixture's weights.
        encode: ``(model, images) -> (image_embeds, fused_states)`` in the
            model's current mode.
        images: The model input built from the fixture's images.
    """
    inp, out = fixture['inputs'], fixture['outputs']
    ids, atts, targets = inp['text_ids'], inp['text_atts'], inp['targets']
    sel = wanted(parts)
    if sel['eval']:
        model = build().eval()
        with torch.no_grad():
            image_embeds, fused = encode(model, images)
            logits = model.classify(images, ids, atts)
        yield 'eval', [
            compare('image_embeds', image_embeds, out['image_embeds']),
            compare('text_encoder_output', fused,
                    out['text_encoder_output']),
            compare('logits', logits, out['logits']),
        ]
    if sel['train']:
        model = build().train()
        model.zero_grad(set_to_none=True)
        model.alpha = float(inp['alpha'])
        # the original updates the momentum branch inside the forward,
        # before the momentum pass; MomentumUpdateHook does it here
        model.momentum_update()
        loss = model.loss(images, ids, atts, targets)['loss_cls']
        loss.backward()
        checks = [compare('train_loss', loss, out['train_loss'])]
        params = dict(model.named_parameters(remove_duplicate=False))
        names = project_param_names(
            list(out['grad_norms']), fixture['bert_config']['fusion_layer'])
        for orig, norm in out['grad_norms'].items():
            grad = params[names[orig]].grad
            actual = grad.norm() if grad is not None else torch.tensor(0.)
            checks.append(compare(f'grad_norms/{orig}', actual, norm))
        yield 'train', checks


def run(fixture: dict, parts: Optional[List[str]] = None,
        replay: str = 'inject'):
    """Yields ``(part, checks)`` for the VE fixture (no random draws, so
    ``replay`` has no effect)."""
    bert = fixture['bert_config']
    cfg = classification_model_cfg(
        fixture, 'ALBEFVE', 3,
        bert['num_hidden_layers'] - bert['fusion_layer'])

    def encode(model, images):
        image_embeds = model.vision_backbone(images)
        text = model.text_backbone(fixture['inputs']['text_ids'],
                                   fixture['inputs']['text_atts'])
        return image_embeds, model.neck(text, fixture['inputs']['text_atts'],
                                        image_embeds)

    return run_classification(fixture, parts,
                              lambda: build_loaded(cfg, fixture), encode,
                              fixture['inputs']['image'])
