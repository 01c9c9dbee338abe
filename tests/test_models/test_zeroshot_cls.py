"""ALBEFZeroShotClassifier: class embeddings, prompt averaging, ITC
prediction, ITM re-ranking, checkpoint compatibility."""
import pytest
import torch
import torch.nn.functional as F
from conftest import oracle_fixture

from albef_mm.checkpoint import load_checkpoint_to_model
from albef_mm.datasets.transforms.text import pre_caption
from albef_mm.registry import MODELS
from helpers.tiny import tiny_pretrain_model_cfg

CLASSES = ['circle', 'square', 'red cross']
TEMPLATES = ['a {}.', 'there is a {} here.', 'an image of the {}']


def _cfg(**kw):
    cfg = tiny_pretrain_model_cfg()
    cfg['type'] = 'ALBEFZeroShotClassifier'
    cfg.update(classnames=CLASSES, templates=TEMPLATES)
    cfg.update(kw)
    return cfg


@pytest.fixture()
def model():
    torch.manual_seed(0)
    m = MODELS.build(_cfg())
    m.init_weights()
    return m.eval()


def _prompt_feat(model, text):
    tok = model.data_preprocessor.tokenize([text])
    return model.extract_feat(text_ids=tok['text_ids'],
                              text_mask=tok['text_mask'],
                              mode='text')['text_feat'][0]


def test_class_embeddings_equal_direct_computation(model):
    emb = model.class_embeddings()
    assert emb.shape == (len(CLASSES), 32)
    for c, name in enumerate(CLASSES):
        # one prompt at a time (no padding), outside the batched path
        feats = torch.stack([_prompt_feat(model, pre_caption(t.format(name)))
                             for t in TEMPLATES])
        expected = F.normalize(feats.mean(0), dim=-1)
        torch.testing.assert_close(emb[c], expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(len(CLASSES)))


def test_prompt_averaging(model):
    feats = model._cache['prompt_feats'] if model._cache else None
    assert feats is None  # nothing is encoded before first use
    emb = model.class_embeddings()
    feats = model._cache['prompt_feats']
    assert feats.shape == (len(CLASSES), len(TEMPLATES), 32)
    # templates give different prompt features; their mean is re-normalised
    assert not torch.allclose(feats[:, 0], feats[:, 1], atol=1e-4)
    torch.testing.assert_close(emb, F.normalize(feats.mean(1), dim=-1))
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(len(CLASSES)))
    # one template: the class embedding is that prompt's feature
    model.set_classes(CLASSES, templates=[TEMPLATES[1]])
    single = model.class_embeddings()
    for c, name in enumerate(CLASSES):
        torch.testing.assert_close(
            single[c], _prompt_feat(model, pre_caption(
                TEMPLATES[1].format(name))), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(single, emb, atol=1e-3)
    assert model.prompts() == [f'there is a {c} here' for c in CLASSES]


def test_prompts_are_cleaned_as_captions(model):
    """The text encoder was pre-trained on pre_caption-cleaned captions:
    no capitals, periods or hyphens in the prompts either."""
    model.set_classes(['polka-dotted', 'Red Cross'],
                      templates=['a photo of a {}.', 'A {} pattern!'])
    assert model.prompts() == [
        'a photo of a polka dotted', 'a polka dotted pattern',
        'a photo of a red cross', 'a red cross pattern']
    tok = model.data_preprocessor.tokenize(model.prompts()[:1])
    raw = model.data_preprocessor.tokenize(['a photo of a polka-dotted.'])
    assert tok['text_ids'].shape[1] < raw['text_ids'].shape[1]


def test_cache_is_dropped_when_weights_change(model):
    before = model.class_embeddings().clone()
    assert model.class_embeddings() is model.class_embeddings()  # cached
    state = model.state_dict()
    for key in ('itc_head.text_proj.weight', 'itc_head.text_proj.bias'):
        state[key] = -state[key]
    model.load_state_dict(state)
    torch.testing.assert_close(model.class_embeddings(), -before,
                               atol=1e-5, rtol=1e-5)


def test_predict_scores_by_itc_similarity(model):
    torch.manual_seed(1)
    images = torch.randn(4, 3, 64, 64)
    samples = model(images, mode='predict')
    feat = model.extract_feat(images, mode='image')['image_feat']
    logits = feat @ model.class_embeddings().t() / model.itc_head.temp
    for i, s in enumerate(samples):
        torch.testing.assert_close(s.pred_score, logits[i].softmax(-1))
        assert s.pred_label == int(logits[i].argmax())
    assert torch.allclose(model(images, mode='tensor'),
                          logits.softmax(-1))


def test_itm_rerank_orders_top_k_by_itm(model):
    torch.manual_seed(2)
    images = torch.randn(3, 3, 64, 64)
    itc = model.classify(images, itm_rerank_k=0)
    scores = model.classify(images, itm_rerank_k=2)
    top2 = itc.topk(2, dim=1).indices
    embeds = model.vision_backbone(images)
    for b in range(3):
        rest = [c for c in range(len(CLASSES)) if c not in top2[b]]
        # the non-shortlisted class keeps its ITC probability
        torch.testing.assert_close(scores[b, rest], itc[b, rest])
        for c in top2[b].tolist():
            probs = []
            for t in TEMPLATES:
                tok = model.data_preprocessor.tokenize([pre_caption(
                    t.format(CLASSES[c]))])
                text = model.text_backbone(tok['text_ids'], tok['text_mask'])
                fused = model.neck(text, tok['text_mask'], embeds[b:b + 1])
                probs.append(model.itm_head(fused[:, 0]).softmax(-1)[0, 1])
            torch.testing.assert_close(scores[b, c], 1 + torch.stack(
                probs).mean(), atol=1e-5, rtol=1e-5)
        assert scores[b, top2[b]].min() > scores[b, rest].max()
    # 'mean' fusion: the average of the ITM probability and the ITC
    # probability renormalised over the shortlist
    model.itm_fusion = 'mean'
    mean = model.classify(images, itm_rerank_k=2)
    top_p = itc.gather(1, top2)
    itm = scores.gather(1, top2) - 1
    torch.testing.assert_close(
        mean.gather(1, top2),
        1 + (itm + top_p / top_p.sum(1, keepdim=True)) / 2)


def test_pretrain_checkpoint_loads_strictly(model):
    torch.manual_seed(3)
    pre = MODELS.build(tiny_pretrain_model_cfg(queue_size=64))
    pre.init_weights()
    report = load_checkpoint_to_model(model, {'state_dict': pre.state_dict()},
                                      strict=True, logger='silent')
    assert not report.missing
    assert any(k.startswith('mlm_head') for k in report.unexpected)
    assert 'itc_loss.image_queue' in report.unexpected
    assert 'itc_head.vision_proj_m.weight' in report.unexpected
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, pre.state_dict()[name])
    # the ITC feature unit only: no queue, no momentum projections
    assert not hasattr(model, 'itc_loss')
    assert not any('_m.' in k or 'queue' in k for k in model.state_dict())


