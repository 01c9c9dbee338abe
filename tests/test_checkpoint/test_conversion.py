"""Checkpoint conversion, position-embedding interpolation, loading."""
import pytest
import torch
import torch.nn.functional as F
from conftest import oracle_fixture

from albef_mm.checkpoint import (convert_albef_state_dict,
                                 detect_fusion_layer, interpolate_pos_embed,
                                 load_checkpoint_to_model)
from albef_mm.registry import MODELS
from helpers import tiny_pretrain_model_cfg
from helpers.scripts import load_script


def test_pos_embed_interpolation():
    pos = torch.randn(1, 1 + 16 * 16, 8)
    assert interpolate_pos_embed(pos, 256) is pos
    out = interpolate_pos_embed(pos, 24 * 24)
    assert out.shape == (1, 577, 8)
    assert torch.equal(out[:, 0], pos[:, 0])
    grid = pos[:, 1:].reshape(1, 16, 16, 8).permute(0, 3, 1, 2)
    ref = F.interpolate(grid, size=(24, 24), mode='bicubic',
                        align_corners=False).permute(0, 2, 3, 1).flatten(1, 2)
    torch.testing.assert_close(out[:, 1:], ref)
    # shrinking is plain bicubic too (no antialiasing), as the original
    small = interpolate_pos_embed(pos, 7 * 7)
    ref = F.interpolate(grid, size=(7, 7), mode='bicubic',
                        align_corners=False).permute(0, 2, 3, 1).flatten(1, 2)
    assert torch.equal(small[:, 1:], ref)
    with pytest.raises(ValueError, match='square'):
        interpolate_pos_embed(torch.randn(1, 11, 8), 16)


def test_convert_original_keys_and_report_unknown():
    state = {
        'temp': torch.tensor(0.07),
        'visual_encoder.cls_token': torch.zeros(1),
        'visual_encoder_m.cls_token': torch.zeros(1),
        'text_encoder.bert.embeddings.position_ids': torch.arange(3),
        'text_encoder.bert.encoder.layer.0.attention.self.query.weight': 0,
        'text_encoder.bert.encoder.layer.1.crossattention.self.key.bias': 1,
        'text_encoder_m.bert.encoder.layer.1.output.dense.bias': 2,
        'text_encoder.cls.predictions.bias': 3,
        'vision_proj_m.weight': 4,
        'itm_head.bias': 5,
        'queue_ptr': 6,
    }
    assert detect_fusion_layer(state) == 1
    out, dropped = convert_albef_state_dict(state)
    assert dropped == ['text_encoder.bert.embeddings.position_ids']
    assert set(out) == {
        'itc_head.temp', 'vision_backbone.cls_token',
        'vision_backbone_m.cls_token',
        'text_backbone.encoder.layer.0.attention.self.query.weight',
        'neck.encoder.layer.0.crossattention.self.key.bias',
        'neck_m.encoder.layer.0.output.dense.bias',
        'mlm_head.predictions.bias', 'itc_head.vision_proj_m.weight',
        'itm_head.fc.bias', 'itc_loss.queue_ptr'}
    state['mystery.weight'] = 7
    with pytest.raises(KeyError, match='mystery.weight'):
        convert_albef_state_dict(state)


def test_fixture_weights_convert_completely():
    fx = torch.load(oracle_fixture('pretrain.pth'))
    model = MODELS.build(tiny_pretrain_model_cfg())
    report = load_checkpoint_to_model(model, {'model': fx['model']},
                                      strict=True)
    assert report.converted and not report.missing
    assert not report.unexpected and not report.mismatched
    assert report.dropped == ['text_encoder.bert.embeddings.position_ids',
                              'text_encoder_m.bert.embeddings.position_ids']
    torch.testing.assert_close(model.itc_head.temp, fx['model']['temp'])


def test_loading_reports_and_raises():
    torch.manual_seed(0)
    model = MODELS.build(tiny_pretrain_model_cfg())
    state = {k: v.clone() for k, v in model.state_dict().items()}
    # bare online weights (a released fine-tuned file): momentum copied
    online = {k: v for k, v in state.items() if '_m.' not in k}
    other = MODELS.build(tiny_pretrain_model_cfg())
    report = load_checkpoint_to_model(other, online, strict=True)
    assert report.momentum_from_online and not report.missing
    assert torch.equal(other.neck_m.encoder.layer[0].output.dense.weight,
                       state['neck.encoder.layer.0.output.dense.weight'])
    # shape mismatch names the key
    bad = dict(state)
    bad['itm_head.fc.weight'] = torch.zeros(3, 64)
    with pytest.raises(ValueError, match=r'itm_head \(1\): fc.weight '
                       r'\(3, 64\) vs \(2, 64\)') as err:
        load_checkpoint_to_model(other, bad)
    assert err.value.report.mismatched == [
        'itm_head.fc.weight: checkpoint (3, 64) vs model (2, 64)']
    # unexpected keys raise when strict, are reported otherwise
    extra = dict(state, **{'cls_head.weight': torch.zeros(1)})
    with pytest.raises(KeyError, match=r'cls_head \(1\): weight') as err:
        load_checkpoint_to_model(other, extra, strict=True)
    assert err.value.report.unexpected == ['cls_head.weight']
    report = load_checkpoint_to_model(other, extra, strict=False)
    assert report.unexpected == ['cls_head.weight']


