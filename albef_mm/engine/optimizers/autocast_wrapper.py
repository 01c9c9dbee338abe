"""bf16 autocast training without a loss scaler, on any device torch can
autocast (CPU included).

MMEngine's ``AmpOptimWrapper`` asserts a GPU (it is built around the CUDA
``GradScaler``). bfloat16 has float32's exponent range, so it needs no loss
scaling, and CPUs with AMX / AVX-512-BF16 run bf16 matrix products several
times faster than float32 ones: this wrapper is the ``--amp`` path of
``tools/train.py`` and ``tools/analysis/benchmark.py`` on such machines.
The model keeps its float32 islands (ITC similarities, distillation
softmaxes, queues, MLM logits) exactly as under ``AmpOptimWrapper``.
"""
import logging
from contextlib import contextmanager
from typing import Optional

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import nn

from albef_mm.registry import OPTIM_WRAPPERS


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU advertises AMX-BF16 or AVX-512-BF16 (Linux
    ``/proc/cpuinfo``); elsewhere bf16 autocast works but is usually not
    faster than float32."""
    try:
        with open('/proc/cpuinfo') as f:
            flags = f.read()
    except OSError:
        return False
    return 'amx_bf16' in flags or 'avx512_bf16' in flags


@OPTIM_WRAPPERS.register_module()
class BF16AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast`` in
    bfloat16; gradients, parameters and optimizer states stay float32.

    Args:
        device_type (str, optional): Autocast device; None takes the device
            of the model's first parameter when the context is entered.
        **kwargs: ``OptimWrapper`` arguments (``optimizer``,
            ``accumulative_counts``, ``clip_grad``).
    """

    def __init__(self, device_type: Optional[str] = None, **kwargs):
        super().__init__(**kwargs)
        self.device_type = device_type

    @contextmanager
    def optim_context(self, model: nn.Module):
        device = self.device_type
        if device is None:
            param = next(model.parameters(), None)
            device = 'cpu' if param is None else param.device.type
        with super().optim_context(model), torch.autocast(
                device_type=device, dtype=torch.bfloat16):
            yield


def use_mixed_precision(optim_wrapper: dict, device: str) -> dict:
    """Switch an ``optim_wrapper`` config to mixed precision on ``device``
    (the ``--amp`` of ``tools/train.py`` and ``benchmark.py``), in place.

    CUDA: MMEngine's ``AmpOptimWrapper``, bfloat16 where the GPU supports
    it, else float16 with a dynamic loss scale (a ``dtype`` / ``loss_scale``
    the config sets is kept). Any other device: ``BF16AutocastOptimWrapper``
    (``AmpOptimWrapper`` asserts a GPU; bf16 needs no loss scaler), with a
    warning on a CPU without AMX / AVX-512-BF16, where bf16 is slow.

    Returns:
        dict: ``optim_wrapper``.
    """
    if device.startswith('cuda'):
        dtype = 'bfloat16' if torch.cuda.is_bf16_supported() else 'float16'
        optim_wrapper['type'] = 'AmpOptimWrapper'
        optim_wrapper.setdefault('dtype', dtype)
        if optim_wrapper['dtype'] == 'float16':
            optim_wrapper.setdefault('loss_scale', 'dynamic')
        return optim_wrapper
    optim_wrapper['type'] = 'BF16AutocastOptimWrapper'
    if device.startswith('cpu') and not cpu_has_fast_bf16():
        print_log('mixed precision on a CPU without AMX / AVX-512-BF16: bf16 '
                  'autocast runs, but is usually slower than float32',
                  logger='current', level=logging.WARNING)
    return optim_wrapper
