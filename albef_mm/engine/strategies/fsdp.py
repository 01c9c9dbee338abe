"""FSDP wrapper for ALBEF's momentum-distillation models.

What is sharded: every online parameter (ViT, text encoder, fusion neck,
heads, the ITC temperature), their gradients and their AdamW states, with
``use_orig_params=True`` so the optimizer's parameter groups (no weight
decay on norms and biases) keep working.

What is not: the momentum modules (the second module of every pair the
model lists in ``momentum_module_pairs()``) are FSDP ``ignored_modules``:
whole on every rank, frozen, outside the optimizer. FSDP flattens a
unit's parameters in registration order and cuts the flat vector into
equal pieces, so an online parameter and its momentum copy placed in the
same unit land on different ranks and an element-wise EMA of local shards
would mix unrelated numbers. Keeping the momentum copies whole, the EMA
(``MomentumUpdateHook``) reads the online parameters inside
``FullyShardedDataParallel.summon_full_params`` (one all-gather per
optimizer step) and updates the momentum ones in place.
Cost: the momentum branch's weights in full on every GPU (ALBEF: 0.85 GB
in float32).

FSDP cannot shard 0-d parameters (the ITC temperature): the modules that
hold one (the ITC feature unit ``itc_head``: temperature and the two
256-wide projections) are ignored as well, replicated like under DDP, and
their gradients are averaged over the ranks by a gradient hook (as DDP's
all-reduce does).

Buffers (the ITC feature queues and their pointer) are not sharded: every
rank holds the same queues, written after an all-gather of the batch's
momentum features (``ITCLoss.enqueue``). The wrapper broadcasts rank 0's
parameters and buffers before sharding, so ranks seeded differently
(``randomness.diff_rank_seed``) start from one model, as DDP does.
"""
from typing import List, Sequence, Union

import torch
from mmengine.dist import all_reduce, broadcast, get_world_size
from mmengine.model.wrappers import MMFullyShardedDataParallel
from mmengine.registry import FUNCTIONS
from torch import nn

from albef_mm.registry import MODEL_WRAPPERS


def momentum_module_names(model: nn.Module) -> List[str]:
    """Dotted names of the model's momentum (EMA) modules (the model names
    its pairs: ``momentum_module_pairs()``)."""
    by_id = {id(m): n for n, m in model.named_modules()}
    return [by_id[id(m)] for _, m in model.momentum_module_pairs()]


class _CleanNames:
    """An online module seen with FSDP's wrapper prefixes removed from its
    parameter names (nested units insert ``_fsdp_wrapped_module.``), so
    they match the unwrapped momentum copy."""

    def __init__(self, module: nn.Module):
        self.module = module

    def named_parameters(self):
        from torch.distributed.fsdp._common_utils import clean_tensor_name
        for name, param in self.module.named_parameters():
            yield clean_tensor_name(name), param


def fsdp_momentum_update(wrapped) -> None:
    """The model's EMA (``θ_m ← m·θ_m + (1 − m)·θ``) under FSDP: the online
    parameters are gathered whole for the update (read-only), the momentum
    modules must be unsharded (ignored by FSDP)."""
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    from albef_mm.models.momentum import MomentumPairs
    model = wrapped.module
    with FSDP.summon_full_params(wrapped, writeback=False):
        pairs = [(_CleanNames(online), momentum)
                 for online, momentum in model.momentum_module_pairs()]
        MomentumPairs(pairs).update(model.momentum)


@FUNCTIONS.register_module()
def albef_layer_wrap_policy(module: nn.Module, recurse: bool,
                            nonwrapped_numel: int) -> bool:
    """FSDP auto-wrap policy (config: ``auto_wrap_policy=dict(type=
    'albef_layer_wrap_policy')``): one FSDP unit per ViT block and per text
    (self-attention-only) BERT layer; everything else, the fusion layers
    included, in the root unit.

    The fusion layers stay in the root unit because the training step
    projects their cross-attention keys/values of the batch images outside
    their forward (``reuse_image_kv``), and FSDP gathers a unit's
    parameters only around that unit's own forward; the root unit's are
    gathered for the whole forward and backward.
    """
    from albef_mm.models.backbones.vit import ViTBlock
    from albef_mm.models.layers.bert_layer import BertLayer
    if recurse:
        return True
    return isinstance(module, ViTBlock) or (
        isinstance(module, BertLayer) and not module.has_cross_attention)


