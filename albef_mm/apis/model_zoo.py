"""The model zoo API (as mmpretrain's): ``list_models`` / ``model_info``
read the one model-zoo source, ``configs/albef/metafile.yml`` (see
:mod:`albef_mm.utils.model_index`); ``get_model`` builds a registered
model with its weights, downloading released files once into the cache
(:mod:`albef_mm.utils.download`)."""
from typing import Optional

from albef_mm.utils.model_index import (list_models, model_info,
                                        weights_file)

__all__ = ['get_model', 'list_models', 'model_info']


def get_model(name: str, checkpoint: Optional[str] = None,
              device: str = 'cpu', pretrained: bool = True,
              cfg_options: Optional[dict] = None):
    """Build a registered model with its weights.

    Args:
        name: A name from :func:`list_models`.
        checkpoint: A weights file path, ``http(s)://`` URL or registered
            model name; by default the model's own weights (released files
            are downloaded once into the cache, see
            :mod:`albef_mm.utils.download`).
        device: ``'cpu'``, ``'cuda'`` or ``'meta'`` (structure only).
        pretrained: False builds the model with random weights (shapes,
            tests); ``checkpoint`` is then ignored.
        cfg_options: Overrides merged into the config (``--cfg-options``
            style keys).
    Raises:
        FileNotFoundError: no weights released / produced yet, naming how
            to obtain them.
        albef_mm.utils.download.DownloadError: the download failed (URL,
            cache path and variables named).
    """
    from .model import init_model
    info = model_info(name)
    if not pretrained:
        checkpoint = None
    elif checkpoint is None:
        checkpoint = weights_file(name)
    return init_model(info['config'], checkpoint, device, cfg_options)
