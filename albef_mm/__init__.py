"""albef_mm: ALBEF (Align before Fuse) on MMEngine."""
from .utils import compat  # noqa: F401  (torch>=2.6 checkpoint loading fix)
from .version import __version__

__all__ = ['__version__']
