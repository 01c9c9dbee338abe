"""Building a model from a config file, for scripts and notebooks."""
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu', cfg_options: Optional[dict] = None,
               strict: bool = False):
    """Build the ``model`` of a config, optionally load a checkpoint.

    Pretrained-weight downloads named in the config (DeiT for the ViT,
    ``bert-base-uncased``) are skipped: the weights come from
    ``checkpoint``, or stay random for benchmarks.

    Args:
        config: Config file or object, or a registered model name
            (:func:`~albef_mm.apis.list_models`): its config, and its
            weights unless ``checkpoint`` is given (released files are
            downloaded once into the cache).
        checkpoint: albef_mm or original ALBEF checkpoint (converted, keys
            reported): a path, an ``http(s)://`` URL or a registered model
            name; None keeps the random initialisation (of a config).
        device: Where to put the model; ``'meta'`` builds the structure
            without allocating its weights (no ``checkpoint`` then).
        cfg_options: Overrides merged into the config (``--cfg-options``
            style keys).
        strict: Raise on missing/unexpected keys (beyond those the model
            declares ignorable).
    Returns:
        The model in eval mode, with the config as ``model.cfg``.
    """
    from albef_mm.checkpoint import load_checkpoint_to_model
    from albef_mm.registry import MODELS
    if isinstance(config, str) and not osp.isfile(config):
        from albef_mm.utils.model_index import (model_info, registered,
                                                weights_file)
        if config in registered():
            if checkpoint is None:
                checkpoint = weights_file(config)
            config = model_info(config)['config']
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if not DefaultScope.check_instance_created('albef_mm-init-model'):
        DefaultScope.get_instance('albef_mm-init-model',
                                  scope_name='albef_mm')
    model_cfg = cfg.model.copy()
    if 'vision_backbone' in model_cfg:
        model_cfg.vision_backbone = dict(model_cfg.vision_backbone,
                                         pretrained=None)
    model_cfg['pretrained_text'] = None
    if str(device) == 'meta':
        # structure only: no memory for the weights (full-size models on
        # small machines, listing and checking configs)
        with torch.device('meta'):
            model = MODELS.build(model_cfg)
    else:
        model = MODELS.build(model_cfg)
    if checkpoint is not None:
        load_checkpoint_to_model(model, checkpoint, strict=strict)
    model.cfg = cfg
    return model.to(torch.device(device)).eval()
