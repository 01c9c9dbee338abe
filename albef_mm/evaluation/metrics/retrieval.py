"""Image-text retrieval recall (ALBEF ``Retrieval.py: itm_eval``)."""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.structures import BaseDataElement

from albef_mm.registry import METRICS

ArrayLike = Union[np.ndarray, torch.Tensor]
# Score elements compared at once (bounds temporary memory).
_CHUNK_ELEMENTS = 1 << 22
RECALL_KEYS = ('txt_r1', 'txt_r5', 'txt_r10', 'txt_r_mean', 'img_r1',
               'img_r5', 'img_r10', 'img_r_mean', 'r_mean')


def _to_numpy(scores: ArrayLike, name: str) -> np.ndarray:
    """A 2-d float numpy copy of a score matrix (tensors go to the CPU;
    half / bfloat16 become float32, which keeps every value and order)."""
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu()
        if not scores.is_floating_point() or scores.dtype in (
                torch.float16, torch.bfloat16):
            scores = scores.float()
        scores = scores.numpy()
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f'{name} must be a 2-d matrix, got shape '
                         f'{scores.shape}')
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(np.float64)
    if np.isnan(scores).any():
        raise ValueError(f'{name} contains NaN scores; rankings would be '
                         'undefined')
    return scores


def _as_list(mapping: Union[Mapping, Sequence], name: str) -> list:
    """Accept ALBEF's dicts keyed 0..n-1 as well as lists."""
    if isinstance(mapping, Mapping):
        try:
            return [mapping[k] for k in range(len(mapping))]
        except KeyError as err:
            raise ValueError(f'{name} as a dict must have the keys 0..'
                             f'{len(mapping) - 1}; key {err} is missing')
    if isinstance(mapping, (np.ndarray, torch.Tensor)):
        return mapping.tolist()
    return list(mapping)


def _check_maps(img2txt: List[List[int]], txt2img: List[int],
                n_img: int, n_txt: int) -> None:
    for j, i in enumerate(txt2img):
        if not 0 <= int(i) < n_img:
            raise ValueError(f'txt2img[{j}] = {i} is not an image index in '
                             f'[0, {n_img})')
    listed = np.zeros(n_txt, dtype=bool)
    for i, gts in enumerate(img2txt):
        if len(gts) == 0:
            raise ValueError(f'img2txt[{i}] is empty: image {i} has no '
                             'ground-truth caption')
        for j in gts:
            if not 0 <= int(j) < n_txt:
                raise ValueError(f'img2txt[{i}] holds {j}, not a text index '
                                 f'in [0, {n_txt})')
            if int(txt2img[int(j)]) != i:
                raise ValueError(
                    f'img2txt[{i}] holds text {j} but txt2img[{j}] = '
                    f'{txt2img[int(j)]}; the two maps disagree')
            if listed[int(j)]:
                raise ValueError(f'text {j} is listed twice in img2txt')
            listed[int(j)] = True
    if not listed.all():
        j = int(np.flatnonzero(~listed)[0])
        raise ValueError(f'text {j} (txt2img[{j}] = {txt2img[j]}) is missing '
                         f'from img2txt[{txt2img[j]}]; the two maps disagree')


