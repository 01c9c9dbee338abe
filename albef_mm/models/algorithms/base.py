"""What every ALBEF task model shares: image encoder, text encoder, fusion
neck, the momentum pairs with their EMA, the distillation weight ``alpha``,
the ``forward`` modes, the training-hook contract and the checkpoint seams
(original-key conversion, renamed keys)."""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseModel
from torch import nn

from albef_mm.registry import MODELS
from albef_mm.structures import DataSample
from ..momentum import MomentumPairs, make_momentum_copy

# Checkpoint keys renamed since albef_mm checkpoints were first written
# (old full key → new): every state dict loaded into a model passes
# through this table (a load_state_dict pre-hook), so older checkpoints
# keep loading. The ITC queues moved with the split of the ITC unit into
# features (``itc_head``) and loss (``itc_loss``).
RENAMED_KEYS = (
    (re.compile(r'^itc_head\.(image_queue|text_queue|queue_ptr|idx_queue)$'),
     r'itc_loss.\1'),
)


def rename_legacy_keys(state: Dict, prefix: str = '') -> None:
    """Rename, in place, the keys of ``state`` under ``prefix`` that
    :data:`RENAMED_KEYS` lists."""
    for key in [k for k in state if k.startswith(prefix)]:
        rest = key[len(prefix):]
        for old, new in RENAMED_KEYS:
            if old.match(rest):
                state[prefix + old.sub(new, rest)] = state.pop(key)
                break


def _rename_legacy_keys_hook(module, state: Dict, prefix: str, *args) -> None:
    """``load_state_dict`` pre-hook (a module-level function, so models
    stay picklable)."""
    rename_legacy_keys(state, prefix)


class Branch:
    """The online modules of a model, or their momentum copies, under the
    online names: ``model.branch(momentum=True).neck`` is the momentum
    copy of ``model.neck``."""

    def __init__(self, model: 'ALBEFBase', momentum: bool):
        self._model = model
        self._momentum = momentum

    def __getattr__(self, name: str) -> nn.Module:
        if not self._momentum:
            return getattr(self._model, name)
        if name not in self._model.momentum_modules:
            raise AttributeError(
                f'{type(self._model).__name__} has no momentum copy of '
                f'{name!r} (its momentum modules: '
                f'{list(self._model.momentum_modules)})')
        return getattr(self._model, name + '_m')


