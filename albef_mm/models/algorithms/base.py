"""Shared wiring of the ALBEF task models: encoders, momentum branch,
feature extraction and the training-hook contract."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel

from albef_mm.registry import MODELS
from ..momentum import MomentumPairs, make_momentum_copy


class ALBEFBase(BaseModel):
    """Base of every ALBEF model: ViT + BERT text encoder + fusion neck.

    Subclasses list the online modules that get a momentum copy
    (``momentum_modules``; the copy is the attribute with suffix ``_m``)
    and the training hooks they rely on (``required_train_hooks``).

    Args:
        vision_backbone (dict): ViT config.
        text_backbone (dict): BERT text encoder config.
        neck (dict): Fusion encoder config.
        momentum (float): EMA coefficient of the momentum branch.
        alpha (float): Distillation weight reached after the warm-up.
        pretrained_text (str, optional): HF BERT weights (local directory
            or hub name) loaded into text backbone + neck (+ MLM head) by
            :meth:`init_weights`.
        data_preprocessor (dict, optional): Preprocessor config.
        init_cfg (dict, optional): MMEngine init config.
    """

    momentum_modules: Sequence[str] = ()
    required_train_hooks: Sequence[str] = ()

    def __init__(self, vision_backbone: dict, text_backbone: dict, neck: dict,
                 momentum: float = 0.995, alpha: float = 0.4,
                 pretrained_text: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='ALBEFDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.vision_backbone = MODELS.build(vision_backbone)
        self.text_backbone = MODELS.build(text_backbone)
        self.neck = MODELS.build(neck)
        self.momentum = momentum
        self.max_alpha = alpha
        self.alpha = alpha
        self.pretrained_text = pretrained_text
        self._attached_hooks = set()
        self._queue_pending = None
        # Set to a dict to collect intermediate tensors of ``loss`` (parity
        # checks, debugging); None in normal runs.
        self.intermediates: Optional[dict] = None

    # ---------------------------------------------------------- momentum
    def build_momentum_branch(self) -> None:
        """Create the frozen ``<name>_m`` copies (call after building and
        tying the online modules)."""
        for name in self.momentum_modules:
            setattr(self, name + '_m', make_momentum_copy(getattr(self, name)))

    def momentum_pairs(self) -> MomentumPairs:
        pairs = [(getattr(self, n), getattr(self, n + '_m'))
                 for n in self.momentum_modules]
        for child in self.children():
            if hasattr(child, 'momentum_pairs') and child is not self:
                pairs.extend(child.momentum_pairs())
        return MomentumPairs(pairs)

    def momentum_update(self) -> None:
        """EMA of every online/momentum pair (MomentumUpdateHook calls it
        before each training iteration)."""
        self.momentum_pairs().update(self.momentum)

    def copy_params(self) -> None:
        """Momentum branch := online weights."""
        self.momentum_pairs().copy_params()

    def init_weights(self):
        """Initialise the online modules (incl. pretrained ViT / BERT
        weights), then copy them into the momentum branch."""
        momentum = {n + '_m' for n in self.momentum_modules}
        for name, child in self.named_children():
            if name not in momentum and hasattr(child, 'init_weights'):
                child.init_weights()
        if self.pretrained_text:
            from albef_mm.checkpoint import load_hf_bert
            load_hf_bert(self, self.pretrained_text)
        self.copy_params()

    # ------------------------------------------------------- hook contract
    def attach_hook(self, name: str) -> None:
        """Called by the training hooks so that ``train_step`` can tell that
        they are registered."""
        self._attached_hooks.add(name)

    def missing_train_hooks(self, hook_names: Sequence[str]) -> List[str]:
        return [h for h in self.required_train_hooks if h not in hook_names]

    def train_step(self, data, optim_wrapper):
        missing = self.missing_train_hooks(self._attached_hooks)
        if missing:
            raise RuntimeError(
                f'{type(self).__name__} trains only with the hooks '
                f'{missing} in `custom_hooks` (they update the momentum '
                'encoders, the feature queues and the distillation weight); '
                f"add e.g. custom_hooks=[dict(type='{missing[0]}')].")
        return super().train_step(data, optim_wrapper)

    # ------------------------------------------------------------ queues
    def dequeue_and_enqueue(self) -> None:
        """Enqueue the momentum features of the last training forward
        (QueueUpdateHook calls it after each iteration)."""
        if self._queue_pending is None:
            print_log('dequeue_and_enqueue called without a pending batch; '
                      'nothing enqueued', logger='current', level=30)
            return
        self.itc_head.enqueue(*self._queue_pending)
        self._queue_pending = None

    # --------------------------------------------------- ITC + ITM step
    def _record(self, **tensors) -> None:
        if self.intermediates is not None:
            self.intermediates.update(tensors)

    def contrast_and_match(self, images: torch.Tensor,
                           text_ids: torch.Tensor, text_mask: torch.Tensor,
                           idx: Optional[torch.Tensor] = None,
                           forced_draws: Optional[dict] = None) -> dict:
        """The ITC and ITM part of a training step, shared by pre-training
        and retrieval (spec §2.1 steps 1-7).

        Encodes images and texts with the online and momentum encoders,
        computes the ITC loss against momentum features + queue (``idx``
        switches on image-index-aware targets), leaves the momentum
        features for ``dequeue_and_enqueue``, samples hard negatives and
        runs positives and both kinds of negatives through the fusion neck
        in one batch of 3B rows (the original's label order).
        ``forced_draws`` may give ``neg_image_idx``/``neg_text_idx``.

        Returns:
            dict: ``loss_itc``, ``loss_itm`` and ``image_embeds``,
            ``image_embeds_m`` (for the MLM step).
        """
        forced = forced_draws or {}
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
        itc = self.itc_head.loss(image_feat, text_feat, image_feat_m,
                                 text_feat_m, self.alpha, idx)
        self._queue_pending = (image_feat_m.detach(), text_feat_m.detach(),
                               None if idx is None else idx.detach())
        if 'neg_image_idx' in forced:
            neg_image = forced['neg_image_idx'].to(images.device)
            neg_text = forced['neg_text_idx'].to(images.device)
        else:
            neg_image, neg_text = self.itm_head.sample_negatives(
                itc['sim_i2t'], itc['sim_t2i'], idx)
        fused = self.neck(
            torch.cat([text_embeds, text_embeds, text_embeds[neg_text]]),
            torch.cat([text_mask, text_mask, text_mask[neg_text]]),
            torch.cat([image_embeds, image_embeds[neg_image], image_embeds]))
        itm_logits = self.itm_head(fused[:, 0])
        self._record(
            image_embeds=image_embeds, text_embeds=text_embeds,
            image_feat=image_feat, text_feat=text_feat,
            image_feat_m=image_feat_m, text_feat_m=text_feat_m,
            sim_i2t=itc['sim_i2t'], sim_t2i=itc['sim_t2i'],
            sim_targets=itc['targets_hard'],
            sim_i2t_targets=itc['targets_i2t'],
            sim_t2i_targets=itc['targets_t2i'], neg_image_idx=neg_image,
            neg_text_idx=neg_text, itm_fused=fused, itm_logits=itm_logits)
        return dict(loss_itc=itc['loss_itc'],
                    loss_itm=self.itm_head.loss(itm_logits),
                    image_embeds=image_embeds, image_embeds_m=image_embeds_m)

    # ----------------------------------------------------------- features
    def extract_feat(self, images: Optional[torch.Tensor] = None,
                     text_ids: Optional[torch.Tensor] = None,
                     text_mask: Optional[torch.Tensor] = None,
                     mode: str = 'multimodal') -> Dict[str, torch.Tensor]:
        """Unimodal or fused features.

        Args:
            images: Normalised images ``[B, 3, H, W]``.
            text_ids, text_mask: Token ids and mask ``[B, L]``.
            mode: ``'image'`` → ``image_embeds`` (+ ``image_feat`` when the
                model has an ITC head); ``'text'`` → ``text_embeds``
                (+ ``text_feat``); ``'multimodal'`` → both plus
                ``multimodal_embeds`` (fusion of text with image).
        """
        if mode not in ('image', 'text', 'multimodal'):
            raise ValueError(f"mode must be 'image', 'text' or 'multimodal', "
                             f'got {mode!r}')
        out = {}
        itc = getattr(self, 'itc_head', None)
        if mode in ('image', 'multimodal'):
            if images is None:
                raise ValueError(f'extract_feat(mode={mode!r}) needs images')
            out['image_embeds'] = self.vision_backbone(images)
            if itc is not None:
                out['image_feat'] = itc.image_feat(out['image_embeds'][:, 0])
        if mode in ('text', 'multimodal'):
            if text_ids is None or text_mask is None:
                raise ValueError(
                    f'extract_feat(mode={mode!r}) needs text ids and mask')
            out['text_embeds'] = self.text_backbone(text_ids, text_mask)
            if itc is not None:
                out['text_feat'] = itc.text_feat(out['text_embeds'][:, 0])
        if mode == 'multimodal':
            out['multimodal_embeds'] = self.neck(out['text_embeds'],
                                                 text_mask,
                                                 out['image_embeds'])
        return out
