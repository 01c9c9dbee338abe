"""Shared pieces of the parity checks against the original-code fixtures
(tiny models recorded with salesforce/ALBEF): model configs from a
fixture, comparison, report."""
from dataclasses import dataclass
from typing import Dict, List, Optional

import torch

# Tolerance of the parity contract: |a - b| <= ATOL + RTOL * |b|.
ATOL = 1e-5
RTOL = 1e-5


class UnsupportedFixture(Exception):
    """A task or part the parity tool cannot check yet."""


@dataclass
class Check:
    """One compared output."""
    name: str
    shape: tuple
    max_abs: float
    max_rel: float
    ok: bool
    note: str = ''


def compare(name: str, actual, expected, atol: float = ATOL,
            rtol: float = RTOL) -> Check:
    """Elementwise ``|a - b| <= atol + rtol * |b|`` in float32 (exact
    equality for integer and bool tensors)."""
    expected = torch.as_tensor(expected)
    actual = torch.as_tensor(actual).detach().cpu()
    if actual.shape != expected.shape:
        return Check(name, tuple(expected.shape), float('inf'), float('inf'),
                     False, f'shape {tuple(actual.shape)} != '
                     f'{tuple(expected.shape)}')
    if not expected.is_floating_point():
        diff = (actual.long() != expected.long())
        n = int(diff.sum())
        return Check(name, tuple(expected.shape), float(n), float(n), n == 0,
                     f'{n} elements differ' if n else '')
    a, b = actual.float(), expected.float()
    err = (a - b).abs()
    rel = err / b.abs().clamp(min=1e-12)
    ok = bool((err <= atol + rtol * b.abs()).all())
    return Check(name, tuple(expected.shape),
                 float(err.max()) if err.numel() else 0.0,
                 float(rel.max()) if rel.numel() else 0.0, ok)


def bert_kwargs(bert_config: dict, num_layers: int) -> dict:
    """Keyword arguments shared by text backbone and neck from a HF/xbert
    ``config_bert.json`` dict."""
    if bert_config.get('hidden_act', 'gelu') != 'gelu':
        raise UnsupportedFixture(
            f"hidden_act {bert_config['hidden_act']!r} (only exact gelu)")
    return dict(hidden_size=bert_config['hidden_size'], num_layers=num_layers,
                num_heads=bert_config['num_attention_heads'],
                intermediate_size=bert_config['intermediate_size'],
                layer_norm_eps=bert_config['layer_norm_eps'],
                hidden_dropout=bert_config['hidden_dropout_prob'],
                attn_dropout=bert_config['attention_probs_dropout_prob'])


def text_backbone_cfg(bert_config: dict, num_layers: int) -> dict:
    return dict(type='BertTextEncoder',
                vocab_size=bert_config['vocab_size'],
                max_position_embeddings=bert_config[
                    'max_position_embeddings'],
                type_vocab_size=bert_config['type_vocab_size'],
                pad_token_id=bert_config.get('pad_token_id', 0),
                **bert_kwargs(bert_config, num_layers))


def neck_cfg(bert_config: dict, num_layers: int) -> dict:
    return dict(type='FusionEncoder',
                encoder_width=bert_config['encoder_width'],
                **bert_kwargs(bert_config, num_layers))


def vit_cfg(fixture: dict) -> dict:
    vit = fixture['meta'].get('tiny_vit')
    if vit is None:
        raise UnsupportedFixture('fixture meta has no tiny_vit settings')
    return dict(type='ALBEFViT', img_size=vit['img_size'],
                patch_size=vit['patch_size'], embed_dims=vit['embed_dim'],
                num_layers=vit['depth'], num_heads=vit['num_heads'])


def contrastive_model(fixture: dict, model_type: str, **extra):
    """A contrastive model (``ALBEFPretrain`` / ``ALBEFRetrieval`` /
    ``ALBEFGrounding``) for the fixture's configs, plus the keywords
    ``extra``, with the fixture's original-format weights loaded
    (strict)."""
    from albef_mm.registry import MODELS
    cfg, bert = fixture['config'], fixture['bert_config']
    fusion = bert['fusion_layer']
    itc = dict(type='ITCHead', vision_width=cfg['vision_width'],
               text_width=bert['hidden_size'], embed_dim=cfg['embed_dim'],
               temp=cfg['temp'], queue_size=cfg['queue_size'])
    if 'distill' in cfg:
        itc['distill'] = cfg['distill']
    model = MODELS.build(dict(
        type=model_type, vision_backbone=vit_cfg(fixture),
        text_backbone=text_backbone_cfg(bert, fusion),
        neck=neck_cfg(bert, bert['num_hidden_layers'] - fusion),
        itc_head=itc,
        itm_head=dict(type='ITMHead', hidden_size=bert['hidden_size']),
        momentum=cfg['momentum'], alpha=cfg['alpha'], **extra))
    return load_fixture_weights(model, fixture)


