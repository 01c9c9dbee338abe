"""Where the config files are: inside the installed package, or the clone.

A wheel carries the configs as ``albef_mm/.mim/configs`` (copied there at
build time by ``setup.py``, the place mmpretrain and ``mim`` use); a clone
and an editable install use the repository's top-level ``configs/``, the
files users edit and pass to ``tools/train.py``.
"""
import os.path as osp

_PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
# a file every complete config tree holds: tells the clone's configs/
# from an unrelated top-level ``configs`` folder in site-packages
_MARKER = osp.join('albef', 'metafile.yml')


def config_root() -> str:
    """The folder holding ``albef/`` and ``_base_/`` config files.

    The package's own copy (``albef_mm/.mim/configs``, present in a wheel)
    comes first; otherwise the ``configs/`` folder next to the package (a
    clone or an editable install).

    Raises:
        FileNotFoundError: neither holds the configs, naming both places.
    """
    candidates = (osp.join(_PACKAGE_DIR, '.mim', 'configs'),
                  osp.join(osp.dirname(_PACKAGE_DIR), 'configs'))
    for root in candidates:
        if osp.isfile(osp.join(root, _MARKER)):
            return root
    raise FileNotFoundError(
        'albef_mm config files not found (looked for '
        + ' and '.join(osp.join(c, _MARKER) for c in candidates)
        + '): reinstall the package from a wheel built by setup.py, or run '
        'from a clone of the repository')


def config_path(*parts: str) -> str:
    """The path of a config file below :func:`config_root`, e.g.
    ``config_path('albef', 'vqa.py')``."""
    return osp.join(config_root(), *parts)

