"""The parity tool on the original-code retrieval fixture: every output of
the fine-tuning step (both ways of replaying the random draws) and of the
evaluation (ITC shortlist + ITM re-rank, both re-ranking methods)."""
import pytest
import torch
from conftest import oracle_fixture

from parity import retrieval as parity_retrieval
from parity import run_fixture
from parity.reference import rerank_itm_plain


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


@torch.no_grad()
@pytest.mark.parametrize('method', ['cached_kv', 'per_pair'])
def test_shortlist_longer_than_the_gallery_scores_every_pair(method):
    """k above the number of images (text -> image) or texts (image ->
    text) is clipped: every pair is re-ranked, with the fixture's ITM
    scores."""
    fx = torch.load(oracle_fixture('retrieval.pth'))
    inp, exp = fx['inputs'], fx['outputs']['eval']
    model = parity_retrieval.build_retrieval_model(fx).eval()
    images = inp['image'][:2]  # 2 images, 4 texts
    img = model.extract_feat(images, mode='image')
    txt = model.extract_feat(text_ids=inp['text_ids'],
                             text_mask=inp['text_atts'], mode='text')
    sims = img['image_feat'] @ txt['text_feat'].t()
    if method == 'cached_kv':
        i2t, t2i = model.score_shortlist(
            img['image_embeds'], torch.arange(2), txt['text_embeds'],
            inp['text_atts'], sims, k=3)
    else:  # the original's loop, the reference of the parity tool
        i2t, t2i = rerank_itm_plain(model.neck, model.itm_head,
                                    img['image_embeds'], txt['text_embeds'],
                                    inp['text_atts'], sims, k=3)
    itm = exp['itm_logits'][:2, :, 1]  # [image, text]
    torch.testing.assert_close(t2i, itm.t(), rtol=1e-5, atol=1e-5)
    top3 = sims.topk(3, dim=1).indices
    for i in range(2):
        torch.testing.assert_close(i2t[i, top3[i]], itm[i, top3[i]],
                                   rtol=1e-5, atol=1e-5)
        others = [j for j in range(4) if j not in top3[i].tolist()]
        assert (i2t[i, others] < -99).all()
