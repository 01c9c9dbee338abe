"""ALBEFNLVR: paired fusion layers sharing cross-attention key/value, layer
replication when loading single-image checkpoints, distilled loss, momentum
copied after loading, strict loading of original-layout NLVR2 files."""
import copy
import os.path as osp
import re
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from albef_mm.checkpoint import load_checkpoint_to_model
from albef_mm.models.necks.nlvr_fusion_encoder import \
    replicate_unpaired_layers
from albef_mm.registry import MODELS
from albef_mm.structures import DataSample
from helpers import tiny_pretrain_model_cfg
from helpers.tiny import CONFIG_ROOT, TINY_OVERRIDES, TINY_VOCAB

FUSION_LAYER = 2  # tiny text layers


def tiny_cfg(name='albef_nlvr2.py', pairs=2, **extra):
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, '_base_', 'models', name))
    over = {k: copy.deepcopy(TINY_OVERRIDES[k])
            for k in ('vision_backbone', 'text_backbone', 'neck')}
    for k in ('text_backbone', 'neck'):
        over[k].update(hidden_dropout=0.0, attn_dropout=0.0)
    if 'nlvr' in name:
        over['neck']['num_layers'] = 2 * pairs
    cfg.merge_from_dict(dict(model=dict(
        over, cls_head=dict(in_channels=64),
        data_preprocessor=dict(tokenizer=dict(name_or_path=TINY_VOCAB)),
        **extra)))
    return cfg.model.to_dict()


def perturb(model, seed=0, std=0.1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * std)
    return model


def batch(b=3, length=7, seed=0, pair=True):
    g = torch.Generator().manual_seed(seed)
    shape = (b, 2, 3, 64, 64) if pair else (b, 3, 64, 64)
    images = torch.randn(shape, generator=g)
    ids = torch.randint(104, 512, (b, length), generator=g)
    ids[:, 0] = 101
    mask = torch.ones_like(ids)
    mask[0, -2:] = 0
    return images, ids, mask


@pytest.fixture
def model():
    torch.manual_seed(0)
    return perturb(MODELS.build(tiny_cfg()))


def test_pairs_share_one_key_value_tensor(model):
    neck = model.neck
    assert neck.num_pairs == 2 and len(neck.layer) == 4
    for k in range(2):
        even = neck.layer[2 * k].crossattention.self
        odd = neck.layer[2 * k + 1].crossattention.self
        assert even.key.weight is odd.key.weight
        assert even.value.bias is odd.value.bias
        assert even.query.weight is not odd.query.weight
        assert neck.layer[2 * k].crossattention.output.dense.weight is not \
            neck.layer[2 * k + 1].crossattention.output.dense.weight
    # pairs do not share with each other; the momentum copy shares within
    # its own pairs, not with the online neck
    assert neck.layer[0].crossattention.self.key.weight is not \
        neck.layer[2].crossattention.self.key.weight
    m = model.neck_m.layer
    assert m[0].crossattention.self.key.weight is \
        m[1].crossattention.self.key.weight
    assert m[0].crossattention.self.key.weight is not \
        neck.layer[0].crossattention.self.key.weight
    # one parameter per shared tensor, but both names in the state dict
    names = [n for n, _ in model.neck.named_parameters()]
    assert 'encoder.layer.0.crossattention.self.key.weight' in names
    assert 'encoder.layer.1.crossattention.self.key.weight' not in names
    sd = model.neck.state_dict()
    assert sd['encoder.layer.1.crossattention.self.key.weight'].data_ptr() \
        == sd['encoder.layer.0.crossattention.self.key.weight'].data_ptr()


def test_shared_key_gradient_sums_both_layers(model):
    """The tied tensor's gradient equals the sum of the gradients the two
    layers' keys get when they are separate copies of the same values."""
    images, ids, mask = batch()
    targets = torch.tensor([0, 1, 1])
    model.eval()
    F.cross_entropy(model.classify(images, ids, mask), targets).backward()
    tied = model.neck.layer[0].crossattention.self.key.weight.grad.clone()

    untied = copy.deepcopy(model)
    untied.zero_grad(set_to_none=True)
    even = untied.neck.layer[0].crossattention.self
    even.key = copy.deepcopy(even.key)  # own copy with the same values
    F.cross_entropy(untied.classify(images, ids, mask), targets).backward()
    g_even = untied.neck.layer[0].crossattention.self.key.weight.grad
    g_odd = untied.neck.layer[1].crossattention.self.key.weight.grad
    assert g_even.abs().sum() > 0 and g_odd.abs().sum() > 0
    torch.testing.assert_close(tied, g_even + g_odd, atol=1e-6, rtol=1e-5)


