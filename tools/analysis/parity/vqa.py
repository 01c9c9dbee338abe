"""Parity of ``ALBEFVQA`` with ``fixtures/vqa.pth`` (original
``models/model_vqa.py``): encoder states, answer ranking with the locals
of ``rank_answer``, the decoder NLL of every (question, answer) pair, and
the distilled training loss with its gradient norms."""
import re
from typing import Dict, List, Optional

import torch

from albef_mm.registry import MODELS
from .common import (Check, compare, load_fixture_weights, neck_cfg,
                     run_parts, text_backbone_cfg, vit_cfg)
from .reference import rank_answers_repeat

_DEC_LAYER = re.compile(r'^text_decoder\.bert\.encoder\.layer\.(\d+)\.')


def decoder_cfg(bert: dict, num_layers: int) -> dict:
    """``VQADecoderHead`` for the fixture's BERT config (xbert
    ``BertLMHeadModel`` with ``fusion_layer = 0``)."""
    return dict(type='VQADecoderHead', vocab_size=bert['vocab_size'],
                hidden_size=bert['hidden_size'], num_layers=num_layers,
                num_heads=bert['num_attention_heads'],
                intermediate_size=bert['intermediate_size'],
                max_position_embeddings=bert['max_position_embeddings'],
                type_vocab_size=bert['type_vocab_size'],
                encoder_width=bert['encoder_width'],
                layer_norm_eps=bert['layer_norm_eps'],
                hidden_dropout=bert['hidden_dropout_prob'],
                attn_dropout=bert['attention_probs_dropout_prob'],
                pad_token_id=bert.get('pad_token_id', 0))


def build_vqa_model(fixture: dict):
    """Project model for the fixture's configs with its weights loaded
    (strict)."""
    cfg, bert = fixture['config'], fixture['bert_config']
    fusion = bert['fusion_layer']
    layers = [int(m.group(1)) for m in map(_DEC_LAYER.match,
                                           fixture['model']) if m]
    model = MODELS.build(dict(
        type='ALBEFVQA', vision_backbone=vit_cfg(fixture),
        text_backbone=text_backbone_cfg(bert, fusion),
        neck=neck_cfg(bert, bert['num_hidden_layers'] - fusion),
        decoder_head=decoder_cfg(bert, max(layers) + 1),
        k_test=cfg['k_test'], eos=cfg.get('eos', '[SEP]'),
        distill=cfg['distill'], alpha=cfg['alpha']))
    return load_fixture_weights(model, fixture)


def _first_or_final(name: str, actual_first, actual_final, expected
                    ) -> Check:
    """The locals ``topk_ids`` / ``topk_probs`` are re-bound inside
    ``rank_answer``: accept either the first-stage or the final value and
    say which one matched."""
    check = compare(name, actual_first, expected)
    if not check.ok:
        final = compare(name, actual_final, expected)
        if final.ok:
            final.note = 'matches the re-bound (final) value'
            return final
    return check


@torch.no_grad()
def check_eval(fixture: dict) -> List[Check]:
    inp, exp = fixture['inputs'], fixture['outputs']['eval']
    k = fixture['config']['k_test']
    image, q_ids, q_atts = (inp['image'], inp['question_ids'],
                            inp['question_atts'])
    answers = (inp['answer_list_ids'], inp['answer_list_atts'])
    checks = []
    model = build_vqa_model(fixture).eval()
    image_embeds = model.vision_backbone(image)
    states = model.encode_question(image, q_ids, q_atts)
    checks += [compare('image_embeds', image_embeds, exp['image_embeds']),
               compare('question_states', states, exp['question_states'])]
    # the model's ranking, then the original's computation with its locals
    rec = {}
    for method, (ids, probs) in (
            ('cached', model.answer_questions(image, q_ids, q_atts, k,
                                              answers)),
            ('repeat', rank_answers_repeat(model.decoder_head, states,
                                           q_atts, *answers, k, model.score,
                                           rec))):
        checks += [compare(f'topk_ids[{method}]', ids, exp['topk_ids']),
                   compare(f'topk_probs[{method}]', probs,
                           exp['topk_probs'])]
    checks += _check_locals(model, rec, states, q_atts, answers, k, ids,
                            probs, exp['rank_answer_locals'])
    checks += _check_all_pairs(model, states, q_atts, answers, exp)
    return checks