def load_fixture_weights(model, fixture: dict):
    """Load the fixture's original-format weights into ``model`` (strict,
    silent); returns the model."""
    from albef_mm.checkpoint import load_checkpoint_to_model
    load_checkpoint_to_model(model, {'model': fixture['model']}, strict=True,
                             logger='silent')
    return model


def select(outputs: dict, parts: Optional[List[str]]) -> List[str]:
    """The fixture parts to check; unknown requested parts raise."""
    available = list(outputs)
    if not parts:
        return available
    unknown = [p for p in parts if p not in available]
    if unknown:
        raise UnsupportedFixture(f'parts {unknown} not in the fixture '
                                 f'(it has {available})')
    return parts


def flatten(d: Dict, prefix: str = '') -> Dict[str, object]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f'{prefix}{k}/'))
        else:
            out[prefix + k] = v
    return out


def original_to_project_names(names, fusion_layer: int) -> Dict[str, str]:
    """Original parameter name → albef_mm name."""
    from albef_mm.checkpoint import convert_albef_state_dict
    converted, _ = convert_albef_state_dict(
        {n: i for i, n in enumerate(names)}, fusion_layer)
    by_index = {i: n for n, i in converted.items()}
    return {n: by_index[i] for i, n in enumerate(names)}


def check_parameters(model, expected: dict, fusion_layer: int) -> List[Check]:
    """Gradient norms, selected gradients and momentum parameters after a
    training step (fixture keys ``grad_norms``, ``grads``,
    ``momentum_params_after``, original parameter names)."""
    params = dict(model.named_parameters())
    checks = []
    names = original_to_project_names(list(expected['grad_norms']),
                                      fusion_layer)
    for orig, norm in expected['grad_norms'].items():
        grad = params[names[orig]].grad
        actual = grad.norm() if grad is not None else torch.tensor(0.)
        checks.append(compare(f'grad_norms/{orig}', actual, norm))
    for key in ('grads', 'momentum_params_after'):
        names = original_to_project_names(list(expected[key]), fusion_layer)
        for orig, value in expected[key].items():
            param = params[names[orig]]
            actual = param.grad if key == 'grads' else param
            checks.append(compare(f'{key}/{orig}', actual, value))
    return checks


def run_parts(fixture: dict, parts: Optional[List[str]], task: str,
              runners: Dict[str, callable]):
    """Yield ``(part, checks)`` for every requested part with a runner,
    then raise :class:`UnsupportedFixture` naming the parts without one."""
    chosen = select(fixture['outputs'], parts)
    for part in chosen:
        if part in runners:
            yield part, runners[part]()
    missing = [p for p in chosen if p not in runners]
    if missing:
        raise UnsupportedFixture(f'{task} parts {missing} are not supported '
                                 'yet')


# What the contrastive training step is observed through.
STEP_MODULES = ('vision_backbone', 'text_backbone', 'neck', 'itm_head')
STEP_METHODS = ('itc_head.image_feat', 'itc_head.text_feat', 'itc_loss.loss',
                'itm_head.sample_negatives')


def replay_train_step(model, fixture: dict, replay: str, loss_args: tuple,
                      modules=(), methods=(), replacements=None):
    """Run one training iteration through the project's own sequence
    (``run_train_iteration``: momentum EMA hook, loss + backward, enqueue
    hook) with the fixture's random draws injected (``replay='inject'``:
    the recorded ITM negatives, plus ``replacements`` for other draws) or
    re-seeded (``'seed'``). Returns ``(losses, total, recorder)``."""
    from albef_mm.engine import run_train_iteration
    from .observe import observe
    exp = fixture['outputs']['train_step']
    model.train()
    model.zero_grad(set_to_none=True)
    model.alpha = fixture['inputs']['alpha']
    inject = {}
    if replay == 'inject':
        inject['itm_head.sample_negatives'] = lambda *a, **k: (
            exp['itm_neg_image_idx_for_text'],
            exp['itm_neg_text_idx_for_image'])
        inject.update(replacements or {})
    else:
        torch.manual_seed(fixture['seeds']['forward'])

    def step():
        losses = model.loss(*loss_args)
        total = sum(losses.values())
        total.backward()
        return losses, total

    with observe(model, STEP_MODULES + tuple(modules),
                 STEP_METHODS + tuple(methods), inject) as rec:
        losses, total = run_train_iteration(model, step)
    return losses, total, rec


