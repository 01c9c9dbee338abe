"""Tests written for the survivors of the fifth mutation batch (pkg5) on
the checkpoint key report and the weights-only allow-list: each report
rule at its boundary, on hand-written key lists."""
import pickle

import pytest
from mmengine.logging import HistoryBuffer

from albef_mm.checkpoint.report import format_groups, likely_causes
from albef_mm.checkpoint.safety import history_buffer_getattr


def _causes(missing=(), unexpected=(), shapes=None, ckpt=(), model=(),
            original=()):
    return likely_causes(list(missing), list(unexpected), shapes or {},
                         list(ckpt), list(model), list(original))


def test_examples_are_elided_only_beyond_the_limit():
    keys = ['head.a', 'head.b', 'head.c']
    assert format_groups(keys, examples=3, indent='') == [
        'head (3): a, b, c']
    assert format_groups(keys, examples=2, indent='') == [
        'head (3): a, b, ...']


def test_eighteen_original_text_layers_mean_the_nlvr2_layout():
    model = ['text_backbone.encoder.layer.0.w']
    nlvr = [f'text_encoder.encoder.layer.{i}.w' for i in range(18)]
    found = _causes(ckpt=model, model=model, original=nlvr)
    assert any('NLVR2 layout: 18 layers' in c for c in found), found
    found = _causes(ckpt=model, model=model, original=nlvr[:12])
    assert not any('18 layers' in c for c in found), found


def test_three_mis_shaped_tensors_already_mean_another_model_size():
    shapes = {f'neck.w{i}': ((768, 4), (256, 4)) for i in range(3)}
    keys = list(shapes)
    found = _causes(shapes=shapes, ckpt=keys, model=keys)
    assert found[0] == ('another model size: 3 tensors differ in shape, '
                        'mostly a dimension of 768 in the checkpoint vs 256 '
                        "in the model; build the model with the checkpoint's "
                        'sizes')
    two = dict(list(shapes.items())[:2])
    assert _causes(shapes=two, ckpt=keys, model=keys)[0].startswith(
        'some tensors have other shapes')


def test_an_empty_checkpoint_is_not_another_key_format():
    model = ['itc_head.w', 'neck.w']
    found = _causes(missing=model, ckpt=[], model=model)
    assert found == ["modules the checkpoint lacks: ['itc_head', 'neck']"]


def test_momentum_cause_only_when_every_missing_key_is_momentum():
    model = ['neck.w', 'neck_m.w', 'itc_head.w', 'itc_head_m.w']
    hint = ('only momentum (`*_m`) weights are missing: a file with part '
            'of the momentum branch')
    only_m = _causes(missing=['neck_m.w', 'itc_head_m.w'],
                     ckpt=['neck.w', 'itc_head.w'], model=model)
    assert hint in only_m
    mixed = _causes(missing=['neck_m.w', 'itc_head.w'],
                    ckpt=['neck.w', 'itc_head_m.w'], model=model)
    assert hint not in mixed


def test_pickled_getattr_resolves_history_buffer_statistics_only():
    assert history_buffer_getattr(HistoryBuffer, 'mean') is \
        HistoryBuffer.mean
    for obj, name in ((object, 'mean'), (dict, 'max'),
                      (HistoryBuffer, '__init__')):
        with pytest.raises(pickle.UnpicklingError, match='Refused getattr'):
            history_buffer_getattr(obj, name)
