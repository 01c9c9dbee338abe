import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

from albef_mm.evaluation.metrics import RetrievalRecall, retrieval_recalls
from albef_mm.registry import METRICS
from albef_mm.structures.data_sample import DataSample

KEYS = ['txt_r1', 'txt_r5', 'txt_r10', 'txt_r_mean', 'img_r1', 'img_r5',
        'img_r10', 'img_r_mean', 'r_mean']


def _maps(caps_per_image):
    img2txt, txt2img = [], []
    for i, n in enumerate(caps_per_image):
        img2txt.append(list(range(len(txt2img), len(txt2img) + n)))
        txt2img += [i] * n
    return img2txt, txt2img


def _reference(si, st, img2txt, txt2img):
    """ALBEF's itm_eval loop with the stable reversed argsort."""
    def recalls(ranks):
        return [100.0 * np.sum(ranks < k) / len(ranks) for k in (1, 5, 10)]

    tr = np.array([min(np.where(np.argsort(s, kind='stable')[::-1] == j)[0][0]
                       for j in img2txt[i]) for i, s in enumerate(si)])
    ir = np.array([np.where(np.argsort(s, kind='stable')[::-1] ==
                            txt2img[j])[0][0] for j, s in enumerate(st)])
    return recalls(tr) + recalls(ir)


def _pick(res):
    return [res[k] for k in ('txt_r1', 'txt_r5', 'txt_r10', 'img_r1',
                             'img_r5', 'img_r10')]


def test_hand_computed_ranks():
    # 3 images; captions: image 0 -> 0, 1; image 1 -> 2; image 2 -> 3, 4, 5
    img2txt, txt2img = _maps([2, 1, 3])
    si = np.array([
        # image 0: sorted texts 5, 4, 1, 0, 3, 2 -> best GT (1) at rank 2
        [0.3, 0.4, 0.1, 0.2, 0.8, 0.9],
        # image 1: text 2 highest -> rank 0
        [0.1, 0.2, 0.9, 0.3, 0.4, 0.5],
        # image 2: GT 3, 4, 5 are the 3 lowest -> best (text 5) at rank 3
        [0.9, 0.8, 0.7, 0.1, 0.2, 0.3],
    ])
    st = np.array([
        [0.5, 0.9, 0.1],  # text 0 (image 0): rank 1
        [0.9, 0.1, 0.2],  # text 1: rank 0
        [0.1, 0.9, 0.2],  # text 2 (image 1): rank 0
        [0.9, 0.8, 0.1],  # text 3 (image 2): rank 2
        [0.1, 0.2, 0.3],  # text 4: rank 0
        [0.3, 0.1, 0.2],  # text 5: rank 1
    ])
    res = retrieval_recalls(si, st, img2txt, txt2img)
    assert list(res) == KEYS
    # TR ranks [2, 0, 3]; IR ranks [1, 0, 0, 2, 0, 1]
    assert res['txt_r1'] == pytest.approx(100 / 3)
    assert res['txt_r5'] == res['txt_r10'] == 100.0
    assert res['img_r1'] == pytest.approx(50.0)
    assert res['img_r5'] == res['img_r10'] == 100.0
    assert res['txt_r_mean'] == pytest.approx((100 / 3 + 200) / 3)
    assert res['img_r_mean'] == pytest.approx(250 / 3)
    assert res['r_mean'] == pytest.approx(
        (res['txt_r_mean'] + res['img_r_mean']) / 2)
    assert all(type(v) is float for v in res.values())


def test_rank_boundaries_k5_k10():
    # one image, 12 texts; its only GT caption at rank 4, then 5, 9, 10
    img2txt, txt2img = [[0], list(range(1, 12))], [0] + [1] * 11
    for rank, expect in [(4, (0, 100, 100)), (5, (0, 0, 100)),
                         (9, (0, 0, 100)), (10, (0, 0, 0))]:
        row = np.linspace(1, 0, 12)  # text k at rank k
        row[[0, rank]] = row[[rank, 0]]  # put the GT (text 0) at `rank`
        si = np.stack([row, np.linspace(0, 1, 12)])
        st = np.tile([[1.0, 0.0]], (12, 1))
        st[1:] = [0.0, 1.0]
        res = retrieval_recalls(si, st, img2txt, txt2img)
        assert (res['txt_r1'], res['txt_r5'], res['txt_r10']) == (
            pytest.approx(expect[0] / 2 + 50), pytest.approx(expect[1] / 2 +
                                                             50),
            pytest.approx(expect[2] / 2 + 50))


