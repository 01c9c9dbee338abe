"""Where a checkpoint argument points: a local file for every form the
project and MMEngine accept.

* a path (``~`` expanded) is used as it is;
* ``http(s)://`` URLs are downloaded once into the project's cache
  (:mod:`albef_mm.utils.download`: atomic, resumable, hash-checked);
* ``torchvision://NAME`` / ``modelzoo://NAME``, ``open-mmlab://NAME`` /
  ``openmmlab://NAME`` and ``mmcls://NAME`` are mapped to their URL with
  MMEngine's own tables, then downloaded into the same cache (never through
  ``torch.hub``, whose loader unpickles with full trust);
* a registered model name (``albef_14m``, see
  :func:`albef_mm.apis.list_models`) is its released file;
* other schemes (``pavi://``, ``s3://``, ``petrel://``, ...) are refused:
  MMEngine reads them with full unpickling.
"""
import os.path as osp
import re
from typing import Tuple

_TORCHVISION = ('torchvision://', 'modelzoo://')
_OPENMMLAB = ('open-mmlab://', 'openmmlab://')
_SCHEME = re.compile(r'^([A-Za-z][\w+.-]*:)?[A-Za-z][\w+.-]*://')


class UnsupportedCheckpointSource(ValueError):
    """A checkpoint URL scheme the safe loader cannot read."""


def _lookup(table: dict, name: str, spec: str) -> str:
    if name not in table:
        import difflib
        close = difflib.get_close_matches(name, list(table), n=3)
        raise KeyError(f'{spec}: unknown model name {name!r}'
                       + (f'; did you mean {close}?' if close else ''))
    return table[name]


def scheme_url(spec: str) -> str:
    """The URL (or, for some ``open-mmlab://`` names, the path under
    MMEngine's home) that an MMEngine scheme name stands for."""
    from mmengine.runner import checkpoint as mm
    if spec.startswith(_TORCHVISION):
        name = spec.split('://', 1)[1]
        return _lookup(mm.get_torchvision_models(), name, spec)
    if spec.startswith(_OPENMMLAB):
        name = spec.split('://', 1)[1]
        name = mm.get_deprecated_model_names().get(name, name)
        url = _lookup(mm.get_external_models(), name, spec)
        if url.startswith(('http://', 'https://')):
            return url
        return osp.join(mm._get_mmengine_home(), url)
    if spec.startswith('mmcls://'):
        return _lookup(mm.get_mmcls_models(), spec[len('mmcls://'):], spec)
    raise UnsupportedCheckpointSource(
        f'Checkpoint {spec!r}: the scheme {spec.split("://")[0]}:// is not '
        'supported: MMEngine reads it with full unpickling, which can run '
        'code stored in the file. Copy the file to a local path (or an '
        'http(s) URL) and pass that instead.')


def resolve(spec: str, progress: bool = True) -> Tuple[str, bool]:
    """``(local path, downloaded)`` of a checkpoint argument (see the
    module docstring); ``downloaded`` is True when this call fetched it.

    Raises:
        UnsupportedCheckpointSource: a scheme that cannot be read safely.
        KeyError: an unknown name after ``torchvision://`` and the like.
        albef_mm.utils.download.DownloadError: the download failed.
    """
    spec = str(spec)
    if _SCHEME.match(spec):
        url = spec if spec.startswith(('http://', 'https://')) else \
            scheme_url(spec)
        if not url.startswith(('http://', 'https://')):
            return url, False
        from albef_mm.utils.download import download
        return download(url, progress=progress)
    path = osp.expanduser(spec)
    if not osp.exists(path) and re.fullmatch(r'[\w+.-]+', spec):
        from albef_mm.utils.model_index import registered, weights_file
        if spec in registered():
            local = weights_file(spec, progress=progress)
            return local, False
    return path, False
