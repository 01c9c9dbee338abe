"""albef_mm: ALBEF (Align before Fuse) on MMEngine.

Importing the package changes no global state: checkpoints are read by
``albef_mm.checkpoint`` with ``weights_only=True`` and a scoped
allow-list (see ``albef_mm/checkpoint/safety.py``).
"""
from .version import __version__

__all__ = ['__version__']
