"""The parity tool on the original-code pre-training fixture."""
import importlib.util
import os.path as osp

import torch
from conftest import oracle_fixture

from parity import run_fixture
from helpers.tiny import REPO_ROOT


def _tool():
    spec = importlib.util.spec_from_file_location(
        'albef_parity', osp.join(REPO_ROOT, 'tools', 'analysis',
                                 'albef_parity.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_pretrain_fixture_matches_with_injected_and_seeded_draws():
    fx = torch.load(oracle_fixture('pretrain.pth'))
    for replay in ('inject', 'seed'):
        results = dict(run_fixture(fx, replay=replay))
        assert set(results) == {'train_step', 'eval'}
        bad = [c.name for checks in results.values() for c in checks
               if not c.ok]
        assert not bad, f'{replay}: {bad}'
        assert len(results['train_step']) > 150


def test_parity_tool_exit_codes(capsys):
    tool = _tool()
    path = oracle_fixture('pretrain.pth')
    assert tool.main([path, '--parts', 'eval']) == 0
    assert 'PARITY OK' in capsys.readouterr().out
    assert tool.main([path, '--parts', 'nonexistent']) == 2
    assert "parts ['nonexistent'] not in the fixture" in \
        capsys.readouterr().out


def test_parity_tool_detects_a_difference(tmp_path):
    fx = torch.load(oracle_fixture('pretrain.pth'))
    fx['outputs']['eval']['text_feat'] = fx['outputs']['eval'][
        'text_feat'] + 1e-3
    path = tmp_path / 'broken.pth'
    torch.save(fx, path)
    assert _tool().main([str(path), '--parts', 'eval']) == 1
