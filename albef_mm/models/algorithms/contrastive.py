"""The contrastive unit of ALBEF: ITC with momentum features, queues and
distillation, ITM with hard negatives mined from the ITC similarities, and
the retrieval-style inference built on them. Used by pre-training,
retrieval, grounding and zero-shot classification only."""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log

from albef_mm.registry import MODELS
from albef_mm.structures import DataSample
from ..heads.itc_loss import split_itc_cfg
from .base import ALBEFBase
from .retrieval_rerank import rerank_itm


class ITCFeatureMixin:
    """Inference on the unimodal ITC features (``itc_head``, an
    :class:`~albef_mm.models.heads.ITCHead`) and the ITM head, for every
    model with ``itc_head`` and ``itm_head`` (the contrastive models and
    the zero-shot classifier)."""

    def extract_feat(self, images: Optional[torch.Tensor] = None,
                     text_ids: Optional[torch.Tensor] = None,
                     text_mask: Optional[torch.Tensor] = None,
                     mode: str = 'multimodal') -> Dict[str, torch.Tensor]:
        """``ALBEFBase.extract_feat`` plus the normalised ITC features
        ``image_feat`` / ``text_feat`` of the encoded modalities."""
        out = super().extract_feat(images, text_ids, text_mask, mode)
        if 'image_embeds' in out:
            out['image_feat'] = self.itc_head.image_feat(
                out['image_embeds'][:, 0])
        if 'text_embeds' in out:
            out['text_feat'] = self.itc_head.text_feat(
                out['text_embeds'][:, 0])
        return out

    def itm_logits(self, image_embeds: torch.Tensor,
                   text_embeds: torch.Tensor,
                   text_mask: torch.Tensor) -> torch.Tensor:
        """ITM logits ``[B, 2]`` of aligned pairs (image b, text b); column
        1 is "matched". Image tokens ``[B, N, Dv]`` (or ``[1, N, Dv]``,
        broadcast to every text)."""
        if image_embeds.size(0) == 1 and text_embeds.size(0) > 1:
            image_embeds = image_embeds.expand(text_embeds.size(0), -1, -1)
        fused = self.neck(text_embeds, text_mask, image_embeds)
        return self.itm_head(fused[:, 0])


