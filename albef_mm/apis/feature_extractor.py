"""Image, text and multimodal embeddings of an ALBEF checkpoint."""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config

from albef_mm.datasets.transforms.loading import (check_rgb_array,
                                                  load_rgb_image)
from albef_mm.datasets.utils import build_pipeline
from .model import init_model

ImageInput = Union[str, np.ndarray]


def _image_pipeline(cfg: Config, model) -> List:
    """The config's test pipeline without its loading and packing steps
    (images are loaded here); a plain resize to the ViT size otherwise."""
    steps = None
    loader = cfg.get('test_dataloader')
    if loader and 'pipeline' in loader.get('dataset', {}):
        steps = [t for t in loader['dataset']['pipeline']
                 if 'Load' not in t['type'] and 'Pack' not in t['type']]
    if not steps:
        size = getattr(model.vision_backbone, 'img_size', 256)
        steps = [dict(type='ALBEFResize', size=size)]
    return build_pipeline(steps)


class FeatureExtractor:
    """Embeddings for scripts and notebooks.

    ``image(...)`` gives the normalised ITC feature ``image_feat`` ``[N, D]``
    and the ViT CLS token ``image_cls`` ``[N, W]``; ``text(...)`` gives
    ``text_feat`` ``[N, D]`` and ``text_cls``; ``multimodal(images, texts)``
    gives the fused CLS token ``multimodal_cls`` ``[N, W]`` of each
    (image i, text i) pair (the input of the ITM head). Works with every
    model that has an ITC head (pre-training, retrieval, zero-shot).

    Args:
        config (str | Config): Model config file.
        checkpoint (str, optional): albef_mm or original ALBEF checkpoint.
        device (str): ``'cpu'`` or ``'cuda'``.
        batch_size (int): Images / texts per forward pass.
        cfg_options (dict, optional): Config overrides.
    """

    def __init__(self, config: Union[str, Config],
                 checkpoint: Optional[str] = None, device: str = 'cpu',
                 batch_size: int = 32, cfg_options: Optional[dict] = None):
        self.model = init_model(config, checkpoint, device, cfg_options)
        if not hasattr(self.model, 'itc_head'):
            raise TypeError(f'{type(self.model).__name__} has no ITC head; '
                            'use a pre-training, retrieval or zero-shot '
                            'classification config')
        self.pipeline = _image_pipeline(self.model.cfg, self.model)
        self.batch_size = batch_size

    def _images(self, images: Sequence[ImageInput]) -> torch.Tensor:
        tensors = []
        for i, img in enumerate(images):
            if isinstance(img, str):
                img = load_rgb_image(img, i)
            else:
                check_rgb_array(img, f'image {i}')
            results = dict(img=img, img_shape=img.shape[:2],
                           ori_shape=img.shape[:2])
            for t in self.pipeline:
                results = t(results)
            tensors.append(torch.from_numpy(np.ascontiguousarray(
                results['img'].transpose(2, 0, 1))))
        pre = self.model.data_preprocessor
        return pre.normalize(torch.stack(tensors).to(pre.device))

    @staticmethod
    def _as_list(x):
        return [x] if isinstance(x, (str, np.ndarray)) else list(x)

    @torch.no_grad()
    def image(self, images: Union[ImageInput, Sequence[ImageInput]]
              ) -> Dict[str, torch.Tensor]:
        images = self._as_list(images)
        out = {'image_feat': [], 'image_cls': []}
        for s in range(0, len(images), self.batch_size):
            feats = self.model.extract_feat(
                self._images(images[s:s + self.batch_size]), mode='image')
            out['image_cls'].append(feats['image_embeds'][:, 0])
            out['image_feat'].append(feats['image_feat'])
        return {k: torch.cat(v) for k, v in out.items()}

    @torch.no_grad()
    def text(self, texts: Union[str, Sequence[str]]
             ) -> Dict[str, torch.Tensor]:
        texts = self._as_list(texts)
        out = {'text_feat': [], 'text_cls': []}
        for s in range(0, len(texts), self.batch_size):
            tok = self.model.data_preprocessor.tokenize(
                texts[s:s + self.batch_size])
            feats = self.model.extract_feat(text_ids=tok['text_ids'],
                                            text_mask=tok['text_mask'],
                                            mode='text')
            out['text_cls'].append(feats['text_embeds'][:, 0])
            out['text_feat'].append(feats['text_feat'])
        return {k: torch.cat(v) for k, v in out.items()}

    @torch.no_grad()
    def multimodal(self, images: Union[ImageInput, Sequence[ImageInput]],
                   texts: Union[str, Sequence[str]]
                   ) -> Dict[str, torch.Tensor]:
        images, texts = self._as_list(images), self._as_list(texts)
        if len(images) != len(texts):
            raise ValueError(f'multimodal() pairs image i with text i: got '
                             f'{len(images)} images and {len(texts)} texts')
        fused = []
        for s in range(0, len(texts), self.batch_size):
            tok = self.model.data_preprocessor.tokenize(
                texts[s:s + self.batch_size])
            feats = self.model.extract_feat(
                self._images(images[s:s + self.batch_size]),
                tok['text_ids'], tok['text_mask'], mode='multimodal')
            fused.append(feats['multimodal_embeds'][:, 0])
        return {'multimodal_cls': torch.cat(fused)}
