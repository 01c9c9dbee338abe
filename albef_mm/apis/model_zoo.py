"""The registered model configs with their task and where their weights
come from: ``list_models`` / ``get_model`` as in mmpretrain."""
import fnmatch
import glob
import os.path as osp
from typing import Dict, List, Optional

from albef_mm.utils import config_path

RELEASE = ('released by the ALBEF authors (github.com/salesforce/ALBEF, '
           '"Download" section): download it and pass its path')
# name -> (config under configs/albef, task, weights)
# weights: ('release', file name) or ('local', path produced by a command)
_ZOO: Dict[str, tuple] = {
    'albef_14m': ('pretrain_14m.py', 'pretrain', ('release', 'ALBEF.pth')),
    'albef_4m': ('pretrain_4m.py', 'pretrain', ('release', 'ALBEF_4M.pth')),
    'albef_retrieval_coco': ('retrieval_coco.py', 'retrieval',
                             ('release', 'mscoco.pth')),
    'albef_retrieval_flickr30k': ('retrieval_flickr30k.py', 'retrieval',
                                  ('release', 'flickr30k.pth')),
    'albef_retrieval_flickr30k_zeroshot': (
        'retrieval_flickr30k_zeroshot.py', 'retrieval',
        ('release', 'mscoco.pth')),
    'albef_vqa': ('vqa.py', 'vqa', ('release', 'vqa.pth')),
    'albef_nlvr2_ta': ('nlvr2_ta_pretrain.py', 'nlvr2',
                       ('release', 'pretrain_model_nlvr.pth')),
    # no fine-tuned NLVR2 / SNLI-VE weights were released: train them
    'albef_nlvr2': ('nlvr2.py', 'nlvr2', ('local',
                                          'work_dirs/nlvr2/best_*.pth')),
    'albef_snli_ve': ('snli_ve.py', 'snli_ve', ('local',
                                                'work_dirs/snli_ve/best_*.pth')),
    'albef_grounding_refcoco+': ('grounding_refcoco+.py', 'grounding',
                                 ('release', 'refcoco.pth')),
    'albef_zeroshot_dtd': ('zeroshot_dtd.py', 'classification',
                           ('release', 'ALBEF.pth')),
    'albef_tiny_shapes': ('pretrain_shapes_tiny.py', 'pretrain', (
        'local', 'work_dirs/pretrain_shapes_tiny/epoch_6.pth')),
    'albef_tiny_shapes_retrieval': ('retrieval_shapes_tiny.py', 'retrieval', (
        'local', 'work_dirs/retrieval_shapes_tiny/best_*.pth')),
    'albef_tiny_shapes_zeroshot': ('zeroshot_shapes_tiny.py',
                                   'classification', (
                                       'local', 'work_dirs/pretrain_shapes'
                                       '_tiny/epoch_6.pth')),
}


def list_models(pattern: Optional[str] = None,
                task: Optional[str] = None) -> List[str]:
    """Names of the registered models, optionally filtered by a shell-style
    ``pattern`` (``'*shapes*'``) and a ``task`` (``pretrain``,
    ``retrieval``, ``vqa``, ``nlvr2``, ``snli_ve``, ``grounding``,
    ``classification``)."""
    names = sorted(_ZOO)
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    if task:
        names = [n for n in names if _ZOO[n][1] == task]
    return names


def model_info(name: str) -> dict:
    """``config`` (path), ``task``, ``weights`` (file name or local path)
    and ``source`` (how to obtain the weights) of a registered model."""
    if name not in _ZOO:
        import difflib
        close = difflib.get_close_matches(name, list(_ZOO), n=3)
        raise KeyError(f'no model named {name!r}'
                       + (f'; did you mean {close}?' if close else '')
                       + ' (see albef_mm.apis.list_models())')
    config, task, (kind, weights) = _ZOO[name]
    source = RELEASE if kind == 'release' else (
        f'produced locally by `python tools/train.py configs/albef/{config}`'
        if config.endswith('shapes_tiny.py') else
        'produced locally by training its config')
    return dict(name=name, config=config_path('albef', config),
                task=task, weights=weights, source=source)


def get_model(name: str, checkpoint: Optional[str] = None,
              device: str = 'cpu', pretrained: bool = True):
    """Build a registered model with its weights.

    Args:
        name: A name from :func:`list_models`.
        checkpoint: The weights file; by default the model's own file name
            looked up in ``checkpoints/`` (released files) or its local
            path (Shapes models).
        device: ``'cpu'`` or ``'cuda'``.
        pretrained: False builds the model with random weights (shapes,
            tests).
    Raises:
        FileNotFoundError: naming the file and how to obtain it.
    """
    from .model import init_model
    info = model_info(name)
    if pretrained and checkpoint is None:
        weights = info['weights']
        candidates = [weights, osp.join('checkpoints', weights)]
        found = sorted(f for c in candidates for f in glob.glob(c)
                       if osp.isfile(f))
        checkpoint = found[-1] if found else None
        if checkpoint is None:
            raise FileNotFoundError(
                f'weights of {name!r} not found (looked for '
                f'{" and ".join(candidates)}): {info["weights"]} is '
                f'{info["source"]}, e.g. get_model({name!r}, '
                "checkpoint='path/to/" f"{osp.basename(weights)}')")
    return init_model(info['config'], checkpoint if pretrained else None,
                      device)