def test_pos_embed_interpolated_on_load():
    cfg = tiny_pretrain_model_cfg()
    small = MODELS.build(cfg)
    cfg['vision_backbone']['img_size'] = 96
    big = MODELS.build(cfg)
    report = load_checkpoint_to_model(big, small.state_dict())
    assert big.vision_backbone.pos_embed.shape == (1, 37, 64)
    assert len(report.interpolated) == 2  # online and momentum


def test_converter_tool(tmp_path):
    fx = torch.load(oracle_fixture('pretrain.pth'))
    src = tmp_path / 'albef.pth'
    torch.save({'model': fx['model'], 'epoch': 29}, src)
    tool = _converter()
    dst = tmp_path / 'out' / 'mm.pth'
    assert tool.main([str(src), str(dst)]) == 0
    converted = torch.load(dst)['state_dict']
    model = MODELS.build(tiny_pretrain_model_cfg())
    report = load_checkpoint_to_model(model, str(dst), strict=True)
    assert not report.converted and not report.missing
    assert torch.equal(converted['itc_loss.image_queue'],
                       fx['model']['image_queue'])


def test_runner_load_from_converts_an_original_checkpoint(tmp_path):
    from types import SimpleNamespace

    from mmengine.logging import MMLogger

    from albef_mm.engine.runner import ALBEFRunner
    fx = torch.load(oracle_fixture('pretrain.pth'))
    path = tmp_path / 'ALBEF.pth'
    torch.save({'model': fx['model'], 'epoch': 29}, path)
    model = MODELS.build(tiny_pretrain_model_cfg())
    hooks = []
    fake = SimpleNamespace(
        unwrapped_model=model, load_strict=True,
        logger=MMLogger.get_instance('load-test'),
        call_hook=lambda name, **kw: hooks.append(name))
    ckpt = ALBEFRunner.load_checkpoint(fake, str(path))
    assert ckpt['epoch'] == 29 and hooks == ['after_load_checkpoint']
    assert fake._has_loaded
    torch.testing.assert_close(
        model.neck_m.encoder.layer[1].crossattention.self.value.bias,
        fx['model']['text_encoder_m.bert.encoder.layer.3.crossattention.'
                    'self.value.bias'])


def test_released_finetuned_layout_loads_into_retrieval():
    """mscoco.pth-style files: bare original state dict, no momentum
    weights, no queues."""
    from parity.retrieval import build_retrieval_model
    fx = torch.load(oracle_fixture('retrieval.pth'))
    bare = {k: v for k, v in fx['model'].items()
            if '_m.' not in k and 'queue' not in k}
    model = build_retrieval_model(fx)  # then overwrite with the bare file
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    report = load_checkpoint_to_model(model, bare, strict=True)
    assert report.converted and report.momentum_from_online
    assert set(report.missing) == {
        'itc_loss.image_queue', 'itc_loss.text_queue', 'itc_loss.queue_ptr',
        'itc_loss.idx_queue'}
    torch.testing.assert_close(model.vision_backbone_m.pos_embed,
                               fx['model']['visual_encoder.pos_embed'])


def test_extra_rules_let_a_task_map_its_own_modules():
    from albef_mm.checkpoint import KeyRule, bert_rule
    state = {
        'visual_encoder.cls_token': torch.zeros(1),
        'text_encoder.encoder.layer.1.crossattention.self.key.bias': 1,
        'text_decoder.bert.encoder.layer.0.crossattention.self.key.bias': 2,
        'text_decoder_m.cls.predictions.bias': 3,
        'cls_head.0.weight': 4,
        'itm_head.weight': 5,
        'share.weight': 6,
    }
    rules = [
        # VQA: the answer decoder has cross-attention from layer 0
        bert_rule('text_decoder', text_prefix='unused', neck_prefix='decoder',
                  head_prefix='decoder_head', fusion_layer=0),
        KeyRule('cls_head', 'cls_head.layers', momentum=False),
        # a task rule replaces the default one of the same module
        KeyRule('itm_head', lambda rest, suffix, fl: []),
        # one original tensor feeding two modules
        KeyRule('share', lambda rest, suffix, fl: [f'a.{rest}', f'b.{rest}']),
    ]
    out, dropped = convert_albef_state_dict(state, extra_rules=rules)
    assert dropped == ['itm_head.weight']
    assert out == {
        'vision_backbone.cls_token': state['visual_encoder.cls_token'],
        'neck.encoder.layer.0.crossattention.self.key.bias': 1,
        'decoder.encoder.layer.0.crossattention.self.key.bias': 2,
        'decoder_head_m.predictions.bias': 3,
        'cls_head.layers.0.weight': 4, 'a.weight': 6, 'b.weight': 6}
    # without the task rules the same file names its unknown keys
    with pytest.raises(KeyError, match=r"text_decoder.*cls_head|extra_rules"):
        convert_albef_state_dict(state)


