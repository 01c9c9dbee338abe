"""ALBEF's learning-rate schedule as an MMEngine parameter scheduler."""
import math
from typing import List, Optional

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler

from albef_mm.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class ALBEFStepWarmupCosineLR(LRSchedulerMixin, _ParamScheduler):
    r"""Staircase warm-up in epoch 0, then a per-epoch cosine decay.

    This reproduces how the original ALBEF scripts drive timm's
    ``CosineLRScheduler`` with a *virtual time* ``t`` (see *Driving*).

    **Virtual-time value.** With ``W = warmup_epochs``, ``T = max_epochs``
    and ``peak`` the group's initial lr (``initial_lr``, i.e. the optimizer
    ``lr``):

    .. math::

        v(t) = \begin{cases}
          \text{warmup\_lr} + t\,(\text{peak}-\text{warmup\_lr})/W
              & t < W \\
          \text{min\_lr} + \tfrac12(\text{peak}-\text{min\_lr})
              (1+\cos(\pi e/T)),\ e = t - W & W \le t < W + T \\
          \text{min\_lr} & t \ge W + T
        \end{cases}

    **Driving.** The original calls ``step(i // step_size)`` *after* the
    optimizer step of iteration ``i`` of epoch 0 when ``i % step_size == 0``
    and ``i <= step_size * W``, and ``step(e + W)`` before epoch ``e >= 1``;
    the optimizer lr is ``warmup_lr`` from construction. Hence, for the
    ``i``-th iteration (0-based) of epoch ``e``:

    * ``e == 0``: ``lr = v(min(max(i - 1, 0) // step_size, W))`` -- iteration
      0 uses ``warmup_lr``, the lr changes at iterations
      ``step_size * k + 1`` and the peak is used from iteration
      ``step_size * W + 1`` to the end of epoch 0; a shorter epoch simply
      cuts the warm-up;
    * ``e >= 1``: ``lr = v(e + W)``, constant within the epoch (e.g.
      pre-training, epoch 29: ``1e-5 + 0.5 * 9e-5 * (1 + cos(29 pi / 30))``
      ``~= 1.02e-5``).

    Every param group uses its own initial lr as ``peak``; ``warmup_lr`` and
    ``min_lr`` are absolute values shared by all groups (as in timm).

    The value is computed in closed form from the iteration counter, so the
    scheduler is stepped every iteration (``by_epoch=False`` after
    conversion) and resuming from a checkpoint continues the exact sequence.

    **Config** (epoch-based, converted to iterations by the ``Runner``, which
    fills ``epoch_length = len(train_dataloader)``)::

        param_scheduler = [
            dict(type='ALBEFStepWarmupCosineLR',
                 warmup_lr=1e-5, min_lr=1e-5,
                 warmup_epochs=20,   # W: number of step_size-iteration steps
                 max_epochs=30,      # T: cosine period (``epochs`` in ALBEF)
                 step_size=100,      # iterations per warm-up step
                 # epoch_length=...,  # optional: overrides len(dataloader)
                 by_epoch=True, convert_to_iter_based=True)
        ]

    Note: MMEngine's builder drops ``epoch_length`` from a config unless
    ``convert_to_iter_based=True``, so in configs always use the form above.
    In Python the class can be built directly with ``by_epoch=False`` and an
    explicit ``epoch_length``.

    Args:
        optimizer (Optimizer or OptimWrapper): Wrapped optimizer.
        warmup_lr (float): lr at the start of the warm-up (absolute).
        min_lr (float): Final lr of the cosine (absolute).
        warmup_epochs (int): ``W``, number of warm-up steps of ``step_size``
            iterations (the misleadingly named ``warmup_epochs`` of ALBEF).
        max_epochs (int): ``T``, the cosine period in epochs.
        epoch_length (int): Iterations per training epoch. Required.
        step_size (int): Iterations per warm-up step. Defaults to 100.
        begin (int): Iteration at which the schedule starts (its epoch 0
            starts here). Defaults to 0.
        end (int): Iteration at which the schedule stops updating the lr.
            Defaults to INF.
        last_step (int): See :class:`mmengine.optim._ParamScheduler`.
        by_epoch (bool): Must be False here (use ``convert_to_iter_based``
            for an epoch-based config). Defaults to False.
        verbose (bool): Print the lr at every update. Defaults to False.
    """

    def __init__(self,
                 optimizer,
                 warmup_lr: float,
                 min_lr: float,
                 warmup_epochs: int,
                 max_epochs: int,
                 epoch_length: Optional[int] = None,
                 step_size: int = 100,
                 begin: int = 0,
                 end: int = INF,
                 last_step: int = -1,
                 by_epoch: bool = False,
                 verbose: bool = False):
        if by_epoch:
            raise ValueError(
                'ALBEFStepWarmupCosineLR changes the lr within epoch 0 and '
                'must be stepped every iteration: use `by_epoch=True, '
                'convert_to_iter_based=True` in the config (or build it with '
                '`by_epoch=False` and `epoch_length`).')
        if epoch_length is None or int(epoch_length) <= 0:
            raise ValueError(
                '`epoch_length` must be a positive integer, got '
                f'{epoch_length}. In a config use `by_epoch=True, '
                'convert_to_iter_based=True` so that the Runner passes '
                'len(train_dataloader) (MMEngine drops `epoch_length` '
                'otherwise).')
        if int(warmup_epochs) != warmup_epochs or warmup_epochs < 0:
            raise ValueError('`warmup_epochs` must be a non-negative integer, '
                             f'got {warmup_epochs}')
        if max_epochs <= 0:
            raise ValueError(
                f'`max_epochs` must be positive, got {max_epochs}')
        if int(step_size) != step_size or step_size <= 0:
            raise ValueError(f'`step_size` must be a positive integer, got '
                             f'{step_size}')
        if min_lr < 0 or warmup_lr < 0:
            raise ValueError('`warmup_lr` and `min_lr` must be non-negative')
        self.warmup_lr = warmup_lr
        self.min_lr = min_lr
        self.warmup_epochs = int(warmup_epochs)
        self.max_epochs = max_epochs
        self.epoch_length = int(epoch_length)
        self.step_size = int(step_size)
        super().__init__(
            optimizer,
            begin=begin,
            end=end,
            last_step=last_step,
            by_epoch=False,
            verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls,
                              *args,
                              begin=0,
                              end=INF,
                              by_epoch=True,
                              epoch_length=None,
                              **kwargs):
        """Build the iteration-based scheduler from an epoch-based config.

        ``begin``/``end`` are given in epochs and converted to iterations;
        ``epoch_length`` is kept for the closed-form schedule.
        """
        assert by_epoch, 'Only epoch-based kwargs whose `by_epoch=True` can ' \
                         'be converted to iter-based.'
        assert epoch_length is not None and epoch_length > 0, \
            f'`epoch_length` must be a positive integer, ' \
            f'but got {epoch_length}.'
        begin = int(begin * epoch_length)
        if end != INF:
            end = int(end * epoch_length)
        return cls(
            *args,
            begin=begin,
            end=end,
            by_epoch=False,
            epoch_length=epoch_length,
            **kwargs)

    def virtual_value(self, t: int, peak: float) -> float:
        """lr of timm's ``CosineLRScheduler`` (ALBEF settings) at time t."""
        num_warmup = self.warmup_epochs
        if t < num_warmup:
            warmup_step = (peak - self.warmup_lr) / num_warmup
            return self.warmup_lr + t * warmup_step
        e = t - num_warmup
        if e >= self.max_epochs:
            return self.min_lr
        return self.min_lr + 0.5 * (peak - self.min_lr) * (
            1 + math.cos(math.pi * e / self.max_epochs))

    def virtual_time(self, step: int) -> int:
        """Virtual time ``t`` in force at the ``step``-th scheduled iter."""
        epoch, inner_iter = divmod(step, self.epoch_length)
        if epoch > 0:
            return epoch + self.warmup_epochs
        return min(max(inner_iter - 1, 0) // self.step_size,
                   self.warmup_epochs)

    def _get_closed_form_lr(self) -> List[float]:
        t = self.virtual_time(self.last_step)
        return [self.virtual_value(t, peak) for peak in self.base_values]

    def _get_value(self) -> List[float]:
        """The lr for the iteration that follows (closed form)."""
        return self._get_closed_form_lr()
