"""The pre-training model on the original-code fixture: the parity tool,
the training step without cached image keys/values (the original's order
of operations, pre-training and retrieval), the temperature clamp, the ITC
loss with the current alpha and the predicted scores."""

import pytest
import torch
from conftest import oracle_fixture

from parity import pretrain as parity_pretrain
from parity import retrieval as parity_retrieval
from parity import run_fixture
from parity.reference import without_kv_reuse
from helpers.scripts import load_script


def _tool():
    return load_script('tools', 'analysis', 'albef_parity.py')


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


@pytest.mark.parametrize('task', ['pretrain', 'retrieval'])
def test_train_step_without_kv_reuse_matches_the_fixture(task, monkeypatch):
    module = dict(pretrain=parity_pretrain, retrieval=parity_retrieval)[task]
    name = f'build_{task}_model'
    build = getattr(module, name)

    def build_plain(fixture):
        return without_kv_reuse(build(fixture))

    monkeypatch.setattr(module, name, build_plain)
    fx = torch.load(oracle_fixture(f'{task}.pth'))
    checks = module.check_train_step(fx, replay='inject')
    bad = [c.name for c in checks if not c.ok]
    assert not bad, bad
    assert len(checks) > 100


def test_pretrain_step_clamps_the_temperature_and_retrieval_does_not():
    # a temperature of 0.9 after a training step: clamped to 0.5 by
    # pre-training, kept by retrieval fine-tuning
    for module, task, after in ((parity_pretrain, 'pretrain', 0.5),
                                (parity_retrieval, 'retrieval', 0.9)):
        fx = torch.load(oracle_fixture(f'{task}.pth'))
        inp = fx['inputs']
        model = getattr(module, f'build_{task}_model')(fx)
        with torch.no_grad():
            model.itc_head.temp.fill_(0.9)
        model.train()
        idx = (inp['idx'], ) if task == 'retrieval' else ()
        model.loss(inp['image'], inp['text_ids'], inp['text_atts'], *idx)
        assert model.itc_head.temp.item() == pytest.approx(after), task


def _itc_loss(q, keys, q_m, temp, alpha):
    """ALBEF's ITC loss of one direction, from recorded features."""
    sim = q @ keys / temp
    hard = torch.zeros_like(sim)
    hard[range(q.size(0)), range(q.size(0))] = 1
    target = alpha * torch.softmax(q_m @ keys / temp, 1) + (1 - alpha) * hard
    return -(torch.log_softmax(sim, 1) * target).sum(1).mean()


@pytest.mark.parametrize('alpha', [0.0, 0.25])
def test_itc_loss_uses_the_current_alpha(alpha):
    """The distillation weight of the step is ``model.alpha`` (ramped by
    AlphaWarmupHook), not the final ``max_alpha``; expected values from the
    recorded features of the fixture."""
    fx = torch.load(oracle_fixture('pretrain.pth'))
    inp, exp = fx['inputs'], fx['outputs']['eval']
    model = parity_pretrain.build_pretrain_model(fx).eval()
    assert model.max_alpha == 0.4
    model.alpha = alpha
    queues = model.itc_loss
    text_all = torch.cat([exp['text_feat_m'].t(), queues.text_queue], 1)
    image_all = torch.cat([exp['image_feat_m'].t(), queues.image_queue], 1)
    temp = model.itc_head.temp.item()  # the fixture's (perturbed) value
    expected = (_itc_loss(exp['image_feat'], text_all, exp['image_feat_m'],
                          temp, alpha) +
                _itc_loss(exp['text_feat'], image_all, exp['text_feat_m'],
                          temp, alpha)) / 2
    with torch.no_grad():
        losses = model.loss(inp['image'], inp['text_ids'], inp['text_atts'])
    torch.testing.assert_close(losses['loss_itc'], expected, rtol=1e-5,
                               atol=1e-5)


def test_predict_scores_are_the_fixture_match_probability_and_cosine():
    fx = torch.load(oracle_fixture('pretrain.pth'))
    inp, exp = fx['inputs'], fx['outputs']['eval']
    model = parity_pretrain.build_pretrain_model(fx).eval()
    samples = model.predict(inp['image'], inp['text_ids'], inp['text_atts'])
    n = inp['image'].size(0)
    pairs = exp['itm_logits'][range(n), range(n)]
    expected_itm = torch.softmax(pairs, -1)[:, 1]
    expected_sim = exp['sim_i2t'].diag() * model.itc_head.temp.item()
    got_itm = torch.stack([s.itm_score for s in samples])
    got_sim = torch.stack([s.itc_sim for s in samples])
    assert (expected_itm.max() - expected_itm.min()) > 1e-3
    torch.testing.assert_close(got_itm, expected_itm, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got_sim, expected_sim, rtol=1e-5, atol=1e-5)
