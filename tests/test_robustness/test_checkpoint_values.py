"""Catalogue: checkpoint values of the wrong kind.

Copying into a parameter casts silently, so int64 or bool weights used to
load and evaluate without a word, NaN weights showed only as a metric of 0,
and a string raised ``AttributeError`` without the key. Each is refused at
load, naming the file and the key.
"""
import pytest
import torch
from helpers import tiny_pretrain_model_cfg

from albef_mm.checkpoint import load_checkpoint_to_model
from albef_mm.registry import MODELS

KEY = 'itm_head.fc.weight'


@pytest.fixture(scope='module')
def model():
    return MODELS.build(tiny_pretrain_model_cfg())


@pytest.mark.parametrize('make,pattern', [
    (lambda w: w.long(), r'1 tensor\(s\) of another kind than the model\'s: '
     rf'{KEY} \(torch\.int64, model torch\.float32\)'),
    (lambda w: w > 0, r'1 tensor\(s\) of another kind than the model\'s: '
     rf'{KEY} \(torch\.bool, model torch\.float32\)'),
    (lambda w: w.index_fill(0, torch.tensor([0]), float('nan')),
     rf'1 tensor\(s\) hold NaN or infinite values: {KEY}'),
    (lambda w: torch.full_like(w, float('-inf')),
     rf'1 tensor\(s\) hold NaN or infinite values: {KEY}'),
    (lambda w: 'weights', rf'1 value\(s\) are not tensors: {KEY} \(str '
     r"'weights'\)"),
])
def test_wrong_kind_of_value_is_refused_naming_the_key(model, make,
                                                       pattern):
    state = dict(model.state_dict())
    before = state[KEY].clone()
    state[KEY] = make(state[KEY])
    with pytest.raises(ValueError, match=r'^ckpt\.pth cannot be loaded: '
                       + pattern + r'.*re-download or re-convert it'):
        load_checkpoint_to_model(model, state, source='ckpt.pth')
    assert torch.equal(model.state_dict()[KEY], before)  # model untouched


def test_half_precision_weights_still_load(model):
    state = {k: v.half() if v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    report = load_checkpoint_to_model(model, state, source='half.pth')
    assert report.missing == [] and report.unexpected == []
