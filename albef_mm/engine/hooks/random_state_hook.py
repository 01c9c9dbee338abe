"""Save and restore random generator states with checkpoints."""
import random

import numpy as np
import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook

from albef_mm.registry import HOOKS


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Store the main process's Python, NumPy and torch (CPU and CUDA)
    generator states in every checkpoint and restore them when *resuming*,
    so that the resumed epochs draw what an uninterrupted run draws. No
    config keys (registered by ``default_hooks.random_state`` in
    ``configs/_base_/default_runtime.py``).

    What a resume reproduces exactly (losses equal to the last digit,
    measured on the tiny Shapes config):

    * one process, ``num_workers=0``: everything -- the data order
      (``DefaultSampler`` shuffles with ``seed + epoch``), crops, flips,
      RandomAugment ops, caption choices, ITM negatives, MLM masks,
      dropout;
    * one process, ``num_workers > 0`` with ``persistent_workers=False``:
      everything as well. The workers are created anew every epoch and
      MMEngine seeds each one with ``seed + worker_id`` (NumPy, ``random``
      and torch), the same at every start, so a resumed epoch's workers
      draw what the uninterrupted run's did.

    Not exact:

    * ``persistent_workers=True`` (what the shipped configs use, for
      speed): the workers live for the whole run and continue their random
      streams from epoch to epoch; a resumed run starts new workers whose
      streams restart from ``seed + worker_id``, so augmentations and
      caption choices, and with them the losses, differ after the resume
      (the data order and the schedule do not). Set
      ``train_dataloader.persistent_workers=False`` when a bit-exact resume
      matters.
    * several processes: checkpoints hold rank 0's states only, so every
      rank keeps its fresh per-rank seed instead (restoring rank 0's state
      on every rank would make the ranks draw identical masks).

    The worker processes' own generator states are never saved: each
    worker gets its own seed, ``seed + worker_id + rank * num_workers``
    (MMEngine's default ``worker_init_fn`` with ``randomness.seed``), so
    the workers draw different augmentations. The original ALBEF on
    torch 1.8 did not seed NumPy in its workers: they inherited one NumPy
    state, and its four workers repeated the same RandomAugment stream.
    """

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