class ALBEFContrastiveBase(ITCFeatureMixin, ALBEFBase):
    """ALBEF model that trains with ITC (features ``itc_head``, loss with
    queues and distillation ``itc_loss``) and ITM.

    Training: :meth:`contrast_and_match` is the shared ITC + ITM step; the
    momentum features it computes are enqueued by :meth:`dequeue_and_enqueue`
    (``QueueUpdateHook`` calls it after each iteration).

    Inference (what loops, demos, inferencers and the parity tool call):
    :meth:`extract_feat` (token states + normalised ITC features),
    :meth:`itm_logits` (ITM logits of aligned image-text pairs) and
    :meth:`score_shortlist` (ITM re-ranking of the ITC top-k of both
    retrieval directions).

    Args:
        itc_head (dict): The model's ITC: the ``ITCHead`` keys (projection
            widths, ``embed_dim``, ``temp``, ``clamp_temp``) build the
            feature unit ``itc_head``; ``queue_size``, ``use_idx_queue``
            and ``distill`` build the ``ITCLoss`` ``itc_loss``.
        itm_head (dict): ``ITMHead`` config.
        **kwargs: The shared keywords of :class:`ALBEFBase`.

    Attribute ``generator`` (``torch.Generator`` or None): the source of the
    random draws of training (ITM negatives, MLM masks); None uses the
    global generator, as the original.
    """

    required_train_hooks = ('MomentumUpdateHook', 'QueueUpdateHook',
                            'AlphaWarmupHook')

    def __init__(self, itc_head: dict, itm_head: dict, **kwargs):
        super().__init__(**kwargs)
        features, loss = split_itc_cfg(itc_head)
        self.itc_head = MODELS.build(features)
        self.itc_loss = MODELS.build(loss)
        self.itm_head = MODELS.build(itm_head)
        self.generator: Optional[torch.Generator] = None
        self._queue_pending = None

    # ------------------------------------------------------ train checks
    def validate_train_setup(self, hook_names: Sequence[str],
                             global_batch_size: Optional[int]) -> None:
        """Required hooks, and a global batch that divides the queue."""
        super().validate_train_setup(hook_names, global_batch_size)
        if global_batch_size:
            self.itc_loss.check_queue_size(global_batch_size)

    # ------------------------------------------------------------ queues
    def dequeue_and_enqueue(self) -> None:
        """Enqueue the momentum features of the last training forward
        (``QueueUpdateHook`` calls it after each iteration)."""
        if self._queue_pending is None:
            print_log('dequeue_and_enqueue called without a pending batch; '
                      'nothing enqueued', logger='current', level=30)
            return
        self.itc_loss.enqueue(*self._queue_pending)
        self._queue_pending = None

    # --------------------------------------------------- ITC + ITM step
    def contrast_and_match(self, images: torch.Tensor,
                           text_ids: torch.Tensor, text_mask: torch.Tensor,
                           idx: Optional[torch.Tensor] = None) -> dict:
        """The ITC and ITM part of a training step, shared by pre-training
        and retrieval.

        Encodes images and texts with the online and momentum encoders,
        computes the ITC loss against momentum features + queue (``idx``
        switches on image-index-aware targets), leaves the momentum
        features for :meth:`dequeue_and_enqueue`, samples hard negatives
        and runs positives and both kinds of negatives through the fusion
        neck in one batch of 3B rows (the original's label order).

        Returns:
            dict: ``loss_itc``, ``loss_itm`` and ``image_embeds``,
            ``image_embeds_m``, ``image_kv`` (the per-layer cross-attention
            keys/values of the B images, reused by the MLM step).
        """
        self.itc_head.clamp_temperature()  # a no-op unless configured
        image_embeds = self.vision_backbone(images)
        image_feat = self.itc_head.image_feat(image_embeds[:, 0])
        text_embeds = self.text_backbone(text_ids, text_mask)
        text_feat = self.itc_head.text_feat(text_embeds[:, 0])
        with torch.no_grad():
            image_embeds_m = self.vision_backbone_m(images)
            image_feat_m = self.itc_head.image_feat(image_embeds_m[:, 0],
                                                    momentum=True)
            text_embeds_m = self.text_backbone_m(text_ids, text_mask)
            text_feat_m = self.itc_head.text_feat(text_embeds_m[:, 0],
                                                  momentum=True)
        itc = self.itc_loss.loss(image_feat, text_feat, image_feat_m,
                                 text_feat_m, self.itc_head.temp, self.alpha,
                                 idx)
        self._queue_pending = (image_feat_m.detach(), text_feat_m.detach(),
                               None if idx is None else idx.detach())
        neg_image, neg_text = self.itm_head.sample_negatives(
            itc['sim_i2t'], itc['sim_t2i'], idx, generator=self.generator)
        # index_select, not ``x[idx]``: its backward is an index_add, ~5x
        # faster on CPU than the advanced-indexing index_put.
        texts = torch.cat([text_embeds, text_embeds,
                           text_embeds.index_select(0, neg_text)])
        masks = torch.cat([text_mask, text_mask,
                           text_mask.index_select(0, neg_text)])
        own = torch.arange(images.size(0), device=neg_image.device)
        fused, image_kv = self.fuse_rows(image_embeds,
                                         torch.cat([own, neg_image, own]),
                                         texts, masks)
        itm_logits = self.itm_head(fused[:, 0])
        return dict(loss_itc=itc['loss_itc'],
                    loss_itm=self.itm_head.loss(itm_logits),
                    image_embeds=image_embeds, image_embeds_m=image_embeds_m,
                    image_kv=image_kv)

    def fuse_rows(self, image_embeds: torch.Tensor, rows: torch.Tensor,
                  texts: torch.Tensor, masks: torch.Tensor
                  ) -> Tuple[torch.Tensor, list]:
        """Fuse text ``r`` with image ``rows[r]`` of the batch.

        Each fusion layer's cross-attention keys/values of the B images are
        projected once and indexed for the rows (instead of projecting one
        image-token set per row; the same math). Returns the fused states
        and the per-layer keys/values of the B images."""
        image_kv = self.neck.project_image_kv(image_embeds)
        fused = self.neck(texts, masks, None,
                          image_kv=[(k.index_select(0, rows),
                                     v.index_select(0, rows))
                                    for k, v in image_kv])
        return fused, image_kv

    # ---------------------------------------------------------- inference
    @torch.no_grad()
    def score_shortlist(self, image_embeds: torch.Tensor,
                        image_ids: torch.Tensor, text_embeds: torch.Tensor,
                        text_mask: torch.Tensor, sims: torch.Tensor, k: int,
                        pair_batch: int = 512, add_itc: bool = False,
                        progress: Optional[Callable[[int, int], None]] = None,
                        stats: Optional[dict] = None
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
        """ITM re-ranking of the ITC shortlists of both directions: every
        asked-for pair fused once, each image's cross-attention
        keys/values projected once (see
        :func:`~.retrieval_rerank.rerank_itm`).

        Args:
            image_embeds: ``[n, N, Dv]`` tokens of the images to score (a
                shard on one rank), with global indices ``image_ids``.
            text_embeds, text_mask: ``[Nt, L, D]`` / ``[Nt, L]`` all texts.
            sims: ``[Ni, Nt]`` ITC similarities of all images and texts.
            k: Shortlist length (``k_test``).
            pair_batch: Texts fused together for one image.
            add_itc: Add the ITC similarity to the ITM logit (LAVIS); the
                original uses the ITM logit alone.
            progress: ``callback(done, total)`` per image.
            stats: Receives ``pairs`` / ``text_tokens`` counts.
        Returns:
            ``(scores_i2t [Ni, Nt], scores_t2i [Nt, Ni])``: ITM scores at
            the shortlisted pairs, -inf elsewhere (shards combine by max;
            the caller writes -100 as the original).
        """
        return rerank_itm(self.neck, self.itm_head, image_embeds, image_ids,
                          text_embeds, text_mask, sims, k, pair_batch,
                          add_itc, stats=stats, progress=progress)

    @torch.no_grad()
    def predict(self, images: torch.Tensor, text_ids: torch.Tensor,
                text_mask: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """Per pair (image b, text b): normalised ITC features, their cosine
        similarity ``itc_sim`` and the ITM match probability
        ``itm_score``."""
        feats = self.extract_feat(images, text_ids, text_mask, 'multimodal')
        itm = F.softmax(self.itm_head(feats['multimodal_embeds'][:, 0]),
                        dim=-1)[:, 1]
        sim = (feats['image_feat'] * feats['text_feat']).sum(-1)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(images.size(0))]
        for i, sample in enumerate(data_samples):
            sample.image_feat = feats['image_feat'][i]
            sample.text_feat = feats['text_feat'][i]
            sample.itc_sim = sim[i]
            sample.itm_score = itm[i]
        return data_samples