def test_best_gt_caption_counts():
    # image 0 owns texts 0 and 3; text 3 is ranked first, text 0 last
    img2txt, txt2img = [[0, 3], [1, 2]], [0, 1, 1, 0]
    si = np.array([[0.0, 0.5, 0.6, 1.0], [0.0, 1.0, 0.9, 0.1]])
    st = np.eye(2)[txt2img]
    res = retrieval_recalls(si, st, img2txt, txt2img)
    assert res['txt_r1'] == 100.0 and res['img_r1'] == 100.0


def test_perfect_and_worst():
    img2txt, txt2img = _maps([5] * 12)
    si = np.zeros((12, 60))
    for i, gts in enumerate(img2txt):
        si[i, gts] = 1.0
    st = si.T.copy()
    res = retrieval_recalls(si, st, img2txt, txt2img)
    assert all(v == 100.0 for v in res.values())
    worst = retrieval_recalls(-si - np.arange(60) * 1e-3,
                              -st - np.arange(12) * 1e-3, img2txt, txt2img)
    assert all(v == 0.0 for v in worst.values())


def test_ties_later_index_ranks_first():
    # all scores equal: argsort(kind='stable')[::-1] puts the LAST index first
    img2txt, txt2img = [[0], [1], [2, 3]], [0, 1, 2, 2]
    si = np.zeros((3, 4))
    st = np.zeros((4, 3))
    res = retrieval_recalls(si, st, img2txt, txt2img)
    # TR ranks: image 0 -> text 0 at position 3; image 1 -> 2; image 2 -> 0
    assert res['txt_r1'] == pytest.approx(100 / 3)
    # IR ranks: image 2 first -> texts 2, 3 rank 0; text 0 rank 2; text 1: 1
    assert res['img_r1'] == 50.0
    # a tie with a higher-index non-GT pushes the GT down one place
    si = np.array([[1.0, 0.0, 0.0, 1.0], [0, 1, 0, 0], [0, 0, 1, 0]])
    res = retrieval_recalls(si, np.eye(3)[txt2img], img2txt, txt2img)
    assert res['txt_r1'] == pytest.approx(200 / 3)
    si[0, 3] = 0.5
    res = retrieval_recalls(si, np.eye(3)[txt2img], img2txt, txt2img)
    assert res['txt_r1'] == 100.0


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_matches_reference_with_ties(seed):
    rng = np.random.default_rng(seed)
    img2txt, txt2img = _maps(rng.integers(1, 7, size=40))
    perm = rng.permutation(len(txt2img))  # captions not in image order
    img2txt = [[int(perm[j]) for j in g] for g in img2txt]
    txt2img = [0] * len(txt2img)
    for i, g in enumerate(img2txt):
        for j in g:
            txt2img[j] = i
    # few distinct values -> many ties, plus the -100 fill of ALBEF
    si = rng.integers(0, 6, size=(40, len(txt2img))).astype(np.float32)
    st = rng.integers(0, 6, size=(len(txt2img), 40)).astype(np.float32)
    si[rng.random(si.shape) < 0.5] = -100
    st[rng.random(st.shape) < 0.5] = -100
    assert _pick(retrieval_recalls(si, st, img2txt, txt2img)) == \
        pytest.approx(_reference(si, st, img2txt, txt2img))
    # torch input, dict maps as in ALBEF, bf16 scores
    res = retrieval_recalls(torch.from_numpy(si).bfloat16(),
                            torch.from_numpy(st),
                            dict(enumerate(img2txt)), dict(enumerate(txt2img)))
    assert _pick(res) == pytest.approx(_reference(si, st, img2txt, txt2img))


def test_chunking_matches(monkeypatch):
    import albef_mm.evaluation.metrics.retrieval as mod
    rng = np.random.default_rng(3)
    img2txt, txt2img = _maps([3] * 30)
    si = rng.standard_normal((30, 90))
    st = rng.standard_normal((90, 30))
    full = retrieval_recalls(si, st, img2txt, txt2img)
    monkeypatch.setattr(mod, '_CHUNK_ELEMENTS', 100)
    assert retrieval_recalls(si, st, img2txt, txt2img) == full


