"""Image-text retrieval over a gallery, both ways: ITC shortlist, then ITM
re-ranking, with the gallery's features computed once and reusable (in
memory, or in an on-disk store for galleries of any size)."""
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config

from albef_mm.datasets.transforms.loading import ImageLoadError
from .feature_extractor import FeatureExtractor, ImageInput
from .gallery_index import index_search, load_index
from .gallery_store import (GalleryStore, StoreMismatchError,
                            list_gallery_images, model_fingerprint)

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def list_image_files(folder: str) -> List[str]:
    """Sorted image files of ``folder`` (raises when there are none)."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{folder} is not a folder of images')
    files = sorted(osp.join(folder, f) for f in os.listdir(folder)
                   if f.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise FileNotFoundError(f'{folder} holds no image file '
                                f'({", ".join(IMAGE_EXTENSIONS)})')
    return files


class ImageTextRetrievalInferencer(FeatureExtractor):
    """Text → image and image → text retrieval with a pre-training or
    retrieval checkpoint.

    The gallery (images for text queries, captions for image queries) is
    encoded once (:meth:`set_image_gallery` / :meth:`set_text_gallery`)
    and can be saved and loaded (:meth:`save_gallery` /
    :meth:`load_gallery`). A query is scored against the whole gallery by
    ITC similarity; its top ``k`` are re-ranked by the ITM match
    probability (the model's ``itm_logits``); at most ``k`` results
    come back per query. Each result holds the
    gallery item, ``itm`` (probability of "matched") and ``itc`` (cosine
    similarity), best ITM first.

    Image galleries of any size go to an on-disk store
    (:meth:`encode_gallery_store`, resumable; :meth:`open_gallery_store`):
    text queries then scan its fp16 features chunk by chunk (exact) or
    query its FAISS index, and the ``k`` shortlisted images are encoded
    again for the ITM re-ranking.

    Example:
        >>> inf = ImageTextRetrievalInferencer(
        ...     'configs/albef/retrieval_shapes_tiny.py', 'ckpt.pth')
        >>> inf.set_image_gallery('data/shapes/images')
        >>> inf.text_to_image('a red circle', topk=3)[0]

    Args:
        config (str | Config): A pre-training or retrieval config.
        checkpoint (str, optional): albef_mm or original ALBEF checkpoint.
        device (str): ``'cpu'`` or ``'cuda'``.
        batch_size (int): Images / texts / pairs per forward pass.
        k (int): ITC shortlist re-ranked by ITM.
        cfg_options (dict, optional): Config overrides.
    """

    def __init__(self, config: Union[str, Config],
                 checkpoint: Optional[str] = None, device: str = 'cpu',
                 batch_size: int = 32, k: int = 16,
                 cfg_options: Optional[dict] = None):
        super().__init__(config, checkpoint, device, batch_size, cfg_options)
        if not hasattr(self.model, 'itm_logits'):
            raise TypeError(f'{type(self.model).__name__} has no ITM head')
        if k <= 0:
            raise ValueError(f'k (the ITC shortlist) must be positive, got '
                             f'{k}')
        self.k = k
        self.gallery: Dict[str, object] = {}
        self.store: Optional[GalleryStore] = None
        self.store_index = None
        self._fingerprint: Optional[str] = None

    @property
    def fingerprint(self) -> str:
        """Hash of this model's weights that saved galleries and stores
        carry (:func:`model_fingerprint`)."""
        if self._fingerprint is None:
            self._fingerprint = model_fingerprint(self.model)
        return self._fingerprint

    # ------------------------------------------------------------ gallery
    @torch.no_grad()
    def _encode_images(self, images: Sequence[ImageInput]):
        embeds, feats = [], []
        for s in range(0, len(images), self.batch_size):
            out = self.model.extract_feat(
                self._images(images[s:s + self.batch_size]), mode='image')
            embeds.append(out['image_embeds'])
            feats.append(out['image_feat'])
        return torch.cat(embeds), torch.cat(feats)

    @torch.no_grad()
    def _encode_texts(self, texts: Sequence[str]):
        embeds, masks, feats = [], [], []
        for s in range(0, len(texts), self.batch_size):
            tok = self.model.data_preprocessor.tokenize(
                list(texts[s:s + self.batch_size]), max_length=30,
                padding='max_length', truncation=True)
            out = self.model.extract_feat(text_ids=tok['text_ids'],
                                          text_mask=tok['text_mask'],
                                          mode='text')
            embeds.append(out['text_embeds'])
            masks.append(tok['text_mask'])
            feats.append(out['text_feat'])
        return torch.cat(embeds), torch.cat(masks), torch.cat(feats)

    def set_image_gallery(self, images: Union[str, Sequence[str]]) -> None:
        """Encode the images text queries search: a folder or a list of
        image files."""
        files = list_image_files(images) if isinstance(images, str) \
            else list(images)
        embeds, feats = self._encode_images(files)
        self.gallery.update(images=files, image_embeds=embeds,
                            image_feat=feats)
        self.store = self.store_index = None

    def set_text_gallery(self, texts: Sequence[str]) -> None:
        """Encode the captions image queries search."""
        texts = list(texts)
        if not texts:
            raise ValueError('the text gallery is empty')
        embeds, masks, feats = self._encode_texts(texts)
        self.gallery.update(texts=texts, text_embeds=embeds,
                            text_mask=masks, text_feat=feats)

    def save_gallery(self, path: str) -> None:
        """Save the encoded galleries (tensors and names) and this model's
        :attr:`fingerprint` to ``path``."""
        if not self.gallery:
            raise RuntimeError('no gallery encoded yet')
        data = {k: v.cpu() if torch.is_tensor(v) else v
                for k, v in self.gallery.items()}
        data['fingerprint'] = self.fingerprint
        torch.save(data, path)

    def load_gallery(self, path: str) -> None:
        """Load galleries saved by :meth:`save_gallery` (tensors, strings
        and lists only, so ``weights_only`` loading is safe). Refused when
        saved by another model (or without a fingerprint) or when a name
        list and its features differ in length."""
        data = torch.load(path, map_location='cpu', weights_only=True)
        saved = data.pop('fingerprint', None)
        if saved != self.fingerprint:
            raise StoreMismatchError(
                f'{path} was saved by another model (fingerprint {saved}, '
                f'this model {self.fingerprint})' if saved else
                f'{path} has no model fingerprint (saved before galleries '
                'carried one), so its features may come from another model'
                '; encode the gallery again and save it')
        for names, keys in (('images', ('image_feat', 'image_embeds')),
                            ('texts', ('text_feat', 'text_embeds',
                                       'text_mask'))):
            if names not in data:
                continue
            for key in keys:
                if key not in data or len(data[key]) != len(data[names]):
                    raise ValueError(
                        f'{path}: {len(data[names])} {names} but '
                        f'{len(data[key]) if key in data else "no"} rows of '
                        f'{key}; the file is damaged, save it again')
        device = self.model.data_preprocessor.device
        self.gallery = {k: v.to(device) if torch.is_tensor(v) else v
                        for k, v in data.items()}
        if 'images' in self.gallery:
            self.store = self.store_index = None

    # ------------------------------------------------------ gallery stores
    def _store_features(self, paths: List[str]):
        """ITC features of ``paths`` for a store: unreadable images get a
        zero row and a message (named, never dropped silently)."""
        feats = np.zeros((len(paths), self.model.itc_head.embed_dim),
                         np.float32)
        bad, good = {}, []
        for i, path in enumerate(paths):
            try:
                good.append((i, self._images([path])[0]))
            except ImageLoadError as err:
                bad[i] = str(err)
                print(f'unreadable, left out of searches: {path}: {err}')
        for s in range(0, len(good), self.batch_size):
            part = good[s:s + self.batch_size]
            with torch.no_grad():
                out = self.model.extract_feat(
                    torch.stack([t for _, t in part]), mode='image')
            feats[[i for i, _ in part]] = \
                out['image_feat'].float().cpu().numpy()
        return feats, bad

    def encode_gallery_store(self, images: Union[str, Sequence[str]],
                             root: str, chunk_size: int = 4096,
                             emit: Optional[Callable[[str], None]] = None
                             ) -> GalleryStore:
        """Encode a folder, a file list (``.txt``) or a list of images into
        the store ``root`` (fp16 features, ``chunk_size`` images per file),
        with progress lines and ETA. Run again after an interruption, it
        keeps the chunks already written and encodes the rest; a store of
        another model or image list is refused. Opens the store for
        queries and returns it."""
        files = list_gallery_images(images, emit or print) \
            if isinstance(images, str) else list(images)
        store = GalleryStore.create(
            root, files, self.fingerprint, self.model.itc_head.embed_dim,
            chunk_size, model_info=dict(
                type=type(self.model).__name__,
                config=getattr(self.model.cfg, 'filename', None)))
        store.encode(self._store_features, emit)
        self.open_gallery_store(root)
        return store

    def open_gallery_store(self, root: str, search: str = 'auto') -> None:
        """Search the store ``root`` from now on (instead of an in-memory
        image gallery). ``search``: ``'exact'`` scans every chunk;
        ``'index'`` needs the store's FAISS index; ``'auto'`` uses the
        index when the store has one (``tools/gallery_store.py build``
        makes one from 200,000 images)."""
        if search not in ('auto', 'exact', 'index'):
            raise ValueError(f"search must be 'auto', 'exact' or 'index', "
                             f'got {search!r}')
        store = GalleryStore.open(root, self.fingerprint)
        index = None if search == 'exact' else load_index(store)
        if search == 'index' and index is None:
            raise FileNotFoundError(f'{root} has no FAISS index; build one '
                                    '(tools/gallery_store.py build)')
        self.store, self.store_index = store, index
        for key in ('images', 'image_embeds', 'image_feat'):
            self.gallery.pop(key, None)

    def _store_shortlist(self, text_feat: torch.Tensor):
        if self.store_index is not None:
            return index_search(self.store, self.store_index, text_feat,
                                self.k)
        return self.store.search(text_feat, self.k)

    # ------------------------------------------------------------ queries
    @staticmethod
    def _check_topk(topk: int) -> None:
        if not isinstance(topk, int) or topk <= 0:
            raise ValueError(f'topk must be a positive integer, got '
                             f'{topk!r}')

    def _need(self, key: str, setter: str) -> None:
        if key not in self.gallery:
            raise RuntimeError(f'no {key} gallery: call {setter}() or '
                               'load_gallery() first')

    @torch.no_grad()
    def text_to_image(self, texts: Union[str, Sequence[str]],
                      topk: int = 5) -> List[List[dict]]:
        """For each text, the ``topk`` gallery images:
        ``{'image', 'itm', 'itc'}`` best ITM first."""
        self._check_topk(topk)
        if self.store is None:
            self._need('images', 'set_image_gallery')
        text_embeds, text_mask, text_feat = self._encode_texts(
            self._as_list(texts))
        if self.store is not None:
            scores, rows = self._store_shortlist(text_feat)
        else:
            sims = text_feat @ self.gallery['image_feat'].t()
            scores, rows = sims.topk(min(self.k, sims.size(1)), dim=1)
        results = []
        for j in range(rows.size(0)):
            short = rows[j]
            n = short.numel()
            if self.store is not None:
                names = [self.store.paths[int(r)] for r in short]
                image_embeds = self._encode_images(names)[0]
            else:
                names = [self.gallery['images'][int(r)] for r in short]
                image_embeds = self.gallery['image_embeds'][short]
            itm = self.model.itm_logits(
                image_embeds, text_embeds[j:j + 1].expand(n, -1, -1),
                text_mask[j:j + 1].expand(n, -1))
            prob = itm.softmax(-1)[:, 1]
            order = prob.argsort(descending=True)[:topk]
            results.append([dict(image=names[i], itm=float(prob[i]),
                                 itc=float(scores[j, i]))
                            for i in order.tolist()])
        return results

    @torch.no_grad()
    def image_to_text(self, images: Union[ImageInput, Sequence[ImageInput]],
                      topk: int = 5) -> List[List[dict]]:
        """For each image, the ``topk`` gallery captions:
        ``{'text', 'itm', 'itc'}`` best ITM first."""
        self._check_topk(topk)
        self._need('texts', 'set_text_gallery')
        g = self.gallery
        image_embeds, image_feat = self._encode_images(
            self._as_list(images))
        sims = image_feat @ g['text_feat'].t()
        results = []
        for i in range(sims.size(0)):
            short = sims[i].topk(min(self.k, sims.size(1))).indices
            itm = self.model.itm_logits(image_embeds[i:i + 1],
                                        g['text_embeds'][short],
                                        g['text_mask'][short])
            prob = itm.softmax(-1)[:, 1]
            order = prob.argsort(descending=True)[:topk]
            results.append([dict(text=g['texts'][int(short[j])],
                                 itm=float(prob[j]),
                                 itc=float(sims[i, short[j]]))
                            for j in order.tolist()])
        return results
