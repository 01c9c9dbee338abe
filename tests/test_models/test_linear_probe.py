"""Linear probe: feature extraction + cache, logistic regression."""
import pytest
import torch

from albef_mm.models.algorithms.linear_probe import (LogisticRegressionProbe,
                                                      cache_key,
                                                      cached_features,
                                                      extract_features,
                                                      train_probe)
from albef_mm.registry import MODELS
from albef_mm.structures import DataSample
from helpers.tiny import tiny_pretrain_model_cfg


def _blobs(n, seed, shift=3.0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    centers = torch.tensor([[shift, 0, 0, 0], [0, shift, 0, 0],
                            [0, 0, shift, 0]])
    feats = centers[labels] + torch.randn(n, 4, generator=g)
    return feats * 10 + 5, labels  # unstandardised on purpose


def test_logistic_regression_separates_blobs():
    feats, labels = _blobs(90, 0)
    probe = LogisticRegressionProbe(4, 3)
    probe.fit(feats, labels, weight_decay=1e-4)
    test, test_labels = _blobs(60, 1)
    with torch.no_grad():
        acc = (probe(test).argmax(1) == test_labels).float().mean()
    assert acc > 0.95
    # standardisation statistics come from the training features
    torch.testing.assert_close(probe.mean, feats.mean(0))
    strong = LogisticRegressionProbe(4, 3)
    strong.fit(feats, labels, weight_decay=10.0)
    assert strong.fc.weight.norm() < 0.5 * probe.fc.weight.norm()


def test_weight_decay_chosen_on_val_then_refit():
    train, val = _blobs(30, 2, shift=1.0), _blobs(30, 3, shift=1.0)
    probe, info = train_probe(train, 3, [1e-3, 1.0, 100.0], val)
    best = max(info['val_top1'], key=lambda w: (info['val_top1'][w], w))
    assert info['weight_decay'] == best
    assert set(info['val_top1']) == {1e-3, 1.0, 100.0}
    # refit on train + val: the stored mean covers both
    torch.testing.assert_close(
        probe.mean, torch.cat([train[0], val[0]]).mean(0))
    with pytest.raises(ValueError, match=r'\[0, 2\)'):
        train_probe(train, 2)


@pytest.fixture()
def model_and_loader():
    torch.manual_seed(0)
    cfg = tiny_pretrain_model_cfg()
    cfg['type'] = 'ALBEFZeroShotClassifier'
    model = MODELS.build(cfg)
    model.init_weights()
    g = torch.Generator().manual_seed(0)
    loader = []
    for b in range(3):
        imgs = [torch.randint(0, 256, (3, 64, 64), generator=g,
                              dtype=torch.uint8) for _ in range(2)]
        loader.append(dict(inputs=imgs, data_samples=[
            DataSample(gt_label=2 * b + i) for i in range(2)]))
    return model, loader


def test_features_are_the_frozen_encoder_outputs(model_and_loader):
    model, loader = model_and_loader
    feats, labels = extract_features(model, loader, 'proj')
    assert labels.tolist() == [0, 1, 2, 3, 4, 5]
    images = model.data_preprocessor(loader[1], False)['images']
    with torch.no_grad():
        cls = model.vision_backbone(images)[:, 0]
    torch.testing.assert_close(feats[2:4], model.itc_head.image_feat(cls))
    cls_feats, _ = extract_features(model, loader, 'cls')
    torch.testing.assert_close(cls_feats[2:4], cls)
    assert model.training  # the mode is restored
    with pytest.raises(ValueError, match="'proj' or 'cls'"):
        extract_features(model, loader, 'pooled')


def test_feature_cache_reused_until_the_key_changes(model_and_loader,
                                                    tmp_path, monkeypatch):
    model, loader = model_and_loader
    calls = []
    original = model.image_features
    monkeypatch.setattr(model, 'image_features',
                        lambda *a: calls.append(1) or original(*a))
    path = str(tmp_path / 'cache' / 'train.pt')
    key = cache_key(checkpoint='a.pth', kind='cls')
    first, labels, hit = cached_features(model, loader, 'cls', path, key)
    assert not hit and len(calls) == 3
    again, labels2, hit = cached_features(model, loader, 'cls', path, key)
    assert hit and len(calls) == 3  # no encoder call
    torch.testing.assert_close(again, first)
    assert labels2.tolist() == labels.tolist()
    other = cache_key(checkpoint='b.pth', kind='cls')
    assert other != key
    _, _, hit = cached_features(model, loader, 'cls', path, other)
    assert not hit and len(calls) == 6


def test_linear_probe_standardises_and_minimises_the_l2_objective():
    """After ``fit``: features standardised with the training mean / std,
    the returned loss is ``CE + wd/2 ||W||^2`` and its gradient vanishes
    (the first-order optimality of that objective)."""
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
