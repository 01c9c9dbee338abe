"""Zero-shot image classification with ALBEF's aligned unimodal encoders:
class-name prompts scored by ITC similarity, optionally re-ranked by ITM."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F

from albef_mm.datasets.transforms.text import pre_caption
from albef_mm.registry import MODELS
from albef_mm.structures import DataSample
from ..heads.itc_loss import split_itc_cfg
from .base import ALBEFBase
from .contrastive import ITCFeatureMixin

DEFAULT_TEMPLATES = ('a photo of a {}.', )


def _read_lines(path: str) -> List[str]:
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


@MODELS.register_module()
class ALBEFZeroShotClassifier(ITCFeatureMixin, ALBEFBase):
    """Zero-shot classifier on a pre-trained (or retrieval) ALBEF.

    Every class name is put into each prompt template; the prompts go once
    through the text encoder and the ITC text projection, the normalised
    features are averaged over the templates of a class and normalised
    again (the class embedding). An image is encoded by the ViT and the ITC
    image projection; its class logits are the cosine similarities with the
    class embeddings divided by the ITC temperature, and ``pred_score`` is
    their softmax. With ``itm_rerank_k > 0`` the ``k`` best classes of each
    image are re-scored by the ITM head on the fused (prompt, image) pairs
    (match probability averaged over the templates): ``itm_fusion='replace'``
    orders them by that probability alone (as ALBEF's retrieval re-ranking),
    ``'mean'`` by the mean of it and the ITC probability renormalised over
    the ``k`` classes. The re-ranked classes get scores in ``(1, 2]``, above
    every other class (which keep their ITC probability), so top-k metrics
    stay meaningful.

    The parameters are those of the pre-training model without its momentum
    branch, MLM head and ITC loss (queues), so a pre-training checkpoint
    (this project's or the original layout) or a retrieval one loads. The
    class embeddings are cached on first use and dropped when weights are
    loaded, when ``classnames``/``templates`` change through
    :meth:`set_classes`, and on ``train()``/``eval()``.

    Config keys:
        itc_head (dict): ``ITCHead`` config; the training keys of a
            pre-training ``itc_head`` (``queue_size``, ``use_idx_queue``,
            ``distill``) are accepted and not used.
        itm_head (dict): ``ITMHead`` config.
        classnames (Sequence[str] | str, optional): Class names in label
            order, or a file with one per line. Must be set (here or by
            :meth:`set_classes`) before ``predict``.
        templates (Sequence[str]): Prompt templates with one ``{}``.
            Defaults to ``('a photo of a {}.', )``. Each filled prompt is
            cleaned as captions are (``pre_caption``: lower case, ``.``
            and other punctuation removed, ``-`` and ``/`` to spaces), the
            text the encoder was pre-trained on: ``'a photo of a
            polka-dotted.'`` becomes ``'a photo of a polka dotted'``.
        itm_rerank_k (int): Classes re-ranked by ITM (0 = ITC only).
        itm_fusion (str): ``'replace'`` or ``'mean'`` (see above).
        text_batch_size (int): Prompts encoded per forward pass.
        mlm_head (dict, optional): Accepted and ignored, so that a
            pre-training ``model`` config can be reused by changing its
            ``type``.
        **kwargs: The shared keywords of :class:`ALBEFBase`.
    """

    # The pre-training / retrieval parts a zero-shot classifier does not
    # use; a checkpoint carrying them loads without complaint.
    ignorable_unexpected = (
        r'^(vision_backbone|text_backbone|neck|mlm_head)_m\.',
        r'^itc_head\.(vision_proj|text_proj)_m\.',
        r'^mlm_head\.',
        r'^itc_loss\.',
    )

    def __init__(self, itc_head: dict, itm_head: dict,
                 classnames: Optional[Union[str, Sequence[str]]] = None,
                 templates: Sequence[str] = DEFAULT_TEMPLATES,
                 itm_rerank_k: int = 0, itm_fusion: str = 'replace',
                 text_batch_size: int = 256,
                 mlm_head: Optional[dict] = None, **kwargs):
        super().__init__(**kwargs)
        features, _ = split_itc_cfg(itc_head)
        self.itc_head = MODELS.build(dict(features, momentum=False))
        self.itm_head = MODELS.build(itm_head)
        if itm_fusion not in ('replace', 'mean'):
            raise ValueError(f"itm_fusion must be 'replace' or 'mean', got "
                             f'{itm_fusion!r}')
        if itm_rerank_k < 0:
            raise ValueError(f'itm_rerank_k must be >= 0, got {itm_rerank_k}')
        self.itm_rerank_k = itm_rerank_k
        self.itm_fusion = itm_fusion
        self.text_batch_size = text_batch_size
        self.classnames: Optional[List[str]] = None
        self.templates: List[str] = []
        self._cache: Optional[Dict[str, torch.Tensor]] = None
        self.set_classes(classnames, templates)
        self.register_load_state_dict_pre_hook(self._drop_cache_on_load)

    # ------------------------------------------------------------ classes
    def set_classes(self, classnames: Optional[Union[str, Sequence[str]]],
                    templates: Optional[Sequence[str]] = None) -> None:
        """Set the class names (list or names file) and optionally the
        templates; drops the cached class embeddings."""
        if isinstance(classnames, str):
            classnames = _read_lines(classnames)
        if classnames is not None:
            classnames = [str(c) for c in classnames]
            if not classnames:
                raise ValueError('classnames is empty')
        if templates is not None:
            templates = list(templates)
            if not templates:
                raise ValueError('templates is empty; give at least one, '
                                 "e.g. ['a photo of a {}.']")
            for t in templates:
                if t.count('{}') != 1:
                    raise ValueError(f'template {t!r} must contain exactly '
                                     'one "{}" (where the class name goes)')
            self.templates = templates
        self.classnames = classnames
        self._cache = None

    def prompts(self) -> List[str]:
        """All prompts, class-major: ``[c0 t0, c0 t1, ..., c1 t0, ...]``,
        each cleaned by ``pre_caption`` as a pre-training caption is."""
        if not self.classnames:
            raise RuntimeError(
                'ALBEFZeroShotClassifier has no class names: set '
                'model.classnames in the config (a list or a names file) or '
                'call set_classes()')
        return [pre_caption(t.format(c)) for c in self.classnames
                for t in self.templates]

    def _drop_cache_on_load(self, *args, **kwargs) -> None:
        self._cache = None

    def train(self, mode: bool = True):
        self._cache = None
        return super().train(mode)

    @torch.no_grad()
    def class_embeddings(self) -> torch.Tensor:
        """Normalised class embeddings ``[C, D]`` (prompt features averaged
        per class over the templates, then L2-normalised); cached."""
        if self._cache is None:
            self._cache = self._encode_prompts()
        return self._cache['class_embeds']

    def _encode_prompts(self) -> Dict[str, torch.Tensor]:
        prompts = self.prompts()
        tok = self.data_preprocessor.tokenize(prompts, padding='longest')
        ids, mask = tok['text_ids'], tok['text_mask']
        embeds, feats = [], []
        for s in range(0, len(prompts), self.text_batch_size):
            e = self.text_backbone(ids[s:s + self.text_batch_size],
                                   mask[s:s + self.text_batch_size])
            embeds.append(e)
            feats.append(self.itc_head.text_feat(e[:, 0]))
        n_cls, n_tpl = len(self.classnames), len(self.templates)
        prompt_feats = torch.cat(feats).view(n_cls, n_tpl, -1)
        class_embeds = F.normalize(prompt_feats.mean(dim=1), dim=-1)
        # the token states of every prompt are kept for the ITM pass
        return dict(class_embeds=class_embeds, prompt_feats=prompt_feats,
                    prompt_embeds=torch.cat(embeds), prompt_mask=mask)

    # ------------------------------------------------------------- images
    def image_features(self, images: torch.Tensor,
                       kind: str = 'proj') -> torch.Tensor:
        """Frozen image features: ``'proj'`` = the normalised ITC projection
        of the CLS token ``[B, D]``; ``'cls'`` = the ViT CLS token ``[B, W]``
        (the linear probe's choices)."""
        if kind not in ('proj', 'cls'):
            raise ValueError(f"kind must be 'proj' or 'cls', got {kind!r}")
        cls = self.vision_backbone(images)[:, 0]
        return self.itc_head.image_feat(cls) if kind == 'proj' else cls

    @torch.no_grad()
    def itc_logits(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``logits`` ``[B, C]`` (cosine similarity / temperature) and the
        ``image_embeds`` for an ITM pass."""
        image_embeds = self.vision_backbone(images)
        image_feat = self.itc_head.image_feat(image_embeds[:, 0])
        sim = image_feat @ self.class_embeddings().t()
        return dict(logits=sim / self.itc_head.temp,
                    image_embeds=image_embeds)

    @torch.no_grad()
    def itm_scores(self, image_embeds: torch.Tensor,
                   classes: torch.Tensor) -> torch.Tensor:
        """ITM match probability of image ``b`` with class ``classes[b, j]``
        averaged over the templates: ``[B, k]``."""
        self.class_embeddings()  # fills the cache
        n_tpl = len(self.templates)
        b, k = classes.shape
        rows = (classes.unsqueeze(-1) * n_tpl + torch.arange(
            n_tpl, device=classes.device)).reshape(-1)  # [B*k*T]
        # image of each row, gathered per chunk (not B*k*T copies at once)
        img_idx = torch.arange(b, device=classes.device).repeat_interleave(
            k * n_tpl)
        scores = []
        step = self.text_batch_size
        for s in range(0, rows.numel(), step):
            r = rows[s:s + step]
            logits = self.itm_logits(image_embeds[img_idx[s:s + step]],
                                     self._cache['prompt_embeds'][r],
                                     self._cache['prompt_mask'][r])
            scores.append(F.softmax(logits, dim=-1)[:, 1])
        return torch.cat(scores).view(b, k, n_tpl).mean(-1)

    @torch.no_grad()
    def classify(self, images: torch.Tensor,
                 itm_rerank_k: Optional[int] = None) -> torch.Tensor:
        """Class scores ``[B, C]`` (higher = better; see the class doc)."""
        k = self.itm_rerank_k if itm_rerank_k is None else itm_rerank_k
        out = self.itc_logits(images)
        probs = F.softmax(out['logits'].float(), dim=-1)
        if not k:
            return probs
        k = min(k, probs.size(1))
        top_p, top_c = probs.topk(k, dim=1)
        itm = self.itm_scores(out['image_embeds'], top_c).float()
        if self.itm_fusion == 'mean':
            itm = (itm + top_p / top_p.sum(1, keepdim=True)) / 2
        return probs.scatter(1, top_c, 1 + itm)

    # -------------------------------------------------------------- modes
    def batch_loss(self, images, text_ids, text_mask, data_samples):
        raise NotImplementedError(
            'ALBEFZeroShotClassifier is not trained; evaluate it with '
            'tools/test.py, or train a linear probe with '
            'tools/analysis/linear_probe.py')

    def tensor(self, images: torch.Tensor,
               text_ids: Optional[torch.Tensor] = None,
               text_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Class scores ``[B, C]`` (:meth:`classify`)."""
        return self.classify(images)

    @torch.no_grad()
    def predict(self, images: torch.Tensor,
                text_ids: Optional[torch.Tensor] = None,
                text_mask: Optional[torch.Tensor] = None,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """``pred_score`` ``[C]`` and ``pred_label`` (argmax) per image
        (the texts are the class prompts, not inputs)."""
        scores = self.classify(images)
        labels = scores.argmax(dim=1)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(images.size(0))]
        for i, sample in enumerate(data_samples):
            sample.pred_score = scores[i]
            sample.pred_label = int(labels[i])
        return data_samples
