"""Behaviour a package-wide mutation pass found untested: the layer stack's
image cycling, the causal masks, incremental decoding of the answer decoder,
ranking edge cases, the MLM random words and the data
preprocessor's per-call tokenisation arguments. Every expectation is a
hand-computed value or an independent computation."""
import pytest
import torch

from albef_mm.models.data_preprocessor import ALBEFDataPreprocessor
from albef_mm.models.heads import MLMHead
from albef_mm.models.heads.vqa_decoder_head import (VQADecoderHead,
                                                    causal_mask_with_past)
from albef_mm.models.heads.vqa_ranking import rank_answers
from albef_mm.models.layers import BertLayerStack, causal_additive_mask
from helpers.tiny import TINY_VOCAB

H = -10000.0  # the original's additive value for hidden keys


def test_layer_stack_cycles_image_list_layer_by_layer():
    """Layer i attends to element i mod len(list) (NLVR2: even layers to
    image 0, odd layers to image 1)."""
    torch.manual_seed(0)
    stack = BertLayerStack(4, cross_attention=True, hidden_size=16,
                           num_heads=2, intermediate_size=32,
                           encoder_width=8, hidden_dropout=0.,
                           attn_dropout=0.).eval()
    text = torch.randn(2, 5, 16)
    image0, image1 = torch.randn(2, 7, 8), torch.randn(2, 3, 8)
    out = stack(text, None, [image0, image1])
    expected = text
    for i, layer in enumerate(stack.layer):
        expected = layer(expected, None, (image0, image1)[i % 2])
    torch.testing.assert_close(out, expected)
    swapped = stack(text, None, [image1, image0])
    assert (swapped - out).abs().max() > 1e-3


def test_causal_additive_mask_hand_computed():
    mask = torch.tensor([[1, 1, 0]])
    out = causal_additive_mask(mask, torch.float32)
    expected = torch.tensor([[0, H, H], [0, 0, H], [0, 0, H]])
    assert out.shape == (1, 1, 3, 3)
    torch.testing.assert_close(out[0, 0], expected)


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
    kv, cmask = dec.project_question(states), dec.cross_mask(q_mask,
                                                              torch.float32)
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
    from parity.reference import rank_answers_repeat
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


def test_mlm_random_words_cover_the_whole_vocabulary():
    head = MLMHead(hidden_size=8, vocab_size=5, mask_prob=1.0,
                   mask_token_id=103, cls_token_id=101)
    ids = torch.full((400, 30), 2)
    gen = torch.Generator().manual_seed(0)
    masked, labels = head.mask_tokens(ids, generator=gen)
    assert (labels == 2).all()
    random = masked[(masked != 103) & (masked != 2)]
    assert random.numel() > 800
    assert set(random.unique().tolist()) == {0, 1, 3, 4}


def _preprocessor(**kw):
    return ALBEFDataPreprocessor(
        tokenizer=dict(type='ALBEFTokenizer', name_or_path=TINY_VOCAB), **kw)


def test_preprocessor_defaults_are_the_pretraining_tokenisation():
    pre = ALBEFDataPreprocessor()
    assert (pre.max_length, pre.truncation, pre.padding) == (25, True,
                                                             'longest')


def test_tokenize_arguments_override_the_preprocessor_defaults():
    # 40 words: [CLS] + 40 tokens (ALBEF's single texts have no [SEP])
    long_text = ' '.join(['red circle'] * 20)
    pre = _preprocessor(max_length=25, truncation=False)
    assert pre.tokenize(long_text)['text_ids'].shape == (1, 41)
    out = pre.tokenize(long_text, max_length=6, truncation=True)
    assert out['text_ids'].shape == (1, 6)
    pre = _preprocessor(max_length=25, truncation=True)
    assert pre.tokenize(long_text)['text_ids'].shape == (1, 25)
    assert pre.tokenize(long_text, truncation=False)['text_ids'].shape == (
        1, 41)
    padded = pre.tokenize('red', max_length=7, padding='max_length')
    assert padded['text_ids'].shape == (1, 7)
    assert padded['text_mask'].tolist() == [[1, 1, 0, 0, 0, 0, 0]]


def test_ve_distills_with_the_configured_alpha_without_any_hook():
    """SNLI-VE has no alpha warm-up (no AlphaWarmupHook): a freshly built
    model trains with alpha = 0.4 from its first step."""
    from test_nlvr_model import batch, perturb, tiny_cfg

    from albef_mm.registry import MODELS
    from albef_mm.structures import DataSample
    torch.manual_seed(0)
    model = perturb(MODELS.build(tiny_cfg('albef_snli_ve.py'))).train()
    with torch.no_grad():
        for p in model.cls_head_m.parameters():
            p.mul_(0.5)
    images, ids, mask = batch(pair=False)
    targets = torch.tensor([2, 0, 1])
    loss = model(images, ids, mask,
                 [DataSample(gt_label=int(t)) for t in targets],
                 mode='loss')['loss_cls']
    with torch.no_grad():
        z = model.classify(images, ids, mask)
        z_m = model.classify(images, ids, mask, momentum=True)
    soft = -(torch.log_softmax(z, 1) * torch.softmax(z_m, 1)).sum(1).mean()
    hard = torch.nn.functional.cross_entropy(z, targets)
    assert (soft - hard).abs() > 1e-3  # alpha visibly matters
    torch.testing.assert_close(loss.detach(), 0.6 * hard + 0.4 * soft)


