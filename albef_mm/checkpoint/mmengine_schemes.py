"""MMEngine's checkpoint loaders, replaced by the project's safe loader.

MMEngine reads ``http(s)://``, ``torchvision://`` / ``modelzoo://``,
``open-mmlab://`` and ``mmcls://`` checkpoints through
``torch.hub.load_state_dict_from_url`` with full unpickling, and
``pavi://`` / ``s3://`` / ``petrel://`` with ``torch.load`` defaults; any
of them runs code a crafted file holds. Importing :mod:`albef_mm.checkpoint`
registers, for every prefix MMEngine knows (``force=True``), a loader that
resolves the name to a local file through the project's download cache
and reads it with :func:`albef_mm.checkpoint.io.load_any` (weights-only,
scoped allow-list), or refuses the scheme with a clear message. This is
the one process-wide change the package makes: ``runner.load_checkpoint``,
``resume`` (``last_checkpoint`` included), ``init_cfg=dict(type=
'Pretrained')`` and ``mmengine.runner.load_checkpoint`` then all read
safely.
"""
from mmengine.runner.checkpoint import (CheckpointLoader,
                                        _process_mmcls_checkpoint)

from .io import load_any


def load_safely(filename: str, map_location=None):
    """An MMEngine checkpoint loader: any accepted name, read weights-only
    (see :mod:`albef_mm.checkpoint.sources`)."""
    checkpoint = load_any(str(filename), map_location=map_location or 'cpu')
    if str(filename).startswith('mmcls://'):
        checkpoint = _process_mmcls_checkpoint(checkpoint)
    return checkpoint


def register_safe_loaders() -> None:
    """Point every scheme of MMEngine's ``CheckpointLoader`` at
    :func:`load_safely` (idempotent)."""
    for prefix in list(CheckpointLoader._schemes):
        if CheckpointLoader._schemes[prefix] is not load_safely:
            CheckpointLoader.register_scheme(prefix, load_safely, force=True)


register_safe_loaders()