def contrastive_intermediates(rec) -> dict:
    """The ITC/ITM step's tensors, by the original's names, from what
    :func:`replay_train_step` observed (first call = the ITC/ITM pass)."""
    res, out = rec.results, rec.outputs
    itc = res['itc_loss.loss'][0]
    feats = {}
    for kind in ('image', 'text'):
        for (args, kwargs), value in zip(rec.calls[f'itc_head.{kind}_feat'],
                                         res[f'itc_head.{kind}_feat']):
            momentum = kwargs.get('momentum', args[1] if len(args) > 1
                                  else False)
            feats[f'{kind}_feat' + ('_m' if momentum else '')] = value
    neg_image, neg_text = res['itm_head.sample_negatives'][0]
    return dict(
        image_embeds=out['vision_backbone'][0],
        text_embeds=out['text_backbone'][0], **feats,
        sim_i2t=itc['sim_i2t'], sim_t2i=itc['sim_t2i'],
        sim_targets=itc['targets_hard'], sim_i2t_targets=itc['targets_i2t'],
        sim_t2i_targets=itc['targets_t2i'], neg_image_idx=neg_image,
        neg_text_idx=neg_text, itm_fused=out['neck'][0],
        itm_logits=out['itm_head'][0])


def check_contrast_and_match(model, fixture: dict, losses: dict, total,
                             rec, idx: Optional[torch.Tensor] = None
                             ) -> List[Check]:
    """The ITC/ITM outputs shared by the pre-training and retrieval
    fixtures: losses, forward locals, negative sampling weights and draws,
    fused states, ITM logits, queues after the step, gradients."""
    exp = fixture['outputs']['train_step']
    got, loc = contrastive_intermediates(rec), exp['forward_locals']
    b = fixture['inputs']['image'].size(0)
    checks = [
        compare('losses/loss_ita', losses['loss_itc'],
                exp['losses']['loss_ita']),
        compare('losses/loss_itm', losses['loss_itm'],
                exp['losses']['loss_itm']),
        compare('loss_total', total, exp['loss_total']),
        compare('temp_after_clamp', model.itc_head.temp,
                exp['temp_after_clamp']),
        compare('itm_neg_image_idx_for_text', got['neg_image_idx'],
                exp['itm_neg_image_idx_for_text']),
        compare('itm_neg_text_idx_for_image', got['neg_text_idx'],
                exp['itm_neg_text_idx_for_image']),
        compare('forward_locals/sim_targets', got['sim_targets'],
                loc['sim_targets']),
    ]
    for key in ('image_embeds', 'text_embeds', 'image_feat', 'text_feat',
                'image_feat_m', 'text_feat_m', 'sim_i2t', 'sim_t2i',
                'sim_i2t_targets', 'sim_t2i_targets'):
        checks.append(compare(f'forward_locals/{key}', got[key], loc[key]))
    head = model.itm_head
    checks += [
        compare('forward_locals/weights_i2t',
                head.negative_weights(got['sim_i2t'], idx),
                loc['weights_i2t']),
        compare('forward_locals/weights_t2i',
                head.negative_weights(got['sim_t2i'], idx),
                loc['weights_t2i']),
        compare('forward_locals/output_pos/last_hidden_state',
                got['itm_fused'][:b], loc['output_pos']['last_hidden_state']),
        compare('forward_locals/output_neg/last_hidden_state',
                got['itm_fused'][b:], loc['output_neg']['last_hidden_state']),
        compare('forward_locals/vl_output', got['itm_logits'],
                loc['vl_output']),
    ]
    for key, value in exp['queue_after'].items():
        checks.append(compare(f'queue_after/{key}',
                              getattr(model.itc_loss, key), value))
    checks += check_parameters(model, exp,
                               fixture['bert_config']['fusion_layer'])
    return checks
