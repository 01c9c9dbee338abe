"""Compatibility fixes for the pinned library versions.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch 2.6
the default ``weights_only=True`` rejects mmengine's own checkpoints (they
pickle ``HistoryBuffer`` and numpy scalars), so ``resume`` and ``load_from``
fail. Local checkpoints are trusted files the user points us at, so the local
scheme loader is re-registered with ``weights_only=False``.
"""
import os.path as osp

import torch
from mmengine.runner.checkpoint import CheckpointLoader


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_from_local(filename, map_location):
    """Load a local checkpoint with full unpickling (see module docstring)."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'Checkpoint {filename} can not be found: check the path given to '
            '`load_from`, `--resume` or the converter.')
    return torch.load(filename, map_location=map_location, weights_only=False)