def test_loading_goes_through_the_model_seam():
    fx = torch.load(oracle_fixture('pretrain.pth'))
    model = MODELS.build(tiny_pretrain_model_cfg())
    seen = []

    def convert(state):
        seen.append(len(state))
        return convert_albef_state_dict(state)

    model.convert_original_state_dict = convert
    report = load_checkpoint_to_model(model, {'model': fx['model']})
    assert seen == [len(fx['model'])] and report.converted


def _converter():
    return load_script('tools', 'model_converters', 'albef_to_mm.py')


def test_converter_with_config_uses_the_model_and_checks_the_fit(
        tmp_path, capsys):
    from mmengine.config import Config
    fx = torch.load(oracle_fixture('retrieval.pth'))
    src = tmp_path / 'mscoco.pth'
    torch.save({'model': fx['model'], 'epoch': 5}, src)
    model_cfg = tiny_pretrain_model_cfg()
    model_cfg.pop('mlm_head')
    model_cfg['type'] = 'ALBEFRetrieval'
    model_cfg['itc_head'].update(use_idx_queue=True, clamp_temp=False)
    Config(dict(model=model_cfg)).dump(str(tmp_path / 'fits.py'))
    model_cfg['text_backbone']['intermediate_size'] = 256
    Config(dict(model=model_cfg)).dump(str(tmp_path / 'other_size.py'))
    tool = _converter()
    dst = tmp_path / 'mm.pth'
    assert tool.main([str(src), str(dst), '--config',
                      str(tmp_path / 'fits.py'), '--verbose']) == 0
    out = capsys.readouterr().out
    for step in range(1, 5):
        assert f'[{step}/4] ' in out
    assert 'ALBEFRetrieval.convert_original_state_dict' in out
    assert 'visual_encoder.cls_token -> vision_backbone.cls_token ' \
        '(1, 1, 64)' in out
    assert 'neck.encoder.layer.* (52, layers 0-1): ' in out
    assert 'dropped 2 keys' in out and 'fits ALBEFRetrieval' in out
    saved = torch.load(dst)
    assert saved['meta']['config'].endswith('fits.py')
    model = MODELS.build(tiny_pretrain_model_cfg())
    load_checkpoint_to_model(model, str(dst), strict=False)
    torch.testing.assert_close(model.itm_head.fc.weight,
                               fx['model']['itm_head.weight'])
    bad = tmp_path / 'bad.pth'
    assert tool.main([str(src), str(bad), '--config',
                      str(tmp_path / 'other_size.py')]) == 2
    err = capsys.readouterr().err
    assert not bad.exists()
    assert 'text_backbone.encoder.layer.* (6, layers 0-1): ' \
        'intermediate.dense.weight (128, 64) vs (256, 64)' in err
    assert 'another model size' in err


def test_reference_fixtures_ship_with_the_repository():
    import os.path as osp
    import shutil
    import subprocess
    from helpers.tiny import REPO_ROOT
    names = ('pretrain.pth', 'retrieval.pth', 'config_bert_tiny.json',
             'config_bert_tiny_nlvr.json', 'README.md')
    for name in names:
        path = oracle_fixture(name)
        assert osp.dirname(path) == osp.join(REPO_ROOT, 'tests', 'data',
                                             'oracle')
    fx = torch.load(oracle_fixture('retrieval.pth'), weights_only=True)
    assert {'model', 'inputs', 'outputs', 'config'} <= set(fx)
    if shutil.which('git') and osp.isdir(osp.join(REPO_ROOT, '.git')):
        ignored = subprocess.run(
            ['git', 'check-ignore', '--no-index'] +
            [osp.join('tests', 'data', 'oracle', n) for n in names],
            cwd=REPO_ROOT, capture_output=True, text=True)
        assert ignored.stdout == ''  # none of them is excluded
