"""Keep one attention module's softmax probabilities and their gradient
(Grad-CAM), for the ViT blocks and the BERT layers alike."""
from typing import Optional

import torch
from torch import nn


class AttentionCapture:
    """Context manager capturing the attention probabilities of ``module``.

    ``module`` is any attention module with a ``fused_attn`` switch whose
    explicit (non-fused) path passes the softmax probabilities through an
    ``attn_drop`` dropout module: timm's ``Attention`` (the ViT blocks) and
    :class:`BertSelfAttention` (text, fusion and decoder layers). timm's own
    ``AttentionExtract`` hooks the same ``attn_drop`` modules.

    While the context is open the module takes its explicit path (SDPA
    otherwise), and a forward pre-hook on ``attn_drop`` keeps the
    probabilities before dropout, of the last call, as
    :attr:`attention_map`; once a backward pass reaches them, their gradient
    lands in :attr:`attention_grad`. On exit - also after an error - the
    hook is removed and the module's switch restored; the captured tensors
    stay with this object (not with the module).

    Example:
        >>> attn = model.neck.layer[2].crossattention.self
        >>> with AttentionCapture(attn) as cap:
        ...     logits = model.itm_logits(image, text, mask)
        ...     grad, = torch.autograd.grad(logits[:, 1].sum(),
        ...                                 cap.attention_map)
    """

    def __init__(self, module: nn.Module):
        if not (hasattr(module, 'fused_attn')
                and isinstance(getattr(module, 'attn_drop', None),
                               nn.Dropout)):
            raise TypeError(
                f'{type(module).__name__} cannot capture attention (needs a '
                '`fused_attn` switch and an `attn_drop` dropout module); pass '
                'the attention module itself, e.g. `layer.crossattention.'
                'self` or `blocks[i].attn`')
        self.module = module
        self.attention_map: Optional[torch.Tensor] = None
        self.attention_grad: Optional[torch.Tensor] = None
        self._handle = None
        self._fused = None

    def __enter__(self) -> 'AttentionCapture':
        self._fused = self.module.fused_attn
        self.module.fused_attn = False
        self._handle = self.module.attn_drop.register_forward_pre_hook(
            self._keep)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()
        self.module.fused_attn = self._fused

    def _keep(self, _module: nn.Module, inputs: tuple) -> None:
        probs = inputs[0]
        self.attention_map = probs
        if probs.requires_grad:
            probs.register_hook(self._keep_grad)

    def _keep_grad(self, grad: torch.Tensor) -> None:
        self.attention_grad = grad