def test_mlm_head_default_masks_15_percent_of_tokens():
    head = MLMHead(hidden_size=8, vocab_size=11)  # default mask_prob
    ids = torch.full((1000, 40), 5)
    _, labels = head.mask_tokens(ids, torch.Generator().manual_seed(0))
    assert abs((labels != -100).float().mean().item() - 0.15) < 0.005


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


def test_text_assignment_weights_are_row_softmax_without_self():
    from albef_mm.models.algorithms.nlvr2_ta import image_similarity_weights
    feat = torch.nn.functional.normalize(torch.tensor(
        [[1., 0.], [0.8, 0.6], [0., 1.]]), dim=-1)
    w = image_similarity_weights(feat, temp=0.5)
    sim = feat @ feat.t() / 0.5
    row0 = torch.exp(sim[0]) / torch.exp(sim[0]).sum()
    torch.testing.assert_close(w[0], torch.tensor([0., row0[1], row0[2]]))
    assert torch.equal(w.diag(), torch.zeros(3))
    # rows (not columns) sum to one before the diagonal is zeroed
    torch.testing.assert_close(
        w.sum(1) + torch.softmax(sim, 1).diag(), torch.ones(3))


def test_itm_fallback_draw_never_picks_the_sample_itself():
    from albef_mm.models.heads import ITMHead
    gen = torch.Generator().manual_seed(0)
    draws = torch.stack([ITMHead.draw(torch.zeros(3, 3), gen)
                         for _ in range(200)])
    assert not (draws == torch.arange(3)).any()
    assert set(draws[:, 0].tolist()) == {1, 2}  # uniform over the others
    single = ITMHead.draw(torch.zeros(1, 1), gen)
    assert single.tolist() == [0]


def test_vqa_loss_uses_the_current_alpha():
    """The answer loss distils with ``model.alpha`` (ramped during
    warm-up), not the final ``max_alpha``."""
    from test_vqa_model import manual_loss, question, vqa_cfg

    from albef_mm.registry import MODELS
    from albef_mm.structures import DataSample
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


def test_ve_classifies_the_fused_cls_token():
    """Logits = cls_head(fusion(text, image)[:, 0]), online and momentum."""
    from test_nlvr_model import batch, perturb, tiny_cfg

    from albef_mm.registry import MODELS
    torch.manual_seed(0)
    model = perturb(MODELS.build(tiny_cfg('albef_snli_ve.py'))).eval()
    images, ids, mask = batch(pair=False)
    with torch.no_grad():
        for sfx in ('', '_m'):
            fused = getattr(model, 'neck' + sfx)(
                getattr(model, 'text_backbone' + sfx)(ids, mask), mask,
                getattr(model, 'vision_backbone' + sfx)(images))
            expected = getattr(model, 'cls_head' + sfx)(fused[:, 0])
            got = model.classify(images, ids, mask, momentum=sfx == '_m')
            torch.testing.assert_close(got, expected)
            assert not torch.allclose(
                getattr(model, 'cls_head' + sfx)(fused[:, 1]), expected)


def test_linear_probe_standardises_and_minimises_the_l2_objective():
    """After ``fit``: features standardised with the training mean / std,
    the returned loss is ``CE + wd/2 ||W||^2`` and its gradient vanishes
    (the first-order optimality of that objective)."""
    from albef_mm.models.algorithms.linear_probe import \
        LogisticRegressionProbe
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(60, 4, generator=g) * torch.tensor([1., 5, .2, 2])
    labels = (feats[:, 0] + 0.3 * feats[:, 1] > 0).long() + \
        (feats[:, 2] > 0.1).long()
    probe = LogisticRegressionProbe(4, 3)
    wd = 0.5
    loss = probe.fit(feats, labels, weight_decay=wd, max_iter=200)
    torch.testing.assert_close(probe.mean, feats.mean(0))
    torch.testing.assert_close(probe.std, feats.std(0))
    w = probe.fc.weight.detach().clone().requires_grad_(True)
    b = probe.fc.bias.detach().clone().requires_grad_(True)
    x = (feats - feats.mean(0)) / feats.std(0)
    objective = torch.nn.functional.cross_entropy(x @ w.t() + b, labels) + \
        0.5 * wd * w.pow(2).sum()
    assert loss == pytest.approx(objective.item(), rel=1e-4)
    gw, gb = torch.autograd.grad(objective, (w, b))
    assert gw.abs().max() < 1e-4 and gb.abs().max() < 1e-4


def test_max_length_padding_without_truncation_pads_to_the_longest():
    pre = _preprocessor(max_length=25, truncation=False)
    out = pre.tokenize(['red circle blue square', 'red'], max_length=3,
                       padding='max_length', truncation=False)
    assert out['text_mask'].tolist() == [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]
    out = pre.tokenizer(['red', 'red circle'], padding=True)  # 'longest'
    assert out['attention_mask'].tolist() == [[1, 1, 0], [1, 1, 1]]