def _positions(scores: np.ndarray, rows: np.ndarray,
               cols: np.ndarray) -> np.ndarray:
    """Position of column ``cols[p]`` in row ``rows[p]`` of ``scores``
    sorted by descending score, for every pair ``p``.

    Equal to the position in ``np.argsort(row, kind='stable')[::-1]``:
    the items before it are those with a higher score and those with the
    same score and a **larger** column index. Counting is O(N) per pair
    (no sort) and runs in chunks of ~4M elements.
    """
    n_cols = scores.shape[1]
    col_ids = np.arange(n_cols)
    out = np.empty(len(rows), dtype=np.int64)
    step = max(1, _CHUNK_ELEMENTS // n_cols)
    for start in range(0, len(rows), step):
        r = rows[start:start + step]
        c = cols[start:start + step]
        block = scores[r]
        value = block[np.arange(len(r)), c][:, None]
        higher = np.count_nonzero(block > value, axis=1)
        tied_after = np.count_nonzero(
            (block == value) & (col_ids[None, :] > c[:, None]), axis=1)
        out[start:start + step] = higher + tied_after
    return out


def _recalls(ranks: np.ndarray) -> List[float]:
    return [100.0 * float(np.count_nonzero(ranks < k)) / len(ranks)
            for k in (1, 5, 10)]


def retrieval_recalls(scores_i2t: ArrayLike,
                      scores_t2i: ArrayLike,
                      img2txt: Union[Sequence[Sequence[int]], Mapping],
                      txt2img: Union[Sequence[int], Mapping]
                      ) -> Dict[str, float]:
    """Text and image retrieval recalls at 1, 5 and 10, as ALBEF's
    ``itm_eval`` in ``Retrieval.py``.

    - Text retrieval (TR, image → text): the rank of image ``i`` is the
      **best** (smallest) position of any of its ground-truth captions in
      row ``i`` of ``scores_i2t`` sorted by descending score.
    - Image retrieval (IR, text → image): the rank of text ``j`` is the
      position of its ground-truth image in row ``j`` of ``scores_t2i``.
    - ``R@K`` = 100 · (fraction of queries with rank < K).

    Ties: a row is ordered by ``np.argsort(row, kind='stable')[::-1]``, so
    among equal scores the item with the **larger** index ranks first. The
    original calls ``np.argsort(row)[::-1]`` with numpy's default
    (quicksort / SIMD) sort, whose order among ties is not specified and
    differs between numpy builds; the stable variant is the deterministic
    order it produces where that sort is stable. ALBEF's only systematic
    ties are the ``-100`` fill of pairs outside the ITM top-k, which sit
    at positions >= ``k_test`` (128/256) and so never change R@1/5/10.

    Args:
        scores_i2t (np.ndarray | Tensor): ``[N_img, N_txt]`` image-to-text
            scores (higher is better).
        scores_t2i (np.ndarray | Tensor): ``[N_txt, N_img]`` text-to-image
            scores.
        img2txt (Sequence[Sequence[int]] | Mapping): Ground-truth caption
            indices of each image (lists, or ALBEF's dict keyed 0..N_img-1).
        txt2img (Sequence[int] | Mapping): Ground-truth image index of each
            caption.

    Returns:
        dict: ``txt_r1``, ``txt_r5``, ``txt_r10``, ``txt_r_mean``,
        ``img_r1``, ``img_r5``, ``img_r10``, ``img_r_mean`` and ``r_mean``
        (Python floats, computed in float64, in percent).

    Raises:
        ValueError: When the shapes do not match the maps, an index is out
            of range, an image has no caption, the maps disagree, or a score
            is NaN.
    """
    i2t = _to_numpy(scores_i2t, 'scores_i2t')
    t2i = _to_numpy(scores_t2i, 'scores_t2i')
    img2txt = [[int(j) for j in _as_list(g, f'img2txt[{i}]')]
               for i, g in enumerate(_as_list(img2txt, 'img2txt'))]
    txt2img = [int(i) for i in _as_list(txt2img, 'txt2img')]
    n_img, n_txt = len(img2txt), len(txt2img)
    if n_img == 0 or n_txt == 0:
        raise ValueError(f'need at least one image and one text, got '
                         f'{n_img} images and {n_txt} texts')
    if i2t.shape != (n_img, n_txt):
        raise ValueError(f'scores_i2t has shape {i2t.shape}, expected '
                         f'(num_images, num_texts) = ({n_img}, {n_txt}) from '
                         'img2txt / txt2img')
    if t2i.shape != (n_txt, n_img):
        raise ValueError(f'scores_t2i has shape {t2i.shape}, expected '
                         f'(num_texts, num_images) = ({n_txt}, {n_img}) from '
                         'txt2img / img2txt')
    _check_maps(img2txt, txt2img, n_img, n_txt)

    # TR: best position over each image's GT captions.
    pair_img = np.repeat(np.arange(n_img), [len(g) for g in img2txt])
    pair_txt = np.asarray([j for g in img2txt for j in g], dtype=np.int64)
    txt_ranks = np.full(n_img, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(txt_ranks, pair_img, _positions(i2t, pair_img, pair_txt))
    # IR: position of each text's GT image.
    img_ranks = _positions(t2i, np.arange(n_txt),
                           np.asarray(txt2img, dtype=np.int64))

    tr1, tr5, tr10 = _recalls(txt_ranks)
    ir1, ir5, ir10 = _recalls(img_ranks)
    tr_mean = (tr1 + tr5 + tr10) / 3
    ir_mean = (ir1 + ir5 + ir10) / 3
    return dict(txt_r1=tr1, txt_r5=tr5, txt_r10=tr10, txt_r_mean=tr_mean,
                img_r1=ir1, img_r5=ir5, img_r10=ir10, img_r_mean=ir_mean,
                r_mean=(tr_mean + ir_mean) / 2)


@METRICS.register_module()
class RetrievalRecall(BaseMetric):
    """Recall@1/5/10 of text and image retrieval (ALBEF ``itm_eval``).

    Retrieval is not scored per batch: the evaluation loop computes the full
    score matrices (ITC top-k re-ranked by the ITM positive logit, the rest
    filled with -100) and calls :meth:`process` once with one data sample
    carrying

    - ``scores_i2t``: ``[N_img, N_txt]`` array or tensor;
    - ``scores_t2i``: ``[N_txt, N_img]`` array or tensor;
    - ``img2txt`` (list of lists) and ``txt2img`` (list), e.g. the
      test-mode :class:`~albef_mm.datasets.RetrievalDataset` attributes.

    A sample may be a dict or a :class:`DataSample`. Then
    ``evaluate(size)`` returns :func:`retrieval_recalls` with keys prefixed
    by ``retrieval/`` (``retrieval/txt_r1`` ... ``retrieval/r_mean``;
    ``r_mean`` is ALBEF's model-selection criterion). If several samples
    were processed (for instance every rank submitted the same all-reduced
    matrices), they must be identical; otherwise an error is raised.

    Args:
        collect_device (str): ``'cpu'`` or ``'gpu'`` for collecting results
            across ranks. Defaults to ``'cpu'``.
        prefix (str, optional): Metric-name prefix. Defaults to None, i.e.
            ``default_prefix`` = ``'retrieval'``.
    """

    default_prefix: Optional[str] = 'retrieval'
    _KEYS = ('scores_i2t', 'scores_t2i', 'img2txt', 'txt2img')

    def __init__(self,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        """Store the score matrices and maps of each sample (on the CPU).

        Args:
            data_batch (Any): Unused.
            data_samples (Sequence[dict | DataSample]): Samples carrying
                ``scores_i2t``, ``scores_t2i``, ``img2txt`` and ``txt2img``.
        """
        for n, sample in enumerate(data_samples):
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            if not isinstance(sample, Mapping):
                raise TypeError(f'RetrievalRecall: data sample {n} must be a '
                                f'dict or DataSample, got '
                                f'{type(sample).__name__}')
            missing = [k for k in self._KEYS if k not in sample]
            if missing:
                raise KeyError(
                    f'RetrievalRecall: data sample {n} lacks {missing} '
                    f'(has {sorted(sample)}); the retrieval evaluation loop '
                    'must pass the full score matrices and the GT maps')
            self.results.append(dict(
                scores_i2t=_to_numpy(sample['scores_i2t'], 'scores_i2t'),
                scores_t2i=_to_numpy(sample['scores_t2i'], 'scores_t2i'),
                img2txt=[list(g) for g in _as_list(sample['img2txt'],
                                                   'img2txt')],
                txt2img=list(_as_list(sample['txt2img'], 'txt2img'))))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Compute the recalls from the (single) processed sample.

        Args:
            results (list[dict]): What :meth:`process` stored.

        Returns:
            dict: See :func:`retrieval_recalls`.
        """
        if not results:
            raise ValueError('RetrievalRecall: nothing was processed; the '
                             'evaluation loop must call process() with the '
                             'score matrices')
        first = results[0]
        for n, other in enumerate(results[1:], start=1):
            same = (other['img2txt'] == first['img2txt']
                    and other['txt2img'] == first['txt2img']
                    and np.array_equal(other['scores_i2t'],
                                       first['scores_i2t'])
                    and np.array_equal(other['scores_t2i'],
                                       first['scores_t2i']))
            if not same:
                raise ValueError(
                    f'RetrievalRecall: got {len(results)} different score '
                    f'sets (result {n} differs from result 0); process() '
                    'must receive the full matrices of one split once per '
                    'evaluation')
        return retrieval_recalls(first['scores_i2t'], first['scores_t2i'],
                                 first['img2txt'], first['txt2img'])
