"""The parity tool's VQA support, on a fixture in the layout of the
original-code ``vqa.pth`` (see the fixture README, section 6) written here:
weights in the original ``model_vqa.py`` key layout, inputs, the locals of
``rank_answer`` computed by a step-by-step transcription of the original
procedure, and the training loss with gradient norms."""
import numpy as np
import torch
import torch.nn.functional as F

from parity import detect_task, run_fixture
from parity.vqa import decoder_cfg

from albef_mm.registry import MODELS

BERT = dict(vocab_size=512, hidden_size=64, num_hidden_layers=4,
            fusion_layer=2, num_attention_heads=2, intermediate_size=128,
            max_position_embeddings=64, type_vocab_size=2, encoder_width=64,
            hidden_act='gelu', hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0, layer_norm_eps=1e-12,
            pad_token_id=0)
VIT = dict(img_size=64, patch_size=16, embed_dim=64, depth=2, num_heads=2)
GRAD_NAMES = ('visual_encoder.blocks.0.attn.qkv.weight',
              'text_encoder.embeddings.word_embeddings.weight',
              'text_encoder.encoder.layer.3.crossattention.self.key.weight',
              'text_decoder.bert.encoder.layer.5.crossattention.self.'
              'value.weight',
              'text_decoder.bert.embeddings.word_embeddings.weight',
              'text_decoder.cls.predictions.bias')


def to_original(state):
    """albef_mm ALBEFVQA names → original ``model_vqa.py`` names."""
    out = {}
    for k, v in state.items():
        head, _, rest = k.partition('.')
        s = '_m' if head.endswith('_m') else ''
        base = head[:-2] if s else head
        if base == 'vision_backbone':
            out[f'visual_encoder{s}.{rest}'] = v
        elif base == 'text_backbone':
            out[f'text_encoder{s}.{rest}'] = v
        elif base == 'neck':
            _, _, i, tail = rest.split('.', 3)
            out[f'text_encoder{s}.encoder.layer.{int(i) + 2}.{tail}'] = v
        elif rest.startswith('predictions.'):
            out[f'text_decoder{s}.cls.{rest}'] = v
        else:
            out[f'text_decoder{s}.bert.{rest}'] = v
    for s in ('', '_m'):
        out[f'text_encoder{s}.embeddings.position_ids'] = \
            torch.arange(64)[None]
        out[f'text_decoder{s}.bert.embeddings.position_ids'] = \
            torch.arange(64)[None]
    return out


def original_rank_answer(dec, question_states, question_atts, answer_ids,
                         answer_atts, k):
    """``ALBEF.rank_answer`` step by step (tile, per-row index_select)."""
    loc = {}
    num_ques = question_states.size(0)
    start_ids = answer_ids[0, 0].repeat(num_ques, 1)
    start_logits = dec(start_ids, torch.ones_like(start_ids),
                       question_states, question_atts)
    loc['start_output'] = {'logits': start_logits}
    logits = start_logits[:, 0, :]
    answer_first_token = answer_ids[:, 1]
    prob_first_token = F.softmax(logits, dim=1).index_select(
        dim=1, index=answer_first_token)
    topk_probs, topk_ids = prob_first_token.topk(k, dim=1)
    input_ids = torch.cat([answer_ids.index_select(0, t) for t in topk_ids])
    input_atts = torch.cat([answer_atts.index_select(0, t)
                            for t in topk_ids])
    targets_ids = input_ids.masked_fill(input_ids == 0, -100)
    order = torch.LongTensor(np.concatenate(
        [num_ques * np.arange(k) + i for i in range(num_ques)]))
    q_states = question_states.repeat(k, 1, 1).index_select(0, order)
    q_atts = question_atts.repeat(k, 1).index_select(0, order)
    out_logits = dec(input_ids, input_atts, q_states, q_atts)
    shifted = out_logits[:, :-1]
    loss = F.cross_entropy(shifted.reshape(-1, 512),
                           targets_ids[:, 1:].reshape(-1),
                           reduction='none').view(input_ids.size(0), -1)
    answer_loss = loss.sum(1)
    loc['output'] = {'loss': answer_loss, 'logits': out_logits}
    answer_loss = answer_loss.view(input_ids.size(0), -1)
    log_probs = torch.cat([topk_probs.view(-1, 1).log(), -answer_loss], 1)
    log_probs_sum = log_probs.sum(1).view(num_ques, k)
    probs = F.softmax(log_probs_sum, dim=-1)
    probs, rerank_id = probs.topk(k, dim=1)
    ids = torch.gather(topk_ids, 1, rerank_id)
    loc.update(logits=logits, answer_first_token=answer_first_token,
               prob_first_token=prob_first_token, input_ids=input_ids,
               input_atts=input_atts, targets_ids=targets_ids,
               question_states=q_states, question_atts=q_atts,
               answer_loss=answer_loss, log_probs=log_probs,
               log_probs_sum=log_probs_sum, rerank_id=rerank_id,
               topk_ids=ids, topk_probs=probs)
    return ids, probs, loc


