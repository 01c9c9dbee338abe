"""fp32 islands for mixed-precision training.

Under ``torch.autocast`` (MMEngine's ``AmpOptimWrapper``) matrix products
run in bf16/fp16. The contrastive similarities, the distillation softmaxes
and the feature queues are precision-sensitive (a 65 536-column softmax
divided by a temperature of ~0.07), so the heads compute them inside
:func:`fp32_island`: autocast off, inputs cast to float32. In a float32
run the casts return the tensors themselves, so the numbers are unchanged.
"""
import contextlib
from typing import Iterator

import torch


@contextlib.contextmanager
def fp32_island(tensor: torch.Tensor) -> Iterator[None]:
    """Disable autocast on ``tensor``'s device type for the block (cast
    the block's inputs with ``.float()`` yourself)."""
    with torch.autocast(device_type=tensor.device.type, enabled=False):
        yield