def _check_locals(model, rec, states, q_atts, answers, k, ids, probs,
                  loc: Dict) -> List[Check]:
    a_ids, a_atts = answers
    dec = model.decoder_head
    flat = rec['first_topk_ids'].reshape(-1)
    input_ids, input_atts = a_ids[flat], a_atts[flat]
    tiled = states.repeat_interleave(k, 0)
    tiled_atts = q_atts.repeat_interleave(k, 0)
    logits = dec(input_ids, input_atts, tiled, tiled_atts)
    actual = {
        'start_output/logits': rec['logits'][:, None],
        'logits': rec['logits'],
        'answer_first_token': a_ids[:, 1],
        'prob_first_token': rec['prob_first_token'],
        'input_ids': input_ids, 'input_atts': input_atts,
        'targets_ids': input_ids.masked_fill(
            input_ids == dec.pad_token_id, -100),
        'question_states': tiled, 'question_atts': tiled_atts,
        'output/logits': logits,
        'output/loss': dec.answer_nll(logits, input_ids),
        'answer_loss': rec['answer_loss'], 'log_probs': rec['log_probs'],
        'log_probs_sum': rec['log_probs_sum'], 'rerank_id': rec['rerank_id'],
    }
    checks = []
    for name, value in actual.items():
        key = name.split('/')
        expected = loc
        for part in key:
            expected = expected.get(part) if isinstance(expected, dict) \
                else None
        if expected is None:
            expected = loc.get(name)
        if expected is not None:
            checks.append(compare(f'rank_answer_locals/{name}', value,
                                  expected))
    if 'topk_ids' in loc:
        checks.append(_first_or_final('rank_answer_locals/topk_ids',
                                      rec['first_topk_ids'], ids,
                                      loc['topk_ids']))
    if 'topk_probs' in loc:
        checks.append(_first_or_final('rank_answer_locals/topk_probs',
                                      rec['first_topk_probs'], probs,
                                      loc['topk_probs']))
    return checks


def _check_all_pairs(model, states, q_atts, answers, exp) -> List[Check]:
    a_ids, a_atts = answers
    dec, n = model.decoder_head, a_ids.size(0)
    nll, logits_q0 = [], None
    for q in range(states.size(0)):
        logits = dec(a_ids, a_atts, states[q:q + 1].expand(n, -1, -1),
                     q_atts[q:q + 1].expand(n, -1))
        nll.append(dec.answer_nll(logits, a_ids))
        if q == 0:
            logits_q0 = logits
    return [compare('all_pairs_answer_nll', torch.stack(nll),
                    exp['all_pairs_answer_nll']),
            compare('all_pairs_decoder_logits_q0', logits_q0,
                    exp['all_pairs_decoder_logits_q0'])]


def check_train(fixture: dict) -> List[Check]:
    """One training step as ``VQA.py`` runs it (momentum EMA, then the
    distilled loss), compared with the loss and gradient norms."""
    from albef_mm.engine import run_train_iteration
    inp, exp = fixture['inputs'], fixture['outputs']['train']
    model = build_vqa_model(fixture)
    model.train()
    model.zero_grad(set_to_none=True)
    idx = torch.as_tensor(inp['train_answer_index'])
    a_ids = inp['answer_list_ids'][idx]
    a_atts = inp['answer_list_atts'][idx]
    counts = torch.as_tensor(inp['train_k'])
    weights = torch.as_tensor(inp['train_answer_weights'])

    model.alpha = float(inp['alpha'])

    def step():
        loss = model.loss(inp['image'], inp['question_ids'],
                          inp['question_atts'], a_ids, a_atts, weights,
                          counts)['loss_vqa']
        loss.backward()
        return loss

    loss = run_train_iteration(model, step)
    checks = [compare('loss', loss, exp['loss'])]
    names = original_param_names(model, list(fixture['model']))
    params = dict(model.named_parameters(remove_duplicate=False))
    for orig, norm in exp.get('grad_norms', {}).items():
        grad = params[names[orig]].grad
        actual = grad.norm() if grad is not None else torch.tensor(0.)
        checks.append(compare(f'grad_norms/{orig}', actual, norm))
    return checks


def original_param_names(model, names: List[str]) -> Dict[str, str]:
    """Original key → albef_mm name, through the model's own checkpoint
    conversion (give every key of the state dict: the fusion layer is
    detected from them); keys the conversion drops are left out."""
    converted, _ = model.convert_original_state_dict(
        {n: i for i, n in enumerate(names)})
    by_index = {}
    for new, i in converted.items():
        by_index.setdefault(i, new)  # the first name, not a decoder copy
    return {n: by_index[i] for i, n in enumerate(names) if i in by_index}


def run(fixture: dict, parts: Optional[List[str]] = None,
        replay: str = 'inject'):
    """Yields ``(part, checks)`` for the ``eval`` and ``train`` parts (the
    VQA step draws no random numbers, so ``replay`` changes nothing)."""
    return run_parts(fixture, parts, 'vqa', dict(
        eval=lambda: check_eval(fixture), train=lambda: check_train(fixture)))
