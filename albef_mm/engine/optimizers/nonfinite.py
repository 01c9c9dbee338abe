"""Skipping the update of an iteration whose loss is not finite."""
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper

from albef_mm.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that skips backward and optimizer step when the loss
    is NaN or infinite, instead of writing NaN into every weight.

    All ranks agree (the finiteness flag is all-reduced), so distributed
    training never deadlocks in a half-skipped backward. Each skip is logged
    with the iteration and counted in ``num_skipped`` (also logged as
    ``train/num_nonfinite_skipped``). Use it together with the model key
    ``nonfinite_loss='skip'`` (the model then logs which loss term was
    non-finite instead of stopping the run). A skipped iteration does not
    count towards ``accumulative_counts``.

    Config: ``optim_wrapper = dict(type='SkipNonFiniteOptimWrapper',
    optimizer=...)``; the other keys are :class:`OptimWrapper`'s.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.num_skipped = 0

    def update_params(self, loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        finite = torch.isfinite(loss.detach()).all().to(torch.float32)
        if get_world_size() > 1:
            all_reduce(finite, op='min')
        if bool(finite):
            super().update_params(loss, step_kwargs, zero_kwargs)
            return
        self.num_skipped += 1
        self.zero_grad(**(zero_kwargs or {}))
        hub = MessageHub.get_current_instance()
        hub.update_scalar('train/num_nonfinite_skipped', self.num_skipped)
        print_log(f'non-finite loss at iteration {hub.get_info("iter")}: '
                  f'update skipped ({self.num_skipped} skipped so far)',
                  logger='current', level=30)
