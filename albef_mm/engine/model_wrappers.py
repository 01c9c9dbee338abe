"""A DDP wrapper that also runs on CPU with the gloo backend."""
import torch
from mmengine.model import MMDistributedDataParallel

from albef_mm.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUFriendlyDDP(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that drops the ``device_ids`` MMEngine's
    runner always passes when no GPU is available (DDP rejects them for CPU
    modules). Config keys: those of ``MMDistributedDataParallel``."""

    def __init__(self, module, device_ids=None, **kwargs):
        if not torch.cuda.is_available():
            device_ids = None
            kwargs.pop('output_device', None)
        super().__init__(module=module, device_ids=device_ids, **kwargs)