def make_fixture():
    torch.manual_seed(0)
    from parity.common import neck_cfg, text_backbone_cfg
    model = MODELS.build(dict(
        type='ALBEFVQA',
        vision_backbone=dict(type='ALBEFViT', img_size=64, patch_size=16,
                             embed_dims=64, num_layers=2, num_heads=2),
        text_backbone=text_backbone_cfg(BERT, 2), neck=neck_cfg(BERT, 2),
        decoder_head=decoder_cfg(BERT, 6), k_test=3))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    model.copy_params()
    torch.manual_seed(2)
    image = torch.randn(4, 3, 64, 64)
    q_ids = torch.zeros(4, 10, dtype=torch.long)
    q_atts = torch.zeros(4, 10, dtype=torch.long)
    for b, n in enumerate((10, 7, 5, 9)):
        q_ids[b, :n] = torch.randint(104, 512, (n, ))
        q_ids[b, 0], q_ids[b, n - 1] = 101, 102
        q_atts[b, :n] = 1
    a_ids = torch.zeros(6, 6, dtype=torch.long)
    a_atts = torch.zeros(6, 6, dtype=torch.long)
    firsts = torch.randperm(400)[:6] + 104
    for a, n in enumerate((1, 2, 3, 1, 2, 1)):
        a_ids[a, 0] = 101
        a_ids[a, 1] = firsts[a]
        a_ids[a, 2:n + 1] = torch.randint(104, 512, (n - 1, ))
        a_ids[a, n + 1:n + 3] = 102
        a_atts[a, :n + 3] = 1
    model.eval()
    with torch.no_grad():
        image_embeds = model.vision_backbone(image)
        states = model.encode_question(image, q_ids, q_atts)
        ids, probs, loc = original_rank_answer(model.decoder_head, states,
                                               q_atts, a_ids, a_atts, 3)
        nll, logits_q0 = [], None
        for q in range(4):
            logits = model.decoder_head(a_ids, a_atts,
                                        states[q:q + 1].expand(6, -1, -1),
                                        q_atts[q:q + 1].expand(6, -1))
            nll.append(model.decoder_head.answer_nll(logits, a_ids))
            logits_q0 = logits if q == 0 else logits_q0
    state = model.state_dict()
    # training: the original forward (momentum update, per-question lists)
    train_k, index = [2, 1, 1, 2], torch.tensor([3, 0, 5, 1, 2, 4])
    weights = torch.tensor([0.6, 0.4, 1.0, 0.5, 0.3, 0.7])
    model.train()
    model.momentum_update()
    ans_ids, ans_atts = a_ids[index], a_atts[index]
    st = model.encode_question(image, q_ids, q_atts)
    rows = [b for b, n in enumerate(train_k) for _ in range(n)]
    with torch.no_grad():
        st_m = model.encode_question(image, q_ids, q_atts, momentum=True)
        logits_m = model.decoder_head_m(ans_ids, ans_atts,
                                        torch.stack([st_m[r] for r in rows]),
                                        torch.stack([q_atts[r]
                                                     for r in rows]))
    logits = model.decoder_head(ans_ids, ans_atts,
                                torch.stack([st[r] for r in rows]),
                                torch.stack([q_atts[r] for r in rows]))
    per = model.decoder_head.answer_nll(logits, ans_ids,
                                        F.softmax(logits_m[:, :-1], -1), 0.4)
    loss = (weights * per).sum() / 4
    loss.backward()
    params = dict(model.named_parameters(remove_duplicate=False))
    names = {'visual_encoder.': 'vision_backbone.',
             'text_encoder.embeddings.': 'text_backbone.embeddings.',
             'text_encoder.encoder.layer.3.': 'neck.encoder.layer.1.',
             'text_decoder.bert.': 'decoder_head.',
             'text_decoder.cls.': 'decoder_head.'}
    grad_norms = {}
    for orig in GRAD_NAMES:
        mm = orig
        for a, b in names.items():
            mm = mm.replace(a, b)
        grad_norms[orig] = params[mm].grad.norm().detach()
    return dict(
        model=to_original(state), config=dict(image_res=64, alpha=0.4,
                                              distill=True, k_test=3,
                                              eos='[SEP]'),
        bert_config=BERT, meta=dict(tiny_vit=VIT), momentum_equals_main=True,
        inputs=dict(image=image, question_ids=q_ids, question_atts=q_atts,
                    answer_list_ids=a_ids, answer_list_atts=a_atts, k_test=3,
                    train_k=train_k, train_answer_index=index,
                    train_answer_weights=weights, alpha=0.4),
        outputs=dict(eval=dict(
            topk_ids=ids, topk_probs=probs, rank_answer_locals=loc,
            image_embeds=image_embeds, question_states=states,
            all_pairs_answer_nll=torch.stack(nll),
            all_pairs_decoder_logits_q0=logits_q0),
            train=dict(loss=loss.detach(), grad_norms=grad_norms)))