def test_even_layers_attend_to_first_image(model):
    """Changing image 1 changes nothing up to the first odd layer."""
    images, ids, mask = batch()
    model.eval()
    with torch.no_grad():
        i0, i1 = model.encode_pair(images)
        text = model.text_backbone(ids, mask)
        ref = model.neck.layer[0](text, None, i0, None)
        full = model.fuse_pair((i0, i1), ids, mask)
        other = model.fuse_pair((i0, i1.flip(0)), ids, mask)
        masked = model.neck.layer[0](
            text, (1.0 - mask[:, None, None, :].float()) * -10000.0, i0,
            None)
    assert not torch.allclose(ref, masked)  # the mask matters
    assert not torch.allclose(full, other)
    # split_pair order: all first images, then all second images
    with torch.no_grad():
        emb = model.vision_backbone(images[:, 1])
    torch.testing.assert_close(i1, emb)


def test_replicate_unpaired_layers_maps_exactly():
    state = OrderedDict()
    for l in range(3):
        state[f'neck.encoder.layer.{l}.attention.self.query.weight'] = \
            torch.full((2, ), float(l))
        state[f'neck.encoder.layer.{l}.crossattention.self.key.bias'] = \
            torch.full((2, ), 10. + l)
    state['neck_m.encoder.layer.0.output.dense.bias'] = torch.zeros(1)
    state['text_backbone.encoder.layer.0.output.dense.bias'] = torch.ones(1)
    done = replicate_unpaired_layers(state, 'neck.', 3)
    assert done == [0, 1, 2]
    for l in range(3):
        for j in (2 * l, 2 * l + 1):
            assert state[f'neck.encoder.layer.{j}.attention.self.query.'
                         'weight'].tolist() == [l, l]
            assert state[f'neck.encoder.layer.{j}.crossattention.self.key.'
                         'bias'].tolist() == [10 + l] * 2
    assert sorted({int(re.match(r'neck\.encoder\.layer\.(\d+)', k).group(1))
                   for k in state if k.startswith('neck.')}) == list(range(6))
    # other prefixes untouched; an already paired layout is left alone
    assert 'neck_m.encoder.layer.0.output.dense.bias' in state
    assert 'text_backbone.encoder.layer.0.output.dense.bias' in state
    before = dict(state)
    assert replicate_unpaired_layers(state, 'neck.', 3) is None
    assert state.keys() == before.keys()


def pretrain_project_state(seed=1):
    torch.manual_seed(seed)
    pre = perturb(MODELS.build(tiny_pretrain_model_cfg()), seed)
    return pre, {k: v.clone() for k, v in pre.state_dict().items()}


def to_original_pretrain(state):
    """albef_mm pre-training keys → the original ``model_pretrain`` keys."""
    out = OrderedDict()
    for k, v in state.items():
        head, _, rest = k.partition('.')
        sfx = '_m' if head.endswith('_m') else ''
        base = head[:-2] if sfx else head
        if base == 'vision_backbone':
            out[f'visual_encoder{sfx}.{rest}'] = v
        elif base == 'text_backbone':
            out[f'text_encoder{sfx}.bert.{rest}'] = v
        elif base == 'neck':
            m = re.match(r'encoder\.layer\.(\d+)\.(.*)', rest)
            out[f'text_encoder{sfx}.bert.encoder.layer.'
                f'{int(m.group(1)) + FUSION_LAYER}.{m.group(2)}'] = v
        elif base == 'mlm_head':
            out[f'text_encoder{sfx}.cls.{rest}'] = v
        elif base in ('itc_head', 'itc_loss'):
            out[rest] = v  # vision_proj(_m).*, temp, the queues
        elif base == 'itm_head':
            out[f'itm_head.{rest[3:]}'] = v
    return out


