"""Parity of the Grad-CAM grounding maps (``ALBEFGrounding.gradcam``) with
the ``grounding`` part of ``fixtures/retrieval.pth`` (the original
``Grounding.py: val`` and ``visualization.ipynb``)."""
from typing import List

from .common import Check, compare, contrastive_model


def build_grounding_model(fixture: dict, mode: str, layer: int):
    """``ALBEFGrounding`` for the fixture's configs with its (retrieval
    model) weights loaded strictly and a Grad-CAM head for ``mode`` /
    ``layer`` (neck index for ITM, ViT block for ITC)."""
    return contrastive_model(
        fixture, 'ALBEFGrounding',
        gradcam_head=dict(type='GradCAMHead', mode=mode, layer=layer)).eval()


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