class ALBEFBase(BaseModel):
    """Base of every ALBEF model: ViT + BERT text encoder + fusion neck.

    Nothing task-specific lives here (no queue, no ITC): contrastive tasks
    build on :class:`ALBEFContrastiveBase`, classification-style tasks
    (SNLI-VE, NLVR2, VQA) directly on this class.

    Subclasses declare

    * ``momentum_modules``: online modules that get a frozen ``<name>_m``
      copy (call :meth:`build_momentum_branch` at the end of ``__init__``;
      :meth:`branch` reaches either copy by the online name); a child
      module with its own pairs exposes ``momentum_module_pairs()``;
    * ``required_train_hooks``: hook class names a training run must have
      (checked when the runner is built and on the first ``train_step``);
    * ``ignorable_missing`` / ``ignorable_unexpected``: regexes of keys a
      strict checkpoint load may miss / find in excess;
    * :meth:`convert_original_state_dict`: the task's mapping from the
      original ALBEF key layout (the generic mapping by default);

    and implement the modes of :meth:`forward` they support:
    :meth:`batch_loss`, :meth:`predict`, :meth:`tensor`. Their own
    constructor keywords come first; the shared ones below are passed on
    with ``**kwargs``.

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

    Attribute ``nonfinite_loss`` (set by the runner from the top-level
    config key of the same name): what a NaN / infinite loss term does in
    training — ``'raise'`` (default) stops at once with the term, the
    iteration and the last checkpoint named; ``'skip'`` logs it and leaves
    the update to ``SkipNonFiniteOptimWrapper``, which skips it.
    """

    momentum_modules: Sequence[str] = ()
    required_train_hooks: Sequence[str] = ()
    ignorable_missing: Sequence[str] = ()
    ignorable_unexpected: Sequence[str] = ()

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
        self.nonfinite_loss = 'raise'
        self._attached_hooks = set()
        self.register_load_state_dict_pre_hook(_rename_legacy_keys_hook)

    # ------------------------------------------------------------ modes
    def forward(self, images: torch.Tensor,
                text_ids: Optional[torch.Tensor] = None,
                text_mask: Optional[torch.Tensor] = None,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """MMEngine's entry point: ``'loss'`` → :meth:`batch_loss` (dict
        of losses), ``'predict'`` → :meth:`predict` (data samples with
        predictions), ``'tensor'`` → :meth:`tensor` (raw outputs)."""
        if mode == 'loss':
            return self.batch_loss(images, text_ids, text_mask, data_samples)
        if mode == 'predict':
            return self.predict(images, text_ids, text_mask, data_samples)
        if mode == 'tensor':
            return self.tensor(images, text_ids, text_mask)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got "
                         f'{mode!r}')

    def batch_loss(self, images: torch.Tensor, text_ids: torch.Tensor,
                   text_mask: torch.Tensor,
                   data_samples: Optional[List[DataSample]]
                   ) -> Dict[str, torch.Tensor]:
        """The losses of a batch: reads the task's fields of the data
        samples and calls the model's ``loss``."""
        raise NotImplementedError(
            f'{type(self).__name__} is not trained (no loss mode)')

    def predict(self, images: torch.Tensor, text_ids: torch.Tensor,
                text_mask: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """The data samples with the task's predictions."""
        raise NotImplementedError(
            f'{type(self).__name__} has no predict mode')

    def tensor(self, images: torch.Tensor,
               text_ids: Optional[torch.Tensor] = None,
               text_mask: Optional[torch.Tensor] = None):
        """Raw outputs without post-processing (default: the token states
        of :meth:`extract_feat`)."""
        return self.extract_feat(images, text_ids, text_mask)

    # ---------------------------------------------------------- momentum
    def build_momentum_branch(self) -> None:
        """Create the frozen ``<name>_m`` copies of ``momentum_modules``
        (call after building and tying the online modules)."""
        for name in self.momentum_modules:
            setattr(self, name + '_m', make_momentum_copy(getattr(self, name)))

    def branch(self, momentum: bool = False) -> Branch:
        """The online modules, or (``momentum=True``) their momentum
        copies, under the online names: ``self.branch(m).neck``."""
        return Branch(self, momentum)

    def momentum_module_pairs(self) -> List[Tuple[nn.Module, nn.Module]]:
        """Every (online, momentum) module pair of the model: those of
        ``momentum_modules`` and those its children name (the ITC
        projections). The EMA and the FSDP strategy use this list."""
        pairs = [(getattr(self, n), getattr(self, n + '_m'))
                 for n in self.momentum_modules]
        for child in self.children():
            if hasattr(child, 'momentum_module_pairs'):
                pairs.extend(child.momentum_module_pairs())
        return pairs

    def momentum_update(self) -> None:
        """EMA of every online/momentum pair (``MomentumUpdateHook`` calls
        it before each training iteration)."""
        MomentumPairs(self.momentum_module_pairs()).update(self.momentum)

    def copy_params(self) -> None:
        """Momentum branch := online weights."""
        MomentumPairs(self.momentum_module_pairs()).copy_params()

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
        """The required training hooks absent from ``hook_names``."""
        return [h for h in self.required_train_hooks if h not in hook_names]

    def validate_train_setup(self, hook_names: Sequence[str],
                             global_batch_size: Optional[int]) -> None:
        """Raise, before any training, when the run cannot train this model:
        a required hook is missing (subclasses add their own checks, e.g.
        the queue length against the global batch)."""
        missing = self.missing_train_hooks(hook_names)
        if missing:
            example = ', '.join(f"dict(type='{h}')" for h in missing)
            raise ValueError(
                f'{type(self).__name__} needs the training hooks {missing} '
                '(they update the momentum encoders, the feature queues and '
                'the distillation weight); add them to the config: '
                f'custom_hooks = [{example}, ...]')

    def train_step(self, data, optim_wrapper):
        missing = self.missing_train_hooks(self._attached_hooks)
        if missing:
            raise RuntimeError(
                f'{type(self).__name__} trains only with the hooks '
                f'{missing} in `custom_hooks` (they update the momentum '
                'encoders, the feature queues and the distillation weight); '
                f"add e.g. custom_hooks=[dict(type='{missing[0]}')].")
        return super().train_step(data, optim_wrapper)

    def parse_losses(self, losses: Dict[str, torch.Tensor]):
        """MMEngine's loss parsing plus the non-finite check: one host sync
        per step (the logger syncs anyway), the flag all-reduced so every
        rank acts alike."""
        loss, log_vars = super().parse_losses(losses)
        if not self.training:
            return loss, log_vars
        terms = [k for k in log_vars if k != 'loss']
        finite = torch.stack([torch.isfinite(log_vars[k].detach()).all()
                              for k in terms]).to(torch.float32)
        if get_world_size() > 1:
            all_reduce(finite, op='min')
        if bool(finite.all()):
            return loss, log_vars
        bad = [f'{k}={float(log_vars[k].detach()):.4g}' for k, ok in
               zip(terms, finite.tolist()) if not ok]
        hub = MessageHub.get_current_instance()
        where = (f"iteration {hub.get_info('iter')}, epoch "
                 f"{hub.get_info('epoch')}")
        if self.nonfinite_loss == 'skip':
            print_log(f'non-finite loss {bad} at {where}: the update is '
                      'skipped', logger='current', level=30)
            return loss, log_vars
        last = hub.get_info('last_ckpt') or 'none saved yet'
        raise FloatingPointError(
            f'non-finite loss {bad} (other ranks included) at {where}; last '
            f'checkpoint: {last}. Lower the learning rate, check the data '
            "of this iteration, or set nonfinite_loss='skip' (top-level "
            "config key) with optim_wrapper.type='SkipNonFiniteOptimWrapper'"
            ' to skip such updates.')

    # ------------------------------------------------------- checkpoints
    def convert_original_state_dict(self, state: Dict
                                    ) -> Tuple[OrderedDict, List[str]]:
        """Map an original ALBEF state dict to this model's names.

        Returns ``(converted, dropped_keys)``. Tasks whose original model
        has other modules (VQA decoder, NLVR2 layer pairs, classification
        heads) override this; the default is the mapping shared by the
        pre-training and retrieval layouts.
        """
        from albef_mm.checkpoint import convert_albef_state_dict
        return convert_albef_state_dict(state)

    # ----------------------------------------------------------- features
    def extract_feat(self, images: Optional[torch.Tensor] = None,
                     text_ids: Optional[torch.Tensor] = None,
                     text_mask: Optional[torch.Tensor] = None,
                     mode: str = 'multimodal') -> Dict[str, torch.Tensor]:
        """Unimodal or fused token states.

        Args:
            images: Normalised images ``[B, 3, H, W]``.
            text_ids, text_mask: Token ids and mask ``[B, L]``.
            mode: ``'image'`` → ``image_embeds``; ``'text'`` →
                ``text_embeds``; ``'multimodal'`` → both plus
                ``multimodal_embeds`` (text fused with the image).
                Contrastive models add the normalised ITC features
                ``image_feat`` / ``text_feat``.
        """
        if mode not in ('image', 'text', 'multimodal'):
            raise ValueError(f"mode must be 'image', 'text' or 'multimodal', "
                             f'got {mode!r}')
        out = {}
        if mode in ('image', 'multimodal'):
            if images is None:
                raise ValueError(f'extract_feat(mode={mode!r}) needs images')
            out['image_embeds'] = self.vision_backbone(images)
        if mode in ('text', 'multimodal'):
            if text_ids is None or text_mask is None:
                raise ValueError(
                    f'extract_feat(mode={mode!r}) needs text ids and mask')
            out['text_embeds'] = self.text_backbone(text_ids, text_mask)
        if mode == 'multimodal':
            out['multimodal_embeds'] = self.neck(out['text_embeds'],
                                                 text_mask,
                                                 out['image_embeds'])
        return out

    def fuse(self, images: torch.Tensor, text_ids: torch.Tensor,
             text_mask: torch.Tensor, momentum: bool = False
             ) -> torch.Tensor:
        """Text states ``[B, L, D]`` fused with the image, by the online
        or the momentum branch."""
        branch = self.branch(momentum)
        image_embeds = branch.vision_backbone(images)
        return branch.neck(branch.text_backbone(text_ids, text_mask),
                           text_mask, image_embeds)
