"""The registered models, read from the one model-zoo source
``configs/albef/metafile.yml`` (mmpretrain's metafile format); the API is
:mod:`albef_mm.apis.model_zoo` (``list_models`` / ``model_info`` /
``get_model`` as in mmpretrain), the checkpoint loader resolves names here.

A model's ``Weights`` is the official URL of a released file (downloaded
once into the cache by :mod:`albef_mm.utils.download`), a path (glob) of a
file produced by the command in ``Produced By``, or null (nothing was
released: train the config).
"""
import fnmatch
import functools
import glob
import os.path as osp
from typing import Dict, List, Optional

from .config_finder import config_path, config_root

METAFILE = ('albef', 'metafile.yml')


@functools.lru_cache(maxsize=None)
def _zoo(root: str) -> Dict[str, dict]:
    """``{name: metafile entry}`` of the metafile under ``root``."""
    import yaml
    path = osp.join(root, *METAFILE)
    with open(path, encoding='utf-8') as f:
        models = yaml.safe_load(f)['Models']
    zoo = {}
    for entry in models:
        for key in ('Name', 'Config', 'Task'):
            if not entry.get(key):
                raise ValueError(f'{path}: model {entry.get("Name")!r} has '
                                 f'no {key!r}')
        if entry['Name'] in zoo:
            raise ValueError(f'{path}: model {entry["Name"]!r} is listed '
                             'twice')
        zoo[entry['Name']] = entry
    return zoo


def registered() -> Dict[str, dict]:
    """``{name: metafile entry}`` of every registered model."""
    return _zoo(config_root())


def list_models(pattern: Optional[str] = None,
                task: Optional[str] = None) -> List[str]:
    """Names of the registered models, optionally filtered by a shell-style
    ``pattern`` (``'*shapes*'``) and a ``task`` (``pretrain``,
    ``retrieval``, ``vqa``, ``nlvr2``, ``snli_ve``, ``grounding``,
    ``classification``)."""
    zoo = registered()
    names = sorted(zoo)
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    if task:
        names = [n for n in names if zoo[n]['Task'] == task]
    return names


def is_url(text: str) -> bool:
    return str(text).startswith(('http://', 'https://'))


def model_info(name: str) -> dict:
    """A registered model: ``config`` (path of the installed config file),
    ``task``, ``weights`` (official URL, local path, or None), ``sha256``
    (or None), ``source`` (how the weights are obtained), ``results`` (the
    paper's numbers, a list of ``{'Task', 'Dataset', 'Metrics'}``) and
    ``evaluate`` (the command that evaluates it).

    Raises:
        KeyError: an unknown name, with the closest registered ones.
    """
    zoo = registered()
    if name not in zoo:
        import difflib
        close = difflib.get_close_matches(name, list(zoo), n=3)
        raise KeyError(f'no model named {name!r}'
                       + (f'; did you mean {close}?' if close else '')
                       + ' (see albef_mm.apis.listregistered())')
    entry = zoo[name]
    weights = entry.get('Weights')
    config_rel = entry['Config']
    if weights is None:
        source = (f'not released: train it with `python tools/train.py '
                  f'{config_rel}` and pass the checkpoint')
    elif is_url(weights):
        source = f'released by the ALBEF authors at {weights} (downloaded ' \
            'once into the cache)'
    else:
        source = f'produced locally by `{entry["Produced By"]}`'
    parts = config_rel.split('/')
    if parts[0] != 'configs':
        raise ValueError(f'metafile config {config_rel!r} of {name!r} is not '
                         'under configs/')
    evaluate = f'python tools/test.py {config_rel} ' + (
        name if weights is not None and is_url(weights) else
        'CHECKPOINT' if weights is None else weights)
    return dict(name=name, config=config_path(*parts[1:]),
                task=entry['Task'], weights=weights,
                sha256=entry.get('SHA256'), source=source,
                results=entry.get('Results') or [], evaluate=evaluate)


def weights_file(name: str, progress: bool = True) -> str:
    """The local weights file of a registered model: its released file
    from the cache (downloaded on first use, hash-checked), or the newest
    file matching its local path.

    Raises:
        FileNotFoundError: no file was released, or the local one was not
            produced yet (naming the command that produces it).
        albef_mm.utils.download.DownloadError: the download failed.
    """
    info = model_info(name)
    weights = info['weights']
    if weights is None:
        raise FileNotFoundError(
            f'{name!r} has no weights file: {info["source"]}, e.g. '
            f"get_model({name!r}, checkpoint='work_dirs/.../best.pth').")
    if is_url(weights):
        from .download import download
        return download(weights, sha256=info['sha256'],
                        progress=progress)[0]
    found = [f for f in glob.glob(weights) if osp.isfile(f)]
    if not found:
        raise FileNotFoundError(
            f'weights of {name!r} not found at {weights}: they are '
            f'{info["source"]}; or pass checkpoint=PATH.')
    # the newest by time: names do not sort by epoch (epoch_12 < epoch_3)
    return max(found, key=osp.getmtime)