def test_validation_errors():
    img2txt, txt2img = _maps([2, 1])
    si, st = np.zeros((2, 3)), np.zeros((3, 2))
    with pytest.raises(ValueError, match=r'scores_i2t has shape \(3, 2\), '
                       r'expected \(num_images, num_texts\) = \(2, 3\)'):
        retrieval_recalls(st, st, img2txt, txt2img)
    with pytest.raises(ValueError, match=r'scores_t2i has shape \(2, 3\)'):
        retrieval_recalls(si, si, img2txt, txt2img)
    with pytest.raises(ValueError, match='2-d'):
        retrieval_recalls(np.zeros(6), st, img2txt, txt2img)
    with pytest.raises(ValueError, match='NaN'):
        retrieval_recalls(np.full((2, 3), np.nan), st, img2txt, txt2img)
    with pytest.raises(ValueError, match=r'img2txt\[1\] is empty'):
        retrieval_recalls(np.zeros((2, 2)), np.zeros((2, 2)), [[0, 1], []],
                          [0, 0])
    with pytest.raises(ValueError, match=r'txt2img\[2\] = 5'):
        retrieval_recalls(si, st, img2txt, [0, 0, 5])
    with pytest.raises(ValueError, match=r'img2txt\[1\] holds 7'):
        retrieval_recalls(si, st, [[0, 1], [7]], txt2img)
    with pytest.raises(ValueError, match='the two maps disagree'):
        retrieval_recalls(si, st, [[0, 2], [1]], txt2img)
    with pytest.raises(ValueError, match=r'text 1 \(txt2img\[1\] = 0\) is '
                       r'missing from img2txt\[0\]'):
        retrieval_recalls(si, st, [[0], [2]], txt2img)
    with pytest.raises(ValueError, match='text 0 is listed twice'):
        retrieval_recalls(si, st, [[0, 0, 1], [2]], txt2img)
    with pytest.raises(ValueError, match='keys 0..1'):
        retrieval_recalls(si, st, {0: [0, 1], 5: [2]}, txt2img)


def _sample(rng, caps=(2, 3, 1, 4)):
    img2txt, txt2img = _maps(caps)
    si = rng.standard_normal((len(caps), len(txt2img)))
    st = rng.standard_normal((len(txt2img), len(caps)))
    return dict(scores_i2t=torch.from_numpy(si), scores_t2i=st,
                img2txt=img2txt, txt2img=txt2img)


def test_metric_with_evaluator():
    rng = np.random.default_rng(0)
    sample = _sample(rng)
    expected = retrieval_recalls(sample['scores_i2t'], sample['scores_t2i'],
                                 sample['img2txt'], sample['txt2img'])
    evaluator = Evaluator(METRICS.build(dict(type='RetrievalRecall')))
    evaluator.process(data_samples=[sample], data_batch=None)
    res = evaluator.evaluate(1)
    assert res == {f'retrieval/{k}': v for k, v in expected.items()}
    # a DataSample works too, and a custom prefix
    ds = DataSample()
    for k, v in sample.items():
        ds.set_field(v, k)
    evaluator = Evaluator(RetrievalRecall(prefix='val'))
    evaluator.process(data_samples=[ds], data_batch=None)
    assert evaluator.evaluate(1)['val/r_mean'] == expected['r_mean']


def test_metric_identical_copies_and_errors():
    rng = np.random.default_rng(1)
    sample = _sample(rng)
    metric = RetrievalRecall()
    metric.process(None, [sample, dict(sample)])  # e.g. one per rank
    res = metric.compute_metrics(metric.results)
    assert res['r_mean'] == retrieval_recalls(
        sample['scores_i2t'], sample['scores_t2i'], sample['img2txt'],
        sample['txt2img'])['r_mean']
    metric = RetrievalRecall()
    metric.process(None, [sample, _sample(rng)])
    with pytest.raises(ValueError, match='different score sets'):
        metric.compute_metrics(metric.results)
    with pytest.raises(ValueError, match='nothing was processed'):
        RetrievalRecall().compute_metrics([])
    with pytest.raises(KeyError, match=r"lacks \['txt2img'\]"):
        RetrievalRecall().process(None, [{k: v for k, v in sample.items()
                                          if k != 'txt2img'}])
    with pytest.raises(TypeError, match='dict or DataSample'):
        RetrievalRecall().process(None, [42])
    metric = RetrievalRecall()
    metric.process(None, [dict(sample, scores_t2i=np.zeros((2, 2)))])
    with pytest.raises(ValueError, match='scores_t2i has shape'):
        metric.compute_metrics(metric.results)
