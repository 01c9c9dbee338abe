"""ALBEFVQA: answer loss, answer-list ranking (brute force, cached vs
repeated), decoder initialisation from a pre-training checkpoint."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from parity.reference import rank_answers_repeat

from albef_mm.checkpoint import load_checkpoint_to_model
from albef_mm.models.heads.vqa_decoder_head import (VQADecoderHead,
                                                    causal_mask_with_past)
from albef_mm.models.heads.vqa_ranking import rank_answers, rerank
from albef_mm.models.momentum import MomentumPairs
from albef_mm.registry import MODELS
from albef_mm.structures import DataSample
from helpers import tiny_pretrain_model_cfg
from test_nlvr_model import to_original_pretrain
from helpers.tiny import CONFIG_ROOT, TINY_OVERRIDES, TINY_VOCAB

ANSWERS = ['red', 'green', 'blue', 'yes', 'no', 'two', 'a red circle',
           'large square', 'circle']


def vqa_cfg(**kw):
    cfg = Config.fromfile(
        osp.join(CONFIG_ROOT, '_base_', 'models', 'albef_vqa.py'))
    tiny = {k: TINY_OVERRIDES[k]
            for k in ('vision_backbone', 'text_backbone', 'neck')}
    cfg.merge_from_dict(dict(model=tiny))
    cfg.merge_from_dict(dict(model=dict(
        vision_backbone=dict(img_size=64),
        text_backbone=dict(hidden_dropout=0., attn_dropout=0.),
        neck=dict(hidden_dropout=0., attn_dropout=0.),
        decoder_head=dict(vocab_size=512, hidden_size=64, num_layers=2,
                          num_heads=2, intermediate_size=128,
                          max_position_embeddings=64, hidden_dropout=0.,
                          attn_dropout=0., init_std=0.2),
        answer_list=None, k_test=4, pretrained_text=None,
        data_preprocessor=dict(tokenizer=dict(name_or_path=TINY_VOCAB)))))
    cfg.model.update(kw)
    return cfg.model.to_dict()


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    m = MODELS.build(vqa_cfg(answer_list=ANSWERS)).eval()
    # perturb every weight so that outputs depend clearly on the inputs
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return m


def question(model, texts):
    tok = model.data_preprocessor.tokenize(texts)
    return tok['text_ids'], tok['text_mask']


def test_config_builds_full_size_decoder_layout():
    cfg = Config.fromfile(
        osp.join(CONFIG_ROOT, '_base_', 'models', 'albef_vqa.py')).model
    assert cfg.type == 'ALBEFVQA' and cfg.decoder_head.num_layers == 6
    assert cfg.k_test == 128 and cfg.eos == '[SEP]'
    assert cfg.vision_backbone.img_size == 384


def brute_force(model, states, q_mask, k_all):
    """Score of every answer for every question, from plain decoder calls."""
    ids, mask = model.answer_tokens()
    dec = model.decoder_head
    scores = []
    for q in range(states.size(0)):
        n = ids.size(0)
        logits = dec(ids, mask, states[q:q + 1].expand(n, -1, -1),
                     q_mask[q:q + 1].expand(n, -1))
        nll = dec.answer_nll(logits, ids)
        first = F.log_softmax(logits[0, 0], -1)[ids[:, 1]]
        scores.append(first - nll)
    return torch.stack(scores)


@pytest.mark.parametrize('method', ['cached', 'repeat'])
def test_ranking_equals_brute_force_when_k_is_list_size(model, method):
    torch.manual_seed(1)
    images = torch.randn(3, 3, 64, 64)
    ids, mask = question(model, ['what color is it', 'is there a circle',
                                 'how many'])
    states = model.encode_question(images, ids, mask)
    a_ids, a_mask = model.answer_tokens()
    fn = rank_answers if method == 'cached' else rank_answers_repeat
    top_ids, top_probs = fn(model.decoder_head, states, mask, a_ids, a_mask,
                            k=len(ANSWERS))
    expected = brute_force(model, states, mask, len(ANSWERS)).softmax(-1)
    order = expected.argsort(dim=1, descending=True)
    assert torch.equal(top_ids, order)
    torch.testing.assert_close(top_probs, expected.gather(1, order),
                               rtol=1e-5, atol=1e-6)
    # the scores differ clearly between answers (a real test of the order)
    assert (top_probs[:, 0] - top_probs[:, -1]).min() > 1e-3


@pytest.mark.parametrize('score', ['original', 'lavis'])
def test_cached_ranking_equals_repeated_question_ranking(model, score):
    torch.manual_seed(2)
    images = torch.randn(4, 3, 64, 64)
    ids, mask = question(model, ['what color is the big square on the left',
                                 'yes', 'what shape', 'is it red'])
    assert mask.sum(1).unique().numel() > 1  # padded questions
    states = model.encode_question(images, ids, mask)
    a_ids, a_mask = model.answer_tokens()
    rec = {}
    c = rank_answers(model.decoder_head, states, mask, a_ids, a_mask, 4,
                     score)
    r = rank_answers_repeat(model.decoder_head, states, mask, a_ids, a_mask,
                            4, score, rec)
    assert torch.equal(c[0], r[0])
    torch.testing.assert_close(c[1], r[1], rtol=1e-5, atol=1e-6)
    # answers of several lengths were ranked
    lengths = a_mask[rec['first_topk_ids'].reshape(-1)].sum(1)
    assert lengths.unique().numel() > 1


def test_original_score_counts_first_token_twice():
    """``'original'`` adds log p(first token) to -NLL, ``'lavis'`` does
    not: hand values where that flips the order."""
    first_probs = torch.tensor([[0.1, 0.9]])
    first_ids = torch.tensor([[3, 7]])
    nll = torch.tensor([0.1, 0.5])
    ids, probs = rerank(first_probs, first_ids, nll, 'original')
    scores = torch.tensor([0.9, 0.1]).log() - torch.tensor([0.5, 0.1])
    assert ids.tolist() == [[7, 3]]
    torch.testing.assert_close(probs, scores.softmax(-1)[None])
    ids, probs = rerank(first_probs, first_ids, nll, 'lavis')
    assert ids.tolist() == [[3, 7]]
    torch.testing.assert_close(probs, torch.tensor([[-0.1, -0.5]]).softmax(
        -1))


def test_predict_writes_top_answers(model):
    torch.manual_seed(4)
    images = torch.randn(2, 3, 64, 64)
    samples = [DataSample(text='what color is it', question_id=7),
               DataSample(text='is there a ' + 'very ' * 8 + 'big circle',
                          question_id=8)]
    out = model.predict(images, None, None, samples, topk=3)
    assert [s.question_id for s in out] == [7, 8]
    for s in out:
        assert s.pred_answer == s.pred_answers[0] and s.pred_answer in ANSWERS
        assert len(s.pred_scores) == 3
        assert s.pred_scores == sorted(s.pred_scores, reverse=True)


def manual_loss(model, images, q_ids, q_mask, answers, weights, alpha):
    """Per question, per answer, straight from the decoder calls."""
    tok = model.data_preprocessor.tokenize
    total = 0.
    for b, (ans, w) in enumerate(zip(answers, weights)):
        st = model.encode_question(images[b:b + 1], q_ids[b:b + 1],
                                   q_mask[b:b + 1])
        st_m = model.encode_question(images[b:b + 1], q_ids[b:b + 1],
                                     q_mask[b:b + 1], momentum=True)
        for a, wa in zip(ans, w):
            t = tok([a + '[SEP]'])
            a_ids, a_mask = t['text_ids'], t['text_mask']
            logits = model.decoder_head(a_ids, a_mask, st, q_mask[b:b + 1])
            logits_m = model.decoder_head_m(a_ids, a_mask, st_m,
                                            q_mask[b:b + 1])
            logp = F.log_softmax(logits[0, :-1], -1)
            target = a_ids[0, 1:]
            hard = -logp.gather(1, target[:, None]).sum()
            soft = -(logp * logits_m[0, :-1].softmax(-1)).sum()
            total = total + wa * ((1 - alpha) * hard + alpha * soft)
    return total / len(answers)


def test_loss_is_weighted_distilled_answer_nll_per_question():
    torch.manual_seed(5)
    model = MODELS.build(vqa_cfg())
    model.init_weights()
    with torch.no_grad():  # momentum branch differs from the online one
        for p in model.decoder_head_m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    model.alpha = 0.4
    images = torch.randn(3, 3, 64, 64)
    q_ids, q_mask = question(model, ['what color is it', 'how many',
                                     'is there a red square'])
    answers = [['red', 'a red circle'], ['two'], ['yes', 'no', 'yes no']]
    weights = [[0.7, 0.3], [0.5], [0.6, 0.2, 0.2]]
    samples = [DataSample(gt_answer=a, gt_answer_weight=w)
               for a, w in zip(answers, weights)]
    loss = model(images, q_ids, q_mask, samples, mode='loss')['loss_vqa']
    expected = manual_loss(model, images, q_ids, q_mask, answers, weights,
                           0.4)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)
    loss.backward()
    assert model.decoder_head.layer[0].crossattention.self.key.weight \
        .grad.abs().sum() > 0
    assert all(p.grad is None for p in model.decoder_head_m.parameters())
    model.distill = False
    hard = model(images, q_ids, q_mask, samples, mode='loss')['loss_vqa']
    expected = manual_loss(model, images, q_ids, q_mask, answers, weights,
                           0.0)
    torch.testing.assert_close(hard, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match='gt_answer'):
        model(images, q_ids, q_mask, [DataSample()] * 3, mode='loss')


def test_model_contract():
    model = MODELS.build(vqa_cfg())
    assert model.required_train_hooks == ('MomentumUpdateHook',
                                          'AlphaWarmupHook')
    assert not hasattr(model, 'itc_head')
    online = {id(p) for p in model.decoder_head.parameters()}
    pairs = MomentumPairs(model.momentum_module_pairs())
    assert sum(id(p) in online for p in pairs.online) == len(online)
    # decoder LM head tied to the decoder's own word embeddings
    dec = model.decoder_head
    assert dec.predictions.decoder.weight is \
        dec.embeddings.word_embeddings.weight
    with pytest.raises(RuntimeError, match='answer list'):
        model.answer_tokens()
    # a file is read when first needed; a missing one is named
    model = MODELS.build(vqa_cfg(answer_list='no/such/answers.json'))
    with pytest.raises(FileNotFoundError, match='no/such/answers.json'):
        model.answer_tokens()


def _pretrain_model():
    torch.manual_seed(6)
    cfg = tiny_pretrain_model_cfg()
    m = MODELS.build(cfg)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return m


def _expected_copies(state):
    copies = {}
    for k in state:
        for s in ('', '_m'):
            if k.startswith(f'text_backbone{s}.embeddings.'):
                copies[k.replace(f'text_backbone{s}', f'decoder_head{s}',
                                 1)] = k
            if k.startswith(f'neck{s}.encoder.layer.'):
                copies[k.replace(f'neck{s}', f'decoder_head{s}', 1)] = k
            if k.startswith(f'mlm_head{s}.predictions.'):
                copies[k.replace(f'mlm_head{s}', f'decoder_head{s}', 1)] = k
    return copies


def test_decoder_initialised_from_project_pretrain_checkpoint():
    from albef_mm.models.algorithms.vqa import init_decoder_from_pretrain
    pre = _pretrain_model()
    state = pre.state_dict()
    _, copied = init_decoder_from_pretrain(state, 2)
    assert copied == _expected_copies(state)
    # exactly: embeddings (+ the tied LM weight), 2 fusion layers, MLM head,
    # online and momentum
    model = MODELS.build(vqa_cfg())
    report = model.load_pretrain({'state_dict': state})
    dec_state = model.state_dict()
    for new, src in copied.items():
        assert torch.equal(dec_state[new], state[src]), new
    decoder_keys = {k for k in dec_state if k.startswith('decoder_head')}
    assert decoder_keys == set(copied)
    assert not any(k.startswith('mlm_head') for k in report.unexpected)
    assert report.unexpected and all(
        k.startswith(('itc_head', 'itc_loss', 'itm_head'))
        for k in report.unexpected)
    assert not report.missing
    # the same through init_weights (start of training)
    model2 = MODELS.build(vqa_cfg(init_from_pretrain='x.pth'))
    model2.load_pretrain = lambda path: (model2.load_state_dict(
        model.state_dict()) if path == 'x.pth' else None)
    model2.init_weights()
    assert torch.equal(model2.decoder_head.layer[1].output.dense.weight,
                       state['neck.encoder.layer.1.output.dense.weight'])
    with pytest.raises(ValueError, match='already holds an answer decoder'):
        model.load_pretrain({'state_dict': model.state_dict()})


def test_decoder_initialised_from_original_pretrain_checkpoint():
    pre = _pretrain_model()
    state = pre.state_dict()
    orig = to_original_pretrain(state)
    model = MODELS.build(vqa_cfg())
    report = load_checkpoint_to_model(model, {'model': orig})
    assert report.converted and report.unexpected
    assert all(k.startswith(('itc_head', 'itc_loss', 'itm_head'))
               for k in report.unexpected)
    assert report.converted and not report.missing
    dec_state = model.state_dict()
    copied = _expected_copies(state)
    for new, src in copied.items():
        assert torch.equal(dec_state[new], state[src]), new
    assert {k for k in dec_state if k.startswith('decoder_head')} == \
        set(copied)
    # the encoder keeps all its layers
    assert torch.equal(dec_state['neck.encoder.layer.1.output.dense.weight'],
                       state['neck.encoder.layer.1.output.dense.weight'])


def test_released_vqa_layout_converts_strictly():
    """A state dict in the layout of the released VQA model (BertModel
    encoder, BertLMHeadModel decoder) loads with nothing missing."""
    model = MODELS.build(vqa_cfg())
    own = model.state_dict()
    orig = {}
    for k, v in own.items():
        head, _, rest = k.partition('.')
        s = '_m' if head.endswith('_m') else ''
        base = head[:-2] if s else head
        if base == 'vision_backbone':
            orig[f'visual_encoder{s}.{rest}'] = v + 1
        elif base == 'text_backbone':
            orig[f'text_encoder{s}.{rest}'] = v + 1
        elif base == 'neck':
            parts = rest.split('.', 3)
            orig[f'text_encoder{s}.encoder.layer.{int(parts[2]) + 2}.'
                 f'{parts[3]}'] = v + 1
        elif base == 'decoder_head':
            if rest.startswith('predictions.'):
                orig[f'text_decoder{s}.cls.{rest}'] = v + 1
            else:
                orig[f'text_decoder{s}.bert.{rest}'] = v + 1
    orig['text_decoder.bert.embeddings.position_ids'] = torch.arange(64)[None]
    fresh = MODELS.build(vqa_cfg())
    report = load_checkpoint_to_model(fresh, {'model': orig}, strict=True)
    assert not report.missing and not report.unexpected
    assert 'text_decoder.bert.embeddings.position_ids' in report.dropped
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, own[k] + 1), k


H = -10000.0  # the original's additive value for hidden keys


def test_causal_mask_with_past_hand_computed():
    # one past position, queries at positions 1..3, key 3 is padding
    mask = torch.tensor([[1, 1, 1, 0]])
    out = causal_mask_with_past(mask, past=1, length=3, dtype=torch.float32)
    expected = torch.tensor([[0, 0, H, H], [0, 0, 0, H], [0, 0, 0, H]])
    assert out.shape == (1, 1, 3, 4)
    torch.testing.assert_close(out[0, 0], expected)


def _decoder():
    torch.manual_seed(0)
    dec = VQADecoderHead(vocab_size=40, hidden_size=16, num_layers=2,
                         num_heads=2, intermediate_size=32,
                         max_position_embeddings=16, hidden_dropout=0.,
                         attn_dropout=0., init_std=0.3).eval()
    return dec


@torch.no_grad()
def test_decoder_incremental_decoding_equals_full_decoding():
    """``decode(past=...)`` continues at the right positions with the past
    keys/values first: equal to decoding the whole sequence at once."""
    dec = _decoder()
    ids = torch.tensor([[1, 5, 9, 7, 2], [1, 6, 2, 0, 0]])
    mask = (ids != 0).long()
    states, q_mask = torch.randn(2, 4, 16), torch.ones(2, 4)
    kv = dec.project_question(states)
    cmask = dec.cross_mask(q_mask, torch.float32)
    full = dec.decode(ids, mask, kv, cmask)
    h0, past = dec.decode(ids[:, :1], mask[:, :1], kv, cmask,
                          return_past=True)
    rest = dec.decode(ids[:, 1:], mask, kv, cmask, past=past)
    torch.testing.assert_close(h0, full[:, :1])
    torch.testing.assert_close(rest, full[:, 1:], rtol=1e-5, atol=1e-5)
    # two steps of past as well
    h01, past2 = dec.decode(ids[:, :2], mask[:, :2], kv, cmask,
                            return_past=True)
    assert past2[0][0].shape == (2, 2, 2, 8)
    rest2 = dec.decode(ids[:, 2:], mask, kv, cmask, past=past2)
    torch.testing.assert_close(rest2, full[:, 2:], rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_ranking_clamps_k_and_scores_an_empty_answer_zero():
    """k above the list size ranks the whole list; an answer row with no
    target token (start then padding) has answer loss 0 (the original's
    computation, with its locals), so with the LAVIS score it ranks first,
    in both paths."""
    dec = _decoder()
    answers = torch.tensor([[1, 5, 2, 0], [1, 6, 7, 2], [1, 0, 0, 0],
                            [1, 9, 2, 0]])
    a_mask = (answers != 0).long()
    states, q_mask = torch.randn(2, 3, 16), torch.ones(2, 3)
    rec = {}
    ref_ids, ref_probs = rank_answers_repeat(dec, states, q_mask, answers,
                                             a_mask, k=4, score='lavis',
                                             record=rec)
    loss = rec['answer_loss'].view(2, 4)
    first = rec['first_topk_ids']
    empty = loss[first == 2]
    assert empty.numel() == 2 and torch.equal(empty, torch.zeros(2))
    assert (loss[first != 2] > 0).all()
    assert ref_ids[:, 0].tolist() == [2, 2]
    for k in (4, 9):
        ids, probs = rank_answers(dec, states, q_mask, answers, a_mask,
                                  k=k, score='lavis')
        assert ids.shape == (2, 4)
        assert torch.equal(ids, ref_ids)
        torch.testing.assert_close(probs, ref_probs)


def test_decoder_init_copies_only_the_first_num_layers_fusion_layers():
    """A decoder shallower than the fusion neck takes neck layers
    0..num_layers-1 (online and momentum); the MLM keys move, the rest
    stays."""
    from albef_mm.models.algorithms.vqa import init_decoder_from_pretrain
    state = {}
    for sfx in ('', '_m'):
        for i in range(4):
            state[f'neck{sfx}.encoder.layer.{i}.output.dense.weight'] = \
                torch.full((1, ), float(i))
        state[f'text_backbone{sfx}.embeddings.word_embeddings.weight'] = \
            torch.zeros(1)
        state[f'text_backbone{sfx}.encoder.layer.0.output.dense.weight'] = \
            torch.zeros(1)
        state[f'mlm_head{sfx}.predictions.bias'] = torch.zeros(1)
    state['itc_head.temp'] = torch.zeros(())
    out, copied = init_decoder_from_pretrain(state, 2)
    dec = sorted(k for k in out if k.startswith('decoder_head.encoder'))
    assert dec == ['decoder_head.encoder.layer.0.output.dense.weight',
                   'decoder_head.encoder.layer.1.output.dense.weight']
    assert out['decoder_head_m.encoder.layer.1.output.dense.weight'] == 1.
    assert not any(k.startswith('mlm_head') for k in out)
    assert 'decoder_head.predictions.bias' in out
    assert 'decoder_head_m.embeddings.word_embeddings.weight' in out
    assert not any('decoder_head.encoder.layer.0.output' in k and
                   copied[k].startswith('text_backbone') for k in copied)
    assert len(out) == len(state) - 2 + 2 * (2 + 1 + 1)


def test_vqa_loss_uses_the_current_alpha():
    """The answer loss distils with ``model.alpha`` (ramped during
    warm-up), not the final ``max_alpha``."""
    torch.manual_seed(5)
    model = MODELS.build(vqa_cfg())
    model.init_weights()
    with torch.no_grad():
        for p in model.decoder_head_m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    assert model.max_alpha == 0.4
    model.alpha = 0.1
    images = torch.randn(2, 3, 64, 64)
    q_ids, q_mask = question(model, ['what color is it', 'how many'])
    answers, weights = [['red', 'blue'], ['two']], [[0.6, 0.4], [1.0]]
    samples = [DataSample(gt_answer=a, gt_answer_weight=w)
               for a, w in zip(answers, weights)]
    loss = model(images, q_ids, q_mask, samples, mode='loss')['loss_vqa']
    expected = manual_loss(model, images, q_ids, q_mask, answers, weights,
                           0.1)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)