def test_original_checkpoint_gives_the_original_features():
    fx = torch.load(oracle_fixture('pretrain.pth'), weights_only=False)
    from parity.pretrain import build_pretrain_model
    ref = build_pretrain_model(fx)  # the parity tool's configs
    cfg = {k: v for k, v in ref_cfg(fx).items()}
    model = MODELS.build(cfg).eval()
    load_checkpoint_to_model(model, {'model': fx['model']}, strict=True,
                             logger='silent')
    inp, out = fx['inputs'], fx['outputs']['eval']
    feats = model.extract_feat(inp['image'], inp['text_ids'],
                               inp['text_atts'], mode='multimodal')
    torch.testing.assert_close(feats['image_feat'], out['image_feat'],
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(feats['text_feat'], out['text_feat'],
                               atol=1e-5, rtol=1e-5)
    # ITM of the aligned pairs (the diagonal of the original's matrix)
    itm = model.itm_head(feats['multimodal_embeds'][:, 0])
    diag = torch.stack([out['itm_logits'][i, i] for i in range(4)])
    torch.testing.assert_close(itm, diag, atol=1e-5, rtol=1e-5)
    assert ref is not None


def ref_cfg(fx):
    from parity.common import neck_cfg, text_backbone_cfg, vit_cfg
    cfg, bert = fx['config'], fx['bert_config']
    fusion = bert['fusion_layer']
    return dict(
        type='ALBEFZeroShotClassifier',
        vision_backbone=vit_cfg(fx),
        text_backbone=text_backbone_cfg(bert, fusion),
        neck=neck_cfg(bert, bert['num_hidden_layers'] - fusion),
        itc_head=dict(type='ITCHead', vision_width=cfg['vision_width'],
                      text_width=bert['hidden_size'],
                      embed_dim=cfg['embed_dim'], temp=cfg['temp']),
        itm_head=dict(type='ITMHead', hidden_size=bert['hidden_size']),
        classnames=['a'])


def test_bad_configuration_errors():
    with pytest.raises(ValueError, match='exactly one'):
        MODELS.build(_cfg(templates=['a photo']))
    with pytest.raises(ValueError, match='itm_fusion'):
        MODELS.build(_cfg(itm_fusion='max'))
    m = MODELS.build(_cfg(classnames=None)).eval()
    with pytest.raises(RuntimeError, match='no class names'):
        m(torch.zeros(1, 3, 64, 64), mode='predict')
    with pytest.raises(NotImplementedError, match='linear_probe'):
        m(torch.zeros(1, 3, 64, 64), mode='loss')


def test_classnames_from_file(tmp_path):
    names = tmp_path / 'names.txt'
    names.write_text('circle\n\nsquare\n')
    m = MODELS.build(_cfg(classnames=str(names)))
    assert m.classnames == ['circle', 'square']
