"""Save and restore random generator states with checkpoints."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook

from albef_mm.registry import HOOKS


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Store the Python, NumPy and torch (CPU and CUDA) generator states in
    every checkpoint and restore them when *resuming*, so that a resumed run
    draws the same ITM negatives, MLM masks, captions and (with
    ``num_workers=0``) augmentations as an uninterrupted one. States are per
    process: each rank restores the state rank 0 saved, which is exact on a
    single process and harmless otherwise. No config keys."""

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_state'] = dict(
            python=random.getstate(), numpy=np.random.get_state(),
            torch=torch.get_rng_state(),
            cuda=torch.cuda.get_rng_state_all()
            if torch.cuda.is_available() else None)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('rng_state')
        if state is None or not getattr(runner, '_resume', False):
            return
        random.setstate(state['python'])
        np.random.set_state(state['numpy'])
        torch.set_rng_state(state['torch'])
        if state.get('cuda') is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])
