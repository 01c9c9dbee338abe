"""Parity of the Grad-CAM grounding maps (``ALBEFGrounding.gradcam``) with
the ``grounding`` part of ``fixtures/retrieval.pth`` (the original
``Grounding.py: val`` and ``visualization.ipynb``)."""
from typing import List

from albef_mm.checkpoint import load_checkpoint_to_model
from albef_mm.registry import MODELS
from .common import Check, compare, neck_cfg, text_backbone_cfg, vit_cfg


def build_grounding_model(fixture: dict, mode: str, layer: int):
    """``ALBEFGrounding`` for the fixture's configs with its (retrieval
    model) weights loaded strictly and a Grad-CAM head for ``mode`` /
    ``layer`` (neck index for ITM, ViT block for ITC)."""
    cfg, bert = fixture['config'], fixture['bert_config']
    fusion = bert['fusion_layer']
    model = MODELS.build(dict(
        type='ALBEFGrounding',
        vision_backbone=vit_cfg(fixture),
        text_backbone=text_backbone_cfg(bert, fusion),
        neck=neck_cfg(bert, bert['num_hidden_layers'] - fusion),
        itc_head=dict(type='ITCHead', vision_width=cfg['vision_width'],
                      text_width=bert['hidden_size'],
                      embed_dim=cfg['embed_dim'], temp=cfg['temp'],
                      queue_size=cfg['queue_size'],
                      distill=cfg['distill']),
        itm_head=dict(type='ITMHead', hidden_size=bert['hidden_size']),
        gradcam_head=dict(type='GradCAMHead', mode=mode, layer=layer),
        momentum=cfg['momentum'], alpha=cfg['alpha']))
    load_checkpoint_to_model(model, {'model': fixture['model']}, strict=True,
                             logger='silent')
    return model.eval()


def _gradcam(model, images, ids, atts):
    return model.gradcam(images, ids, atts)


def check_grounding(fixture: dict) -> List[Check]:
    """Every recorded block of both Grad-CAM modes: captured attention,
    its gradient, the per-head/per-token maps and the averaged map."""
    exp = fixture['outputs']['grounding']
    inp = fixture['inputs']
    fusion = fixture['bert_config']['fusion_layer']
    args = (inp['image'], inp['text_ids'], inp['text_atts'])
    checks = []
    for block, e in sorted(exp.get('itm', {}).items()):
        out = _gradcam(build_grounding_model(fixture, 'itm',
                                             int(block) - fusion), *args)
        p = f'itm/{block}/'
        checks += [
            compare(p + 'attention_map', out['attention_map'],
                    e['attention_map']),
            compare(p + 'attention_grad', out['attention_grad'],
                    e['attention_grad']),
            compare(p + 'gradcam_per_head_token', out['per_head_token'],
                    e['gradcam_per_head_token']),
            compare(p + 'gradcam_per_token', out['per_token'],
                    e['gradcam_per_token']),
            compare(p + 'gradcam', out['gradcam'], e['gradcam']),
        ]
        if 'itm_vl_output' in exp:
            checks.append(compare(f'itm_vl_output[block {block}]',
                                  out['itm_logits'], exp['itm_vl_output']))
    for block, e in sorted(exp.get('itc', {}).items()):
        out = _gradcam(build_grounding_model(fixture, 'itc', int(block)),
                       *args)
        p = f'itc/{block}/'
        checks += [
            compare(p + 'sim', out['sim'], e['sim']),
            compare(p + 'attention_map', out['attention_map'],
                    e['attention_map']),
            compare(p + 'attention_grad', out['attention_grad'],
                    e['attention_grad']),
            compare(p + 'gradcam', out['gradcam'], e['gradcam']),
        ]
    return checks
