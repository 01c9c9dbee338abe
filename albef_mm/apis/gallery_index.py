"""FAISS indexes over a :class:`~albef_mm.apis.gallery_store.GalleryStore`:
approximate top-k by inner product for galleries where the exact scan
gets slow (see docs/galleries.md for the measured trade-off)."""
import os.path as osp
from typing import Callable, Optional, Tuple

import numpy as np
import torch

from albef_mm.utils.atomic_io import atomic_path
from .gallery_store import GalleryStore

INDEX_FILE = 'index.faiss'
#: The recommended index: recall@10 against the exact scan 0.998 at 5 ms a
#: query on the 1M-vector benchmark of docs/galleries.md, where HNSW32 (at
#: efSearch 256) reached 0.87. Search settings for either kind (each index
#: takes the ones it has).
DEFAULT_SPEC = 'IVF1024,Flat'
DEFAULT_PARAMS = {'nprobe': 16, 'efSearch': 256}
#: Gallery size from which ``gallery_store.py build`` builds an index and
#: searches use it: below it the exact scan answers a query in well under a
#: second on one CPU core (docs/galleries.md).
INDEX_MIN_IMAGES = 200_000


def import_faiss():
    """``faiss``, or an ImportError that says how to install it."""
    try:
        import faiss
    except ImportError as err:
        raise ImportError(
            'FAISS indexes need faiss-cpu: pip install faiss-cpu==1.15.1 '
            '(or pip install -e .[scale]); exact search needs nothing') \
            from err
    return faiss


def _training_sample(store: GalleryStore, rows: int) -> np.ndarray:
    """About ``rows`` rows spread over the whole store, float32."""
    step = max(1, len(store.paths) // rows)
    parts = []
    for c in range(store.num_chunks):
        start, _ = store.chunk_rows(c)
        first = (-start) % step
        parts.append(np.asarray(store.chunk(c)[first::step], np.float32))
    return np.concatenate(parts)


def build_index(store: GalleryStore, spec: str = DEFAULT_SPEC,
                emit: Callable[[str], None] = print):
    """Build the FAISS index ``spec`` (a ``faiss.index_factory`` string,
    inner-product metric) over every row of ``store`` and save it as
    ``<store>/index.faiss``; returns it."""
    faiss = import_faiss()
    if not store.complete:
        raise RuntimeError(f'{store.root}: encode every chunk before '
                           'building an index')
    index = faiss.index_factory(store.meta['dim'], spec,
                                faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        sample = _training_sample(store, 256 * 1024)
        emit(f'training {spec} on {len(sample)} rows')
        index.train(sample)
    for c in range(store.num_chunks):
        index.add(np.asarray(store.chunk(c), np.float32))
        emit(f'index: {store.chunk_rows(c)[1]}/{len(store.paths)} rows')
    with atomic_path(osp.join(store.root, INDEX_FILE)) as tmp:
        faiss.write_index(index, tmp)
    store.meta['index'] = dict(spec=spec, num_images=len(store.paths))
    store._write_meta()
    return index


def load_index(store: GalleryStore):
    """The store's saved index, or None when it has none. Refused when it
    does not cover the store's rows."""
    info = store.meta.get('index')
    path = osp.join(store.root, INDEX_FILE)
    if not info or not osp.isfile(path):
        return None
    index = import_faiss().read_index(path)
    if index.ntotal != len(store.paths):
        raise ValueError(f'{path} holds {index.ntotal} rows, the store '
                         f'{len(store.paths)}: build the index again')
    return index


def index_search(store: GalleryStore, index, queries: torch.Tensor, k: int,
                 params: Optional[dict] = None
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` rows of ``store`` for ``queries`` through ``index``
    (unreadable images left out); scores and rows ``[Q, k']``."""
    faiss = import_faiss()
    space = faiss.ParameterSpace()
    for name, value in (DEFAULT_PARAMS if params is None else
                        params).items():
        if name == 'efSearch' and not hasattr(faiss.downcast_index(index),
                                              'hnsw'):
            continue
        if name == 'nprobe' and 'IVF' not in store.meta['index']['spec']:
            continue
        space.set_index_parameter(index, name, value)
    bad = set(store.unreadable_rows().tolist())
    q = np.ascontiguousarray(queries.detach().float().cpu().numpy())
    scores, rows = index.search(q, min(k + len(bad), index.ntotal))
    out_s, out_i = [], []
    for s, r in zip(scores, rows):
        keep = [(a, b) for a, b in zip(s, r) if b >= 0 and b not in bad][:k]
        out_s.append([a for a, _ in keep])
        out_i.append([b for _, b in keep])
    width = min(len(x) for x in out_i)
    return (torch.tensor([x[:width] for x in out_s]),
            torch.tensor([x[:width] for x in out_i], dtype=torch.long))
