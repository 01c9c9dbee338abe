"""Image-text retrieval over a gallery, both ways: ITC shortlist, then ITM
re-ranking, with the gallery's features computed once and reusable."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.config import Config

from .feature_extractor import FeatureExtractor, ImageInput

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
        self.k = k
        self.gallery: Dict[str, object] = {}

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

    def set_text_gallery(self, texts: Sequence[str]) -> None:
        """Encode the captions image queries search."""
        texts = list(texts)
        if not texts:
            raise ValueError('the text gallery is empty')
        embeds, masks, feats = self._encode_texts(texts)
        self.gallery.update(texts=texts, text_embeds=embeds,
                            text_mask=masks, text_feat=feats)

    def save_gallery(self, path: str) -> None:
        """Save the encoded galleries (tensors and names) to ``path``."""
        if not self.gallery:
            raise RuntimeError('no gallery encoded yet')
        torch.save({k: v.cpu() if torch.is_tensor(v) else v
                    for k, v in self.gallery.items()}, path)

    def load_gallery(self, path: str) -> None:
        """Load galleries saved by :meth:`save_gallery` (tensors, strings
        and lists only, so ``weights_only`` loading is safe)."""
        data = torch.load(path, map_location='cpu', weights_only=True)
        device = self.model.data_preprocessor.device
        self.gallery = {k: v.to(device) if torch.is_tensor(v) else v
                        for k, v in data.items()}

    # ------------------------------------------------------------ queries
    def _need(self, key: str, setter: str) -> None:
        if key not in self.gallery:
            raise RuntimeError(f'no {key} gallery: call {setter}() or '
                               'load_gallery() first')

    @torch.no_grad()
    def text_to_image(self, texts: Union[str, Sequence[str]],
                      topk: int = 5) -> List[List[dict]]:
        """For each text, the ``topk`` gallery images:
        ``{'image', 'itm', 'itc'}`` best ITM first."""
        self._need('images', 'set_image_gallery')
        g = self.gallery
        text_embeds, text_mask, text_feat = self._encode_texts(
            self._as_list(texts))
        sims = text_feat @ g['image_feat'].t()
        results = []
        for j in range(sims.size(0)):
            short = sims[j].topk(min(self.k, sims.size(1))).indices
            n = short.numel()
            itm = self.model.itm_logits(
                g['image_embeds'][short], text_embeds[j:j + 1].expand(
                    n, -1, -1), text_mask[j:j + 1].expand(n, -1))
            prob = itm.softmax(-1)[:, 1]
            order = prob.argsort(descending=True)[:topk]
            results.append([dict(image=g['images'][int(short[i])],
                                 itm=float(prob[i]),
                                 itc=float(sims[j, short[i]]))
                            for i in order.tolist()])
        return results

    @torch.no_grad()
    def image_to_text(self, images: Union[ImageInput, Sequence[ImageInput]],
                      topk: int = 5) -> List[List[dict]]:
        """For each image, the ``topk`` gallery captions:
        ``{'text', 'itm', 'itc'}`` best ITM first."""
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
