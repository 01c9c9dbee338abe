"""The parity tool on the original-code retrieval fixture: every output of
the fine-tuning step (both ways of replaying the random draws) and of the
evaluation (ITC shortlist + ITM re-rank, both re-ranking methods)."""
import torch
from conftest import oracle_fixture

from parity import run_fixture


def test_retrieval_fixture_matches_with_injected_and_seeded_draws():
    fx = torch.load(oracle_fixture('retrieval.pth'))
    for replay in ('inject', 'seed'):
        results = dict(run_fixture(fx, parts=['train_step', 'eval'],
                                   replay=replay))
        bad = [c.name for checks in results.values() for c in checks
               if not c.ok]
        assert not bad, f'{replay}: {bad}'
        names = {c.name for c in results['train_step']}
        # the same-image handling of ITM negatives is checked
        assert {'itm_neg_image_idx_for_text', 'forward_locals/weights_i2t',
                'forward_locals/sim_targets', 'queue_after/idx_queue'} <= names
        assert len(results['train_step']) > 150
        assert {'score_matrix_i2t', 'score_matrix_t2i[plain]'} <= {
            c.name for c in results['eval']}