@pytest.mark.parametrize('layout', ['albef_mm', 'original'])
def test_loading_pretrain_checkpoint_replicates_layers(layout):
    _, pre = pretrain_project_state()
    torch.manual_seed(3)
    model = MODELS.build(tiny_cfg())
    if layout == 'albef_mm':
        state = model.adapt_state_dict(dict(pre))
        ckpt = {'state_dict': state}
    else:
        ckpt = {'model': to_original_pretrain(pre)}
    report = load_checkpoint_to_model(model, ckpt, strict=True,
                                      logger='silent')
    assert report.converted == (layout == 'original')
    assert sorted(report.missing) == sorted(
        f'cls_head{s}.layers.{i}.{p}' for s in ('', '_m') for i in (0, 2)
        for p in ('weight', 'bias'))
    sd = model.state_dict()
    for l in range(2):
        for j in (2 * l, 2 * l + 1):
            for sfx in ('', '_m'):
                for t in ('attention.self.query.weight',
                          'crossattention.self.key.weight',
                          'crossattention.self.value.bias',
                          'crossattention.output.dense.weight',
                          'output.LayerNorm.bias'):
                    assert torch.equal(
                        sd[f'neck{sfx}.encoder.layer.{j}.{t}'],
                        pre[f'neck{sfx}.encoder.layer.{l}.{t}']), (sfx, j, t)
    key = 'text_backbone.encoder.layer.1.output.dense.weight'
    assert torch.equal(sd[key], pre[key])


def test_momentum_copied_after_loading_a_checkpoint_without_momentum(model):
    """The fix of NLVR.py's copy-before-load: a text-assignment checkpoint
    has no momentum weights; after loading, the teacher equals the loaded
    student (not the random init)."""
    torch.manual_seed(7)
    ta = perturb(MODELS.build(tiny_cfg()), seed=7)
    online = {k: v for k, v in ta.state_dict().items()
              if not re.match(r'^[a-z_]+_m\.', k)}
    fresh = MODELS.build(tiny_cfg())
    report = load_checkpoint_to_model(fresh, {'state_dict': online},
                                      strict=True, logger='silent')
    assert report.momentum_from_online
    sd = fresh.state_dict()
    for k, v in online.items():
        head, _, rest = k.partition('.')
        assert torch.equal(sd[f'{head}_m.{rest}'], v), k


def test_loss_is_distilled_cross_entropy(model):
    images, ids, mask = batch()
    targets = torch.tensor([1, 0, 1])
    samples = [DataSample(gt_label=int(t)) for t in targets]
    model.train()
    model.alpha = 0.4
    with torch.no_grad():  # momentum branch differs from the online one
        for p in model.cls_head_m.parameters():
            p.mul_(0.5)
    losses = model(images, ids, mask, samples, mode='loss')
    assert set(losses) == {'loss_cls'}
    with torch.no_grad():
        z = model.classify(images, ids, mask)
        z_m = model.classify(images, ids, mask, momentum=True)
    expected = 0.6 * F.cross_entropy(z, targets) - 0.4 * (
        F.log_softmax(z, 1) * F.softmax(z_m, 1)).sum(1).mean()
    torch.testing.assert_close(losses['loss_cls'].detach(), expected)
    model.eval()
    preds = model(images, ids, mask, [DataSample() for _ in range(3)],
                  mode='predict')
    assert [p.pred_label for p in preds] == z.argmax(1).tolist()
    assert preds[0].pred_score.shape == (2, )
    assert model(images, ids, mask).shape == (3, 2)
    with pytest.raises(ValueError, match='gt_label'):
        model(images, ids, mask, [DataSample() for _ in range(3)],
              mode='loss')
    with pytest.raises(ValueError, match=r'\[B, 2, C, H, W\]'):
        model(images[:, 0], ids, mask)
    assert model.required_train_hooks == ('MomentumUpdateHook',
                                          'AlphaWarmupHook')


