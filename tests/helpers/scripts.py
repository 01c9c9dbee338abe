"""Load a repository script (``tools/…``, ``demo/…``) as a fresh module, so
a test can call its functions without running its ``__main__`` block."""
import importlib.util
import os.path as osp
import sys

from .tiny import REPO_ROOT


def load_script(*parts, name=None, tools_on_path=False):
    """The module of ``REPO_ROOT/<parts…>``, executed anew on every call.

    ``name`` is its ``__name__`` (default ``script_<file stem>``);
    ``tools_on_path`` puts ``tools/`` on ``sys.path`` first, for a tool that
    imports a sibling (``tools/test.py`` imports ``tools/train.py``)."""
    path = osp.join(REPO_ROOT, *parts)
    if tools_on_path:
        tools = osp.join(REPO_ROOT, 'tools')
        if tools not in sys.path:
            sys.path.insert(0, tools)
    stem = osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(
        name or f'script_{stem}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
