"""Training hooks of ALBEF's momentum distillation.

The model owns the state and exposes the operations
(``momentum_update``, ``dequeue_and_enqueue``, ``alpha``); the hooks only
decide *when* they run. Each hook announces itself to the model in
``before_train`` so that a run without it fails on the first step.
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


@HOOKS.register_module()
class MomentumUpdateHook(_ModelHook):
    """EMA update of every online/momentum pair before each training
    iteration: ``θ_m ← m·θ_m + (1 − m)·θ`` with the model's ``momentum``
    (0.995). Equivalent to ALBEF's update inside the forward pass, which
    also runs before the momentum encoders and uses the current online
    weights. No config keys."""

    priority = 'ABOVE_NORMAL'

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        unwrap(runner.model).momentum_update()


@HOOKS.register_module()
class QueueUpdateHook(_ModelHook):
    """After each training iteration, enqueue the batch's momentum features
    (gathered over all ranks, in rank order) into the ITC queues. Only for
    models with feature queues (pre-training, retrieval, grounding). No
    config keys."""

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