def _results(fixture):
    return dict(run_fixture(fixture))


def test_vqa_fixture_layout_round_trip(tmp_path):
    fixture = make_fixture()
    path = tmp_path / 'vqa.pth'
    torch.save(fixture, path)
    fixture = torch.load(path)  # weights_only=True, as the tool loads it
    assert detect_task(fixture) == 'vqa'
    results = _results(fixture)
    assert set(results) == {'eval', 'train'}
    bad = [c.name for checks in results.values() for c in checks
           if not c.ok]
    assert not bad, bad
    names = {c.name for c in results['eval']}
    assert {'topk_ids[cached]', 'topk_probs[repeat]',
            'rank_answer_locals/log_probs_sum',
            'rank_answer_locals/output/logits',
            'rank_answer_locals/start_output/logits',
            'all_pairs_answer_nll', 'question_states'} <= names
    assert len(results['eval']) >= 24
    assert {f'grad_norms/{n}' for n in GRAD_NAMES} <= {
        c.name for c in results['train']}
    # locals' topk_* hold the re-bound final values in this file
    notes = {c.name: c.note for c in results['eval']}
    assert 'final' in notes['rank_answer_locals/topk_ids']
    from albef_parity import main
    assert main([str(path)]) == 0


def test_vqa_parity_detects_wrong_outputs():
    fixture = make_fixture()
    ev = fixture['outputs']['eval']
    ev['topk_probs'] = ev['topk_probs'] + 1e-3
    ev['rank_answer_locals']['answer_loss'][0, 0] += 1e-3
    tr = fixture['outputs']['train']
    tr['loss'] = tr['loss'] * 1.001
    results = _results(fixture)
    bad = {c.name for checks in results.values() for c in checks
           if not c.ok}
    # answer_loss is a view of output.loss (as in the original)
    assert bad == {'topk_probs[cached]', 'topk_probs[repeat]',
                   'rank_answer_locals/answer_loss',
                   'rank_answer_locals/output/loss', 'loss'}
