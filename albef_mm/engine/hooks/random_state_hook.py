"""Save and restore random generator states with checkpoints."""
import random

import numpy as np
import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook

from albef_mm.registry import HOOKS


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Store the Python, NumPy and torch (CPU and CUDA) generator states in
    every checkpoint and restore them when *resuming* a single-process run,
    so that it draws the same ITM negatives, MLM masks, captions and (with
    ``num_workers=0``) augmentations as an uninterrupted one. Checkpoints
    hold rank 0's states only, so distributed runs keep their fresh
    per-rank seeds instead (restoring rank 0's state on every rank would
    make the ranks draw identical masks). No config keys."""

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_state'] = dict(
            python=random.getstate(), numpy=np.random.get_state(),
            torch=torch.get_rng_state(),
            cuda=torch.cuda.get_rng_state_all()
            if torch.cuda.is_available() else None)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('rng_state')
        if state is None or not getattr(runner, '_resume', False) or \
                get_world_size() > 1:
            return
        random.setstate(state['python'])
        np.random.set_state(state['numpy'])
        torch.set_rng_state(state['torch'])
        if state.get('cuda') is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])
