"""Checkpoints that do not fit the model: a report grouped by module with
the likely cause, every key still available, the model left untouched."""
import logging
import re

import pytest
import torch
from conftest import oracle_fixture
from mmengine.logging import MMLogger

from albef_mm.checkpoint import (CheckpointMismatchError, format_groups,
                                 group_keys, load_checkpoint_to_model)
from albef_mm.checkpoint.report import likely_causes
from albef_mm.registry import MODELS
from helpers import tiny_pretrain_model_cfg


def retrieval_model(**itc):
    cfg = tiny_pretrain_model_cfg()
    cfg['type'] = 'ALBEFRetrieval'
    cfg.pop('mlm_head')
    cfg['itc_head'].update(use_idx_queue=True, clamp_temp=False, **itc)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def load_error(model, ckpt, **kwargs) -> CheckpointMismatchError:
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint_to_model(model, ckpt, **kwargs)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    return err.value


def test_grouping():
    keys = ['vision_backbone.blocks.0.attn.qkv.weight',
            'vision_backbone.blocks.1.attn.qkv.weight',
            'vision_backbone.pos_embed',
            'text_backbone.encoder.layer.3.output.dense.bias', 'temp']
    assert list(group_keys(keys)) == [
        'vision_backbone.blocks.*', 'vision_backbone',
        'text_backbone.encoder.layer.*', 'temp']
    assert format_groups(keys, examples=1, indent='') == [
        'vision_backbone.blocks.* (2, blocks 0-1): attn.qkv.weight',
        'vision_backbone (1): pos_embed',
        'text_backbone.encoder.layer.* (1, layers 3): output.dense.bias',
        'temp (1): temp']


def test_unrelated_file_gives_grouped_report_with_every_key():
    model = retrieval_model()
    own = list(model.state_dict())
    err = load_error(model, {'classifier.weight': torch.zeros(3, 4)},
                     source='other.pth')
    msg = str(err)
    allowed = [k for k in own if any(re.search(p, k)
                                     for p in model.ignorable_missing)]
    assert len(allowed) == 4  # the retrieval queues
    assert msg.startswith(f'other.pth does not fit ALBEFRetrieval: '
                          f'{len(own) - 4} missing, 1 unexpected, 0 '
                          'mis-shaped')
    assert 'no module in common: another key format' in msg
    assert 'classification model' in msg
    assert 'vision_backbone.blocks.* (24, blocks 0-1): ' in msg
    assert 'text_backbone_m.encoder.layer.* (32, layers 0-1): ' in msg
    assert 'neck.encoder.layer.* (52, layers 0-1): ' in msg
    # grouped: no line lists the ~250 names, but the error keeps them all
    assert len(msg.splitlines()) < 25
    assert max(len(line) for line in msg.splitlines()) < 400
    assert sorted(err.report.missing) == sorted(own)
    assert err.report.unexpected == ['classifier.weight']
    listing = err.report.full_listing().splitlines()
    assert sum(line.startswith('  missing: ') for line in listing) == len(own)


def test_other_model_size_is_named():
    small = retrieval_model(embed_dim=16)
    err = load_error(retrieval_model(), small.state_dict())
    msg = str(err)
    assert 'another model size: 10 tensors differ in shape, mostly a ' \
        'dimension of 16 in the checkpoint vs 32 in the model' in msg
    # projections in the ITC feature unit, queues in the contrastive loss
    assert 'itc_head (8): ' in msg and '(16, 64) vs (32, 64)' in msg
    assert 'itc_loss (2): image_queue (16, 16) vs (32, 16)' in msg
    assert len(err.report.mismatched) == 10
    # allowed: the mis-shaped keys are skipped and reported
    report = load_checkpoint_to_model(retrieval_model(), small.state_dict(),
                                      allow_shape_mismatch=True)
    assert len(report.shapes) == 10


def test_vqa_nlvr_and_lavis_original_files_are_named():
    fx = torch.load(oracle_fixture('retrieval.pth'))
    state = dict(fx['model'])
    # NLVR2-like: 18 BERT layers and a classifier head
    layer = {k: v for k, v in state.items()
             if k.startswith('text_encoder.encoder.layer.3.')}
    for i in range(4, 18):
        state.update({k.replace('layer.3.', f'layer.{i}.'): v
                      for k, v in layer.items()})
    state['cls_head.0.weight'] = torch.zeros(64, 64)
    # VQA-like answer decoder
    state['text_decoder.bert.encoder.layer.0.crossattention.self.key.bias'] \
        = torch.zeros(64)
    lavis = {'model': state, 'config': {'model': {'arch': 'albef_nlvr'},
                                        'run': {'task': 'multimodal'}}}
    err = load_error(retrieval_model(), lavis, source='lavis.pth')
    msg = str(err)
    assert msg.startswith('2 keys of the original ALBEF layout have no '
                          'counterpart in ALBEFRetrieval')
    assert "a LAVIS checkpoint (arch='albef_nlvr')" in msg
    assert 'a VQA model (answer-decoder keys `text_decoder.*`)' in msg
    assert 'classification model (NLVR2 / SNLI-VE head `cls_head.*`)' in msg
    assert 'NLVR2 layout: 18 layers' in msg
    assert 'text_decoder.bert.encoder.layer.* (1, layers 0): ' \
        'crossattention.self.key.bias' in msg
    assert set(err.report.unexpected) == {
        'cls_head.0.weight',
        'text_decoder.bert.encoder.layer.0.crossattention.self.key.bias'}


def test_project_checkpoint_of_other_task_and_format_hints():
    model = retrieval_model()
    state = {k: v for k, v in model.state_dict().items()
             if not k.startswith(('itc_head', 'itm_head'))}
    state['answer_decoder.encoder.layer.0.output.dense.bias'] = torch.ones(1)
    msg = str(load_error(model, state))
    assert re.search(r"modules only in the checkpoint: \['answer_decoder'\]",
                     msg)
    assert "modules the checkpoint lacks: ['itc_head', 'itm_head']" in msg
    assert 'itc_head (9): ' in msg and 'itm_head (2): fc.bias, fc.weight' \
        in msg
    hf = {'bert.encoder.layer.0.output.dense.bias': torch.ones(64),
          'cls.predictions.bias': torch.ones(512)}
    assert 'a HuggingFace BERT file' in str(load_error(model, hf))
    vit = {'blocks.0.attn.qkv.weight': torch.ones(1),
           'patch_embed.proj.weight': torch.ones(1)}
    assert 'a bare ViT (DeiT / timm) file' in str(load_error(model, vit))


def test_debug_log_lists_every_key():
    model = retrieval_model()
    logger = MMLogger.get_instance('key-report-debug', log_level='DEBUG')
    records = []
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        with pytest.raises(CheckpointMismatchError):
            load_checkpoint_to_model(model, {'x.weight': torch.ones(1)},
                                     logger='key-report-debug')
    finally:
        logger.removeHandler(handler)
    debug = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    lines = set('\n'.join(debug).splitlines())
    assert all(f'  missing: {key}' in lines for key in model.state_dict())
    assert '  unexpected: x.weight' in lines


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
