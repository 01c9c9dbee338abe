"""ALBEFVE: the first model on the task-neutral base (no queue, no ITC),
distilled 3-way loss without alpha warm-up, checkpoint loading."""
import pytest
import torch
import torch.nn.functional as F

from albef_mm.checkpoint import load_checkpoint_to_model
from albef_mm.models.algorithms.base import ALBEFBase
from albef_mm.registry import MODELS
from albef_mm.structures import DataSample
from test_nlvr_model import (batch, perturb, pretrain_project_state,
                             tiny_cfg, to_original_finetuned,
                             to_original_pretrain)


def ve_cfg(**extra):
    return tiny_cfg('albef_snli_ve.py', **extra)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return perturb(MODELS.build(ve_cfg()))


def test_task_neutral_base_without_queue_or_itc(model):
    assert isinstance(model, ALBEFBase)
    from albef_mm.models.algorithms import ALBEFContrastiveBase
    assert not isinstance(model, ALBEFContrastiveBase)
    names = [n for n, _ in model.named_modules()]
    assert not any('itc' in n or 'itm' in n for n in names)
    assert not any('queue' in n for n, _ in model.named_buffers())
    assert not hasattr(model, 'dequeue_and_enqueue')
    # constant alpha: only the momentum EMA hook is required
    assert tuple(model.required_train_hooks) == ('MomentumUpdateHook', )
    assert model.momentum_modules == ('vision_backbone', 'text_backbone',
                                      'neck', 'cls_head')
    assert model.cls_head.layers[2].out_features == 3
    plain = MODELS.build(ve_cfg(distill=False))
    assert not hasattr(plain, 'cls_head_m')
    assert tuple(plain.required_train_hooks) == ()


def test_forward_modes_and_distilled_loss(model):
    images, ids, mask = batch(pair=False)
    targets = torch.tensor([2, 0, 1])
    model.train()
    model.alpha = 0.4
    with torch.no_grad():
        for p in model.neck_m.parameters():
            p.mul_(0.9)
    losses = model(images, ids, mask,
                   [DataSample(gt_label=int(t)) for t in targets],
                   mode='loss')
    with torch.no_grad():
        z = model.classify(images, ids, mask)
        z_m = model.classify(images, ids, mask, momentum=True)
    assert not torch.allclose(z, z_m)
    expected = 0.6 * F.cross_entropy(z, targets) - 0.4 * (
        F.log_softmax(z, 1) * F.softmax(z_m, 1)).sum(1).mean()
    torch.testing.assert_close(losses['loss_cls'].detach(), expected)
    losses['loss_cls'].backward()
    assert model.cls_head.layers[0].weight.grad is not None
    assert model.cls_head_m.layers[0].weight.grad is None
    model.eval()
    preds = model(images, ids, mask, mode='predict')
    assert len(preds) == 3 and preds[0].pred_score.shape == (3, )
    assert [p.pred_label for p in preds] == z.argmax(1).tolist()
    torch.testing.assert_close(preds[1].pred_score, F.softmax(z[1], 0))
    assert model(images, ids, mask, mode='tensor').shape == (3, 3)
    with pytest.raises(ValueError, match="mode must be"):
        model(images, ids, mask, mode='bogus')


def test_loads_pretrain_checkpoint_and_own_original_layout(model, tmp_path):
    pre_model, pre = pretrain_project_state()
    fresh = MODELS.build(ve_cfg())
    report = load_checkpoint_to_model(
        fresh, {'model': to_original_pretrain(pre)}, strict=True,
        logger='silent')
    assert all(k.startswith('cls_head') for k in report.missing)
    assert any(k.startswith('itc_head') for k in report.unexpected)
    torch.testing.assert_close(
        fresh.neck.state_dict()['encoder.layer.1.crossattention.self.key.'
                                'weight'],
        pre['neck.encoder.layer.1.crossattention.self.key.weight'])
    torch.testing.assert_close(fresh.vision_backbone_m.pos_embed,
                               pre['vision_backbone_m.pos_embed'])
    # own file in the original model_ve layout: strict, nothing left over
    path = str(tmp_path / 've.pth')
    torch.save({'model': to_original_finetuned(model.state_dict())}, path)
    again = MODELS.build(ve_cfg())
    report = load_checkpoint_to_model(again, path, strict=True,
                                      logger='silent')
    assert not report.missing and not report.unexpected
    images, ids, mask = batch(pair=False)
    model.eval()
    again.eval()
    with torch.no_grad():
        torch.testing.assert_close(again.classify(images, ids, mask),
                                   model.classify(images, ids, mask),
                                   atol=0, rtol=0)
    # a key the VE layout does not know is named in the error
    bad = to_original_finetuned(model.state_dict())
    bad['ta_head.weight'] = torch.zeros(3, 64)
    with pytest.raises(KeyError, match='ta_head'):
        load_checkpoint_to_model(MODELS.build(ve_cfg()), {'model': bad},
                                 strict=True, logger='silent')


def test_ve_distills_with_the_configured_alpha_without_any_hook():
    """SNLI-VE has no alpha warm-up (no AlphaWarmupHook): a freshly built
    model trains with alpha = 0.4 from its first step."""
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


def test_ve_classifies_the_fused_cls_token():
    """Logits = cls_head(fusion(text, image)[:, 0]), online and momentum."""
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
