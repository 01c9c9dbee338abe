"""An on-disk image gallery for retrieval past what fits in RAM: fp16 ITC
features in memory-mapped chunk files, the image paths, and the model
they came from; written chunk by chunk so an interrupted encoding resumes.

Layout of a store folder::

    store.json           format, model fingerprint, dim, chunk size,
                         completed chunks, unreadable images
    paths.txt            one image path per line (row i = line i)
    feats_000000.npy     float16 [chunk_size, dim], rows of the chunk
    ...
    index.faiss          optional FAISS index (gallery_index.py)

Every file is written to a temporary name and renamed, and ``store.json``
is rewritten after each chunk: a kill leaves the completed chunks usable.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from albef_mm.utils.atomic_io import atomic_path, atomic_write_text
from albef_mm.engine.progress import ETAProgress

FORMAT = 'albef_mm-gallery-store-1'
META, PATHS = 'store.json', 'paths.txt'
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


class StoreMismatchError(ValueError):
    """A store (or saved gallery) was built by another model, or from
    another file list."""


def model_fingerprint(model: torch.nn.Module) -> str:
    """A short hash of the model's class, its parameter names and shapes,
    the full ITC projections and every 4099th value of every other tensor:
    two checkpoints differ in it unless they are the same weights (a few
    sampled values are enough, as no two trainings agree on them)."""
    digest = hashlib.sha256(type(model).__name__.encode())
    for name, tensor in sorted(model.state_dict().items()):
        if not torch.is_tensor(tensor) or name.endswith('_queue'):
            continue  # feature queues change in training, not the features
        digest.update(f'{name}:{tuple(tensor.shape)}'.encode())
        flat = tensor.detach().reshape(-1)
        if 'proj' not in name:
            flat = flat[::4099]
        digest.update(flat.float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def list_gallery_images(source: str, emit: Callable[[str], None] = print
                        ) -> List[str]:
    """Image paths of a folder (recursive, sorted) or a file list (``.txt``,
    one path per line, relative to the list's folder).

    A folder's other files are skipped, each named through ``emit``; in a
    file list a missing file or one without an image extension is an error
    naming the line.
    """
    if osp.isdir(source):
        files, others = [], []
        for root, _, names in os.walk(source):
            for name in names:
                path = osp.join(root, name)
                (files if name.lower().endswith(IMAGE_EXTENSIONS)
                 else others).append(path)
        for path in sorted(others):
            emit(f'skipped (not an image: {", ".join(IMAGE_EXTENSIONS)}): '
                 f'{path}')
        if not files:
            raise FileNotFoundError(f'{source} holds no image file '
                                    f'({", ".join(IMAGE_EXTENSIONS)})')
        return sorted(files)
    if not osp.isfile(source):
        raise FileNotFoundError(f'{source}: no such folder or file list')
    root, files = osp.dirname(source), []
    with open(source, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            path = line if osp.isabs(line) else osp.join(root, line)
            if not line.lower().endswith(IMAGE_EXTENSIONS):
                raise ValueError(f'{source}, line {n}: {line} is not an '
                                 f'image file ({", ".join(IMAGE_EXTENSIONS)})')
            if not osp.isfile(path):
                raise FileNotFoundError(f'{source}, line {n}: {path} not '
                                        'found')
            files.append(path)
    if not files:
        raise ValueError(f'{source} lists no image')
    return files


class GalleryStore:
    """A store folder opened for reading (and, through :meth:`encode`,
    for writing). Use :meth:`create` / :meth:`open`.

    Attributes:
        root (str): The folder.
        meta (dict): ``store.json``.
        paths (list[str]): Image of each row.
    """

    def __init__(self, root: str, meta: dict, paths: List[str]):
        self.root, self.meta, self.paths = root, meta, paths
        self._chunks: Dict[int, np.ndarray] = {}

    # ------------------------------------------------------------ opening
    @classmethod
    def create(cls, root: str, paths: Sequence[str], fingerprint: str,
               dim: int, chunk_size: int = 4096,
               model_info: Optional[dict] = None) -> 'GalleryStore':
        """A new store in ``root`` for ``paths``; an existing store there
        for the same paths and model is opened instead (to resume); one for
        other paths or another model is refused."""
        paths = [osp.abspath(p) for p in paths]
        if osp.isfile(osp.join(root, META)):
            store = cls.open(root, fingerprint)
            if store.paths != paths:
                raise StoreMismatchError(
                    f'{root} holds a store of another image list '
                    f'({len(store.paths)} images, first '
                    f'{store.paths[0]}); choose a new folder')
            return store
        if osp.isdir(root) and os.listdir(root):
            raise FileExistsError(f'{root} is a non-empty folder without a '
                                  f'{META}; choose a new folder')
        if chunk_size <= 0:
            raise ValueError(f'chunk_size must be positive, got '
                             f'{chunk_size}')
        meta = dict(format=FORMAT, fingerprint=fingerprint, dim=int(dim),
                    chunk_size=int(chunk_size), num_images=len(paths),
                    model=model_info or {}, chunks=[], unreadable={})
        os.makedirs(root, exist_ok=True)
        atomic_write_text(osp.join(root, PATHS), '\n'.join(paths) + '\n')
        store = cls(root, meta, paths)
        store._write_meta()
        return store

    @classmethod
    def open(cls, root: str, fingerprint: Optional[str] = None
             ) -> 'GalleryStore':
        """Open ``root``; with ``fingerprint``, refuse a store of another
        model (:class:`StoreMismatchError`)."""
        meta_path = osp.join(root, META)
        try:
            with open(meta_path, encoding='utf-8') as f:
                meta = json.load(f)
        except (OSError, ValueError) as err:
            raise FileNotFoundError(f'{meta_path}: not a gallery store '
                                    f'({err})') from err
        if meta.get('format') != FORMAT:
            raise ValueError(f'{meta_path}: format {meta.get("format")!r}, '
                             f'expected {FORMAT!r}')
        if fingerprint is not None and meta['fingerprint'] != fingerprint:
            raise StoreMismatchError(
                f'{root} was encoded by another model (fingerprint '
                f'{meta["fingerprint"]}, model {meta.get("model")}); this '
                f'model is {fingerprint}: its features are not comparable. '
                'Encode the gallery again with this model')
        with open(osp.join(root, PATHS), encoding='utf-8') as f:
            paths = f.read().splitlines()
        if len(paths) != meta['num_images']:
            raise ValueError(f'{root}/{PATHS} lists {len(paths)} images, '
                             f'{META} says {meta["num_images"]}')
        return cls(root, meta, paths)

    def _write_meta(self) -> None:
        atomic_write_text(osp.join(self.root, META),
                          json.dumps(self.meta, indent=1))

    # ------------------------------------------------------------ writing
    @property
    def num_chunks(self) -> int:
        size = self.meta['chunk_size']
        return (len(self.paths) + size - 1) // size

    @property
    def complete(self) -> bool:
        return len(self.meta['chunks']) == self.num_chunks

    def chunk_rows(self, c: int) -> Tuple[int, int]:
        size = self.meta['chunk_size']
        return c * size, min((c + 1) * size, len(self.paths))

    def encode(self, encode: Callable[[List[str]], Tuple[np.ndarray, dict]],
               emit: Optional[Callable[[str], None]] = None) -> None:
        """Encode the chunks not written yet. ``encode(paths)`` returns the
        ``[n, dim]`` features and ``{row: message}`` for unreadable images
        (their rows are ignored by searches)."""
        todo = [c for c in range(self.num_chunks)
                if c not in self.meta['chunks']]
        done = self.num_chunks - len(todo)
        if done:
            (emit or print)(f'{self.root}: resuming, {done} of '
                            f'{self.num_chunks} chunks already encoded')
        progress = ETAProgress(sum(end - start for start, end in
                                   map(self.chunk_rows, todo)),
                               'encoding gallery images', emit=emit)
        for c in todo:
            start, end = self.chunk_rows(c)
            feats, bad = encode(self.paths[start:end])
            feats = np.asarray(feats, dtype=np.float16)
            expected = (end - start, self.meta['dim'])
            if feats.shape != expected:
                raise ValueError(f'encoder returned {feats.shape} for chunk '
                                 f'{c}, expected {expected}')
            with atomic_path(self._chunk_file(c)) as tmp:
                with open(tmp, 'wb') as f:
                    np.save(f, feats)
            for row, message in bad.items():
                self.meta['unreadable'][str(start + row)] = message
            self.meta['chunks'].append(c)
            self._write_meta()
            progress.update(end - start)

    def _chunk_file(self, c: int) -> str:
        return osp.join(self.root, f'feats_{c:06d}.npy')

    # ------------------------------------------------------------ reading
    def chunk(self, c: int) -> np.ndarray:
        """Chunk ``c``'s features, memory-mapped (float16)."""
        if c not in self._chunks:
            if c not in self.meta['chunks']:
                raise RuntimeError(f'{self.root}: chunk {c} is not encoded '
                                   'yet; finish the encoding first')
            self._chunks[c] = np.load(self._chunk_file(c), mmap_mode='r')
        return self._chunks[c]

    def unreadable_rows(self) -> np.ndarray:
        return np.array(sorted(int(r) for r in self.meta['unreadable']),
                        dtype=np.int64)

    def search(self, queries: torch.Tensor, k: int
               ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Exact top-``k`` inner products of ``queries`` ``[Q, dim]`` over
        the store, one chunk in memory at a time; returns scores and row
        indices ``[Q, k']`` (``k' = min(k, readable rows)``), best first."""
        if not self.complete:
            raise RuntimeError(f'{self.root}: {len(self.meta["chunks"])} of '
                               f'{self.num_chunks} chunks encoded; finish '
                               'the encoding (run it again) first')
        q = queries.detach().float().cpu()
        bad = self.unreadable_rows()
        best_s = torch.full((q.size(0), 0), float('-inf'))
        best_i = torch.zeros((q.size(0), 0), dtype=torch.long)
        for c in range(self.num_chunks):
            start, _ = self.chunk_rows(c)
            scores = q @ torch.from_numpy(np.asarray(self.chunk(c),
                                                     np.float32)).t()
            mine = bad[(bad >= start) & (bad < start + scores.size(1))]
            scores[:, torch.from_numpy(mine - start)] = float('-inf')
            best_s = torch.cat([best_s, scores], 1)
            best_i = torch.cat([best_i, torch.arange(
                start, start + scores.size(1)).expand(q.size(0), -1)], 1)
            keep = min(k, best_s.size(1))
            best_s, idx = best_s.topk(keep, dim=1)
            best_i = best_i.gather(1, idx)
        keep = min(k, len(self.paths) - len(bad))
        return best_s[:, :keep], best_i[:, :keep]
