"""The parity tool's ``nlvr`` and ``ve`` tasks on fixture files in the
original format, written here from project models built with the real
config files (weights exported to the original key layout by an
independent mapping; the reference fixtures of the original code are kept
by the maintainers)."""
import os.path as osp
import re
import sys

import pytest
import torch

from albef_mm.registry import MODELS

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                            'test_models'))
from test_nlvr_model import perturb, tiny_cfg, to_original_finetuned  # noqa

from parity import detect_task, run_fixture  # noqa: E402


def bert_config(layers, fusion):
    return dict(architectures=['BertForMaskedLM'],
                attention_probs_dropout_prob=0.0, encoder_width=64,
                fusion_layer=fusion, hidden_act='gelu',
                hidden_dropout_prob=0.0, hidden_size=64,
                initializer_range=0.02, intermediate_size=128,
                layer_norm_eps=1e-12, max_position_embeddings=64,
                model_type='bert', num_attention_heads=2,
                num_hidden_layers=layers, pad_token_id=0, type_vocab_size=2,
                vocab_size=512)


def original_param_name(name, fusion):
    """albef_mm parameter name → original name (as to_original_finetuned)."""
    head, _, rest = name.partition('.')
    if head == 'vision_backbone':
        return f'visual_encoder.{rest}'
    if head == 'text_backbone':
        return f'text_encoder.{rest}'
    if head == 'neck':
        m = re.match(r'encoder\.layer\.(\d+)\.(.*)', rest)
        return (f'text_encoder.encoder.layer.{int(m.group(1)) + fusion}.'
                f'{m.group(2)}')
    assert head == 'cls_head'
    return f'cls_head.{rest[len("layers."):]}'


def make_fixture(task, seed=0):
    """A fixture dict in the layout of the original-code fixtures."""
    if task == 'nlvr':
        fusion, layers = 6, 12
        cfg = tiny_cfg(pairs=6)
        cfg['text_backbone']['num_layers'] = 6
    else:
        fusion, layers = 2, 4
        cfg = tiny_cfg('albef_snli_ve.py')
    torch.manual_seed(seed)
    model = perturb(MODELS.build(cfg), seed)
    model.copy_params()  # momentum = main, as the original fine-tuning models
    g = torch.Generator().manual_seed(seed + 1)
    b, length = 4, 12
    ids = torch.randint(104, 512, (b, length), generator=g)
    ids[:, 0] = 101
    lengths = [12, 9, 6, 12]
    atts = (torch.arange(length)[None] < torch.tensor(lengths)[:, None])
    atts = atts.long()
    ids = ids * atts
    n_cls = 2 if task == 'nlvr' else 3
    targets = torch.randint(0, n_cls, (b, ), generator=g)
    if task == 'nlvr':
        image0 = torch.randn(b, 3, 64, 64, generator=g)
        image1 = torch.randn(b, 3, 64, 64, generator=g)
        images = torch.stack([image0, image1], 1)
        inputs = dict(image0=image0, image1=image1)
    else:
        images = torch.randn(b, 3, 64, 64, generator=g)
        inputs = dict(image=images)
    inputs.update(text_ids=ids, text_atts=atts, targets=targets, alpha=0.4)
    model.eval()
    with torch.no_grad():
        if task == 'nlvr':
            i0, i1 = model.encode_pair(images)
            image_embeds = torch.cat([i0, i1])
            fused = model.fuse_pair((i0, i1), ids, atts)
        else:
            image_embeds = model.vision_backbone(images)
            fused = model.neck(model.text_backbone(ids, atts), atts,
                               image_embeds)
        logits = model.classify(images, ids, atts)
    model.train()
    model.alpha = 0.4
    loss = model.loss(images, ids, atts, targets)['loss_cls']
    loss.backward()
    grad_norms = {original_param_name(n, fusion): p.grad.norm()
                  for n, p in model.named_parameters() if p.grad is not None}
    return dict(
        model=to_original_finetuned(model.state_dict(), fusion),
        config=dict(image_res=64, alpha=0.4, distill=True),
        bert_config=bert_config(layers, fusion), inputs=inputs,
        outputs=dict(logits=logits, image_embeds=image_embeds,
                     text_encoder_output=fused, train_loss=loss.detach(),
                     grad_norms=grad_norms),
        seeds=dict(build=seed), momentum_equals_main=True,
        meta=dict(tiny_vit=dict(img_size=64, patch_size=16, embed_dim=64,
                                depth=2, num_heads=2)))


@pytest.fixture(scope='module', params=['nlvr', 've'])
def fixture(request):
    return request.param, make_fixture(request.param)


def test_parity_tool_reproduces_fixture(fixture):
    task, fx = fixture
    assert detect_task(fx) == task
    results = dict(run_fixture(fx))
    assert set(results) == {'eval', 'train'}
    bad = [c for checks in results.values() for c in checks if not c.ok]
    assert not bad, bad
    n_grads = len(fx['outputs']['grad_norms'])
    assert len(results['train']) == 1 + n_grads
    assert len(results['eval']) == 3
    if task == 'nlvr':
        # the shared key/value is one parameter: its gradient norm was
        # recorded under the even layer's name only
        names = fx['outputs']['grad_norms']
        assert 'text_encoder.encoder.layer.6.crossattention.self.key.weight' \
            in names
        assert 'text_encoder.encoder.layer.7.crossattention.self.key.weight' \
            not in names
        assert fx['outputs']['image_embeds'].shape == (8, 17, 64)


def test_parity_tool_reports_differences(fixture):
    task, fx = fixture
    fx = dict(fx, outputs=dict(fx['outputs']))
    fx['outputs']['logits'] = fx['outputs']['logits'] + 1e-3
    results = dict(run_fixture(fx, parts=['logits']))
    assert set(results) == {'eval'}
    failed = [c.name for c in results['eval'] if not c.ok]
    assert failed == ['logits']
    # swapping the two images breaks the NLVR2 pair order
    if task == 'nlvr':
        fx['inputs'] = dict(fx['inputs'], image0=fx['inputs']['image1'],
                            image1=fx['inputs']['image0'])
        results = dict(run_fixture(fx, parts=['eval']))
        assert not any(c.ok for c in results['eval'])


def test_cli_on_saved_fixture(tmp_path, fixture):
    import albef_parity
    task, fx = fixture
    path = str(tmp_path / f'{task}.pth')
    torch.save(fx, path)
    assert albef_parity.main([path]) == 0
    assert albef_parity.main([path, '--parts', 'train']) == 0