def to_original_finetuned(state, fusion_layer=FUSION_LAYER):
    """albef_mm NLVR2 / VE keys → the original ``model_nlvr`` /
    ``model_ve`` keys (BertModel without ``bert.``), with the
    ``position_ids`` buffers the original state dict holds."""
    out = OrderedDict()
    for k, v in state.items():
        head, _, rest = k.partition('.')
        sfx = '_m' if head.endswith('_m') else ''
        base = head[:-2] if sfx else head
        if base == 'vision_backbone':
            out[f'visual_encoder{sfx}.{rest}'] = v
        elif base == 'text_backbone':
            out[f'text_encoder{sfx}.{rest}'] = v
            if rest == 'embeddings.word_embeddings.weight':
                out[f'text_encoder{sfx}.embeddings.position_ids'] = \
                    torch.arange(64)[None]
        elif base == 'neck':
            m = re.match(r'encoder\.layer\.(\d+)\.(.*)', rest)
            out[f'text_encoder{sfx}.encoder.layer.'
                f'{int(m.group(1)) + fusion_layer}.{m.group(2)}'] = v
        elif base == 'cls_head':
            out[f'cls_head{sfx}.{rest[len("layers."):]}'] = v
        else:
            raise KeyError(k)
    return out


def test_original_layout_file_loads_strictly_and_predicts_the_same(model,
                                                                   tmp_path):
    original = to_original_finetuned(model.state_dict())
    # the tied key/value appear under both layers, one tensor
    assert original['text_encoder.encoder.layer.2.crossattention.self.'
                    'key.weight'].data_ptr() == original[
        'text_encoder.encoder.layer.3.crossattention.self.key.weight'
    ].data_ptr()
    path = str(tmp_path / 'nlvr_original.pth')
    torch.save({'model': original}, path)
    torch.manual_seed(5)
    fresh = MODELS.build(tiny_cfg())
    report = load_checkpoint_to_model(fresh, path, strict=True,
                                      logger='silent')
    assert report.converted and not report.missing and \
        not report.unexpected and not report.momentum_from_online
    assert sorted(report.dropped) == ['text_encoder.embeddings.position_ids',
                                      'text_encoder_m.embeddings.'
                                      'position_ids']
    images, ids, mask = batch()
    model.eval()
    fresh.eval()
    with torch.no_grad():
        torch.testing.assert_close(fresh.classify(images, ids, mask),
                                   model.classify(images, ids, mask),
                                   atol=0, rtol=0)
    # a released-style bare state dict without momentum weights loads too
    bare = {k: v for k, v in original.items() if '_m.' not in k}
    report = load_checkpoint_to_model(MODELS.build(tiny_cfg()), bare,
                                      strict=True, logger='silent')
    assert report.momentum_from_online and not report.missing


def test_momentum_copy_before_load_follows_the_original_order():
    """model.momentum_copy_before_load=True reproduces NLVR.py: the
    teacher is copied from the student *before* the text-assignment
    checkpoint loads (so it keeps the initial weights); the default copies
    after loading (the teacher starts as the loaded student)."""
    torch.manual_seed(7)
    ta = perturb(MODELS.build(tiny_cfg()), seed=7)
    online = {k: v for k, v in ta.state_dict().items()
              if not re.match(r'^[a-z_]+_m\.', k)}
    # the original's order on a copy: copy_params(), then load
    torch.manual_seed(3)
    original = perturb(MODELS.build(tiny_cfg()), seed=3)
    switched = copy.deepcopy(original)
    switched.momentum_copy_before_load = True
    original.copy_params()
    original.load_state_dict(online, strict=False)
    report = load_checkpoint_to_model(switched, {'state_dict': online},
                                      strict=True, logger='silent')
    assert report.momentum_before_load and not report.momentum_from_online
    assert not report.missing
    want, got = original.state_dict(), switched.state_dict()
    assert want.keys() == got.keys()
    for k in want:
        assert torch.equal(got[k], want[k]), k
    # the teacher differs from the loaded student (it kept the init)
    key = 'text_backbone.encoder.layer.0.output.dense.weight'
    assert not torch.equal(got[key.replace('.', '_m.', 1)], got[key])
    # the default (copy after loading) on the same start
    default = copy.deepcopy(switched)
    default.momentum_copy_before_load = False
    load_checkpoint_to_model(default, {'state_dict': online}, strict=True,
                             logger='silent')
    assert torch.equal(default.state_dict()[key.replace('.', '_m.', 1)],
                       online[key])


def test_momentum_copy_before_load_is_a_model_setting():
    assert MODELS.build(tiny_cfg()).momentum_copy_before_load is False
    model = MODELS.build(tiny_cfg(momentum_copy_before_load=True))
    assert model.momentum_copy_before_load is True
