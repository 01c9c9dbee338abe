"""Training hooks of ALBEF's momentum distillation.

The model owns the state and exposes the operations
(``momentum_update``, ``dequeue_and_enqueue``, ``alpha``); the hooks only
decide *when* they run. Each hook announces itself to the model in
``before_train`` so that a run without it fails on the first step.

Gradient accumulation (``optim_wrapper.accumulative_counts = k`` or
DeepSpeed's ``gradient_accumulation_steps``): an iteration is a
micro-batch and the optimizer steps every k iterations. ALBEF has no
accumulation; the semantics kept here are those of a k-times larger batch
as far as the state allows:

* the momentum EMA runs once per optimizer step (before the first
  micro-batch of each accumulation window, i.e. right after the previous
  step), so the momentum encoders follow the online weights with the same
  ``m`` per update as without accumulation (k EMA steps towards unchanged
  weights would be an EMA with ``m**k``);
* every micro-batch is enqueued, so the queue sees every sample once and
  later micro-batches of a window contrast against the earlier ones.

Sharded parameters (FSDP with ``use_orig_params=True``): the online
parameters are shards between forwards, so the EMA reads them through
``FullyShardedDataParallel.summon_full_params`` (read-only); the momentum
modules must be left out of the sharding (``ignored_modules``), see
:mod:`albef_mm.engine.strategies.fsdp`. DeepSpeed ZeRO-2 shards only
gradients and optimizer states, so the EMA runs on whole parameters.
"""
from mmengine.hooks import Hook

from albef_mm.registry import HOOKS
from ..utils import unwrap_model as unwrap


class _ModelHook(Hook):
    """Registers its class name with the model before training."""

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        if hasattr(model, 'attach_hook'):
            model.attach_hook(type(self).__name__)


def accumulation_state(runner):
    """``(micro_batches_done, accumulative_counts)`` of the run's optimizer
    (DeepSpeed engine or MMEngine optim wrapper); ``(0, 1)`` when there is
    none (every iteration is an optimizer step)."""
    model = getattr(runner, 'model', None)
    engine_steps = getattr(model, 'gradient_accumulation_steps', None)
    if callable(engine_steps) and hasattr(model, 'micro_steps'):
        return int(model.micro_steps), int(engine_steps())  # DeepSpeed
    optim = getattr(runner, 'optim_wrapper', None)
    wrappers = getattr(optim, 'optim_wrappers', None)  # OptimWrapperDict
    if wrappers:
        optim = next(iter(wrappers.values()))
    return (int(getattr(optim, '_inner_count', 0)),
            int(getattr(optim, '_accumulative_counts', 1)))


def is_fsdp(wrapped) -> bool:
    """Whether ``wrapped`` is a ``FullyShardedDataParallel`` model."""
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    except ImportError:  # pragma: no cover - torch without distributed
        return False
    return isinstance(wrapped, FSDP)


@HOOKS.register_module()
class MomentumUpdateHook(_ModelHook):
    """EMA update of every online/momentum pair once per optimizer step:
    ``θ_m ← m·θ_m + (1 − m)·θ`` with the model's ``momentum`` (0.995).

    It runs before the first iteration of each accumulation window (every
    iteration without accumulation), which is ALBEF's update inside the
    forward pass: before the momentum encoders, with the online weights of
    the last optimizer step. With FSDP the online parameters are gathered
    for the update (the momentum modules stay unsharded). No config keys.

    Attribute ``num_updates`` counts the EMA updates of this run.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self):
        self.num_updates = 0

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        done, counts = accumulation_state(runner)
        if done % counts:
            return  # inside an accumulation window: weights unchanged
        if is_fsdp(runner.model):
            from ..strategies.fsdp import fsdp_momentum_update
            fsdp_momentum_update(runner.model)
        else:
            unwrap(runner.model).momentum_update()
        self.num_updates += 1


@HOOKS.register_module()
class QueueUpdateHook(_ModelHook):
    """After each training iteration, enqueue the batch's momentum features
    (gathered over all ranks, in rank order) into the ITC queues. Only for
    models with feature queues (pre-training, retrieval, grounding). With
    gradient accumulation every micro-batch is enqueued (the queue sees
    every sample; the queue length must be a multiple of the global
    micro-batch). No config keys."""

    priority = 'ABOVE_NORMAL'

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        if not hasattr(model, 'dequeue_and_enqueue'):
            raise TypeError(
                f'QueueUpdateHook: {type(model).__name__} has no feature '
                'queues; remove QueueUpdateHook from custom_hooks')
        super().before_train(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        unwrap(runner.model).dequeue_and_enqueue()


@HOOKS.register_module()
class AlphaWarmupHook(_ModelHook):
    """Ramp the distillation weight linearly during the first epoch.

    ``model.alpha = model.max_alpha * min(1, i / iters_per_epoch)`` at
    iteration ``i`` of epoch 0, ``model.max_alpha`` afterwards (ALBEF's
    ``warm_up: True``). With ``warmup=False`` alpha is constant (SNLI-VE).

    Args:
        warmup (bool): Whether to ramp. Defaults to True.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, warmup: bool = True):
        self.warmup = warmup

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        model = unwrap(runner.model)
        iters_per_epoch = len(runner.train_dataloader)
        step = runner.iter
        if self.warmup and step < iters_per_epoch:
            model.alpha = model.max_alpha * min(1.0, step / iters_per_epoch)
        else:
            model.alpha = model.max_alpha

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        runner.message_hub.update_scalar('train/alpha',
                                         unwrap(runner.model).alpha)
