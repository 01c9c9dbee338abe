"""Grad-CAM grounding maps against the original code (the ``grounding``
part of the retrieval fixture), through the parity tool."""
import torch
from conftest import oracle_fixture

from parity import run_fixture


def test_grounding_part_matches_the_original():
    fx = torch.load(oracle_fixture('retrieval.pth'))
    results = dict(run_fixture(fx, parts=['grounding']))
    checks = results['grounding']
    bad = [c.name for c in checks if not c.ok]
    assert not bad, bad
    names = {c.name for c in checks}
    # both fusion layers (ITM) and both ViT blocks (ITC) of the fixture
    for block in ('itm/2', 'itm/3'):
        for key in ('attention_map', 'attention_grad',
                    'gradcam_per_head_token', 'gradcam_per_token',
                    'gradcam'):
            assert f'{block}/{key}' in names
    assert {'itc/0/gradcam', 'itc/1/gradcam', 'itc/0/sim'} <= names
    assert len(checks) == 20


def test_grounding_part_detects_a_wrong_layer():
    # the check compares real numbers: a map of the wrong layer fails
    from parity.common import compare
    from parity.grounding import _gradcam, build_grounding_model
    fx = torch.load(oracle_fixture('retrieval.pth'))
    inp = fx['inputs']
    out = _gradcam(build_grounding_model(fx, 'itm', 1), inp['image'],
                   inp['text_ids'], inp['text_atts'])
    expected = fx['outputs']['grounding']['itm'][2]['gradcam']
    assert not compare('gradcam', out['gradcam'], expected).ok


def test_grounding_predict_token_maps_cover_the_real_tokens():
    """``with_token_maps``: one map per real token of each expression
    (padding left out), equal to the fixture's per-token Grad-CAM."""
    from parity.grounding import build_grounding_model
    fx = torch.load(oracle_fixture('retrieval.pth'))
    inp, exp = fx['inputs'], fx['outputs']['grounding']['itm']
    block = min(exp)
    model = build_grounding_model(
        fx, 'itm', int(block) - fx['bert_config']['fusion_layer'])
    model.with_token_maps = True
    samples = model.predict(inp['image'], inp['text_ids'], inp['text_atts'])
    lengths = inp['text_atts'].sum(1).tolist()
    assert len(set(lengths)) > 1
    for i, (sample, n) in enumerate(zip(samples, lengths)):
        assert sample.pred_token_heatmaps.shape[0] == n
        torch.testing.assert_close(sample.pred_token_heatmaps,
                                   exp[block]['gradcam_per_token'][i, :n],
                                   rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(sample.pred_heatmap,
                                   exp[block]['gradcam'][i],
                                   rtol=1e-5, atol=1e-6)
