"""albef_mm: ALBEF (Align before Fuse) on MMEngine.

Checkpoints are read by ``albef_mm.checkpoint`` with ``weights_only=True``
and a scoped allow-list (see ``albef_mm/checkpoint/safety.py``). The one
process-wide change: importing ``albef_mm.checkpoint`` (the models and
runners do) points every scheme of MMEngine's ``CheckpointLoader`` at that
safe loader (``albef_mm/checkpoint/mmengine_schemes.py``), so MMEngine's
own loading paths cannot unpickle code either.
"""
from .version import __version__

__all__ = ['__version__']
