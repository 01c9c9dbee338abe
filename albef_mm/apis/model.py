"""Building a model from a config file, for scripts and notebooks."""
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
        config: Config file or object.
        checkpoint: albef_mm or original ALBEF checkpoint (converted, keys
            reported); None keeps the random initialisation.
        device: Where to put the model.
        cfg_options: Overrides merged into the config (``--cfg-options``
            style keys).
        strict: Raise on missing/unexpected keys (beyond those the model
            declares ignorable).
    Returns:
        The model in eval mode, with the config as ``model.cfg``.
    """
    from albef_mm.checkpoint import load_checkpoint_to_model
    from albef_mm.registry import MODELS
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
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        load_checkpoint_to_model(model, checkpoint, strict=strict)
    model.cfg = cfg
    return model.to(torch.device(device)).eval()