def scalar_param_owners(model: nn.Module) -> List[str]:
    """Names of the modules that directly hold a 0-d trainable parameter
    (FSDP refuses to flatten those)."""
    return [name for name, module in model.named_modules()
            if any(p.dim() == 0 and p.requires_grad
                   for p in module.parameters(recurse=False))]


def _average_grad(grad: torch.Tensor) -> torch.Tensor:
    grad = grad.clone()
    all_reduce(grad, op='mean')
    return grad


@MODEL_WRAPPERS.register_module()
class ALBEFFullyShardedDataParallel(MMFullyShardedDataParallel):
    """``MMFullyShardedDataParallel`` set up for models with momentum
    encoders and feature queues (see the module docstring for what is
    sharded).

    Config keys: those of ``MMFullyShardedDataParallel``
    (``sharding_strategy``, ``auto_wrap_policy`` — use
    ``'albef_layer_wrap_policy'`` —, ``mixed_precision``,
    ``backward_prefetch``, ...), and

    * ``ignored_modules`` (``'momentum'`` or a list of module names):
      ``'momentum'`` (default) ignores the momentum modules, which the EMA
      needs whole, and the modules holding 0-d parameters (``itc_head``);
      a list must contain the momentum modules. Trainable parameters of
      ignored modules are replicated and their gradients averaged.
    * ``use_orig_params`` must stay True (the default here).
    * ``device_id``: set by the FSDP strategy; on a machine without GPUs
      it is replaced by the CPU (gloo runs, tests).

    With ``mixed_precision`` keep ``buffer_dtype`` unset (or float32): the
    queues must stay float32.
    """

    def __init__(self, module: nn.Module,
                 ignored_modules: Union[str, Sequence[str]] = 'momentum',
                 use_orig_params: bool = True, device_id=None, **kwargs):
        if not use_orig_params:
            raise ValueError(
                'ALBEFFullyShardedDataParallel needs use_orig_params=True: '
                'the optimizer groups (no weight decay on norms/biases) and '
                'the momentum EMA address the original parameters')
        momentum = momentum_module_names(module)
        if ignored_modules == 'momentum':
            ignored_modules = momentum + scalar_param_owners(module)
        missing = sorted(set(momentum) - set(ignored_modules))
        if missing:
            raise ValueError(
                f'ignored_modules must contain the momentum modules {missing}'
                " (or be 'momentum'): FSDP would shard them differently "
                'from their online modules and break the EMA')
        mp = kwargs.get('mixed_precision')
        buffer_dtype = mp.get('buffer_dtype') if isinstance(mp, dict) else \
            getattr(mp, 'buffer_dtype', None)
        if buffer_dtype not in (None, 'float32', torch.float32):
            raise ValueError(
                f'mixed_precision.buffer_dtype={buffer_dtype!r} would cast '
                'the ITC feature queues; leave it unset (float32)')
        if not torch.cuda.is_available():
            device = torch.device('cpu')
            device_id = device
        else:
            if device_id is None:
                device_id = torch.cuda.current_device()
            device = torch.device('cuda', device_id) \
                if isinstance(device_id, int) else torch.device(device_id)
        # One model on every rank (DDP broadcasts at construction; FSDP
        # would shard each rank's own initialisation) and the ignored
        # modules on the device (FSDP moves only what it manages).
        module.to(device)
        if get_world_size() > 1:
            for tensor in module.state_dict().values():
                broadcast(tensor, 0)
            # Trainable parameters FSDP does not manage: average their
            # gradients over the ranks, as DDP would.
            named = dict(module.named_modules())
            for name in ignored_modules:
                for param in named[name].parameters():
                    if param.requires_grad:
                        param.register_hook(_average_grad)
        super().__init__(module=module, ignored_modules=list(ignored_modules),
                         use_orig_params=True, device_id=device_id, **kwargs)
