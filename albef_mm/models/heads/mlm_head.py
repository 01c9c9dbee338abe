"""Masked language modelling head with momentum distillation (§2.5)."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from albef_mm.registry import MODELS
from ..layers import init_bert_weights
from .fp32 import fp32_island


class MLMPredictions(nn.Module):
    """HF ``cls.predictions``: dense + GELU + LayerNorm, then a decoder whose
    weight is tied to the word embeddings and whose bias is ``bias``."""

    def __init__(self, hidden_size: int, vocab_size: int, eps: float):
        super().__init__()
        self.transform = nn.Module()
        self.transform.dense = nn.Linear(hidden_size, hidden_size)
        self.transform.LayerNorm = nn.LayerNorm(hidden_size, eps=eps)
        self.decoder = nn.Linear(hidden_size, vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        self.decoder.bias = self.bias

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.transform.dense(hidden))
        return self.decoder(self.transform.LayerNorm(h))


@MODELS.register_module()
class MLMHead(BaseModule):
    """Token masking, vocabulary logits and the distilled MLM loss.

    Masking (per token, independent Bernoulli): select with
    ``mask_prob``, never ``[PAD]`` or ``[CLS]``; of the selected, 80 % become
    ``[MASK]``, half of the rest a random id from the whole vocabulary, the
    rest stay. The draws are made in the original's order
    (``bernoulli(p)``, ``bernoulli(0.8)``, ``bernoulli(0.5)``, ``randint``)
    so a seeded CPU run replays them.

    Loss: ``(1 - alpha) * CE(labels, z) + alpha * soft CE(softmax(z_m), z)``,
    both averaged over masked positions.

    Mixed precision: the vocabulary projection runs in the autocast dtype
    but :meth:`forward` returns float32 logits, so the loss and the
    distillation softmax over the vocabulary are float32. Masking uses
    ``masked_fill`` / ``where`` (no boolean indexing, no host-device sync).

    Only masked positions enter the loss, so :meth:`select_labelled` can
    drop the others before the vocabulary projection (the same loss and
    gradients for ~1/7 of the projection's work). Sizing that selection
    needs the number of masked tokens on the host: a free read on a CPU,
    a synchronisation on an accelerator, hence ``logits_at_labels_only``.

    Args:
        hidden_size (int): Width (768).
        vocab_size (int): Vocabulary (30522).
        layer_norm_eps (float): LayerNorm epsilon.
        mask_prob (float): Selection probability (0.15).
        pad_token_id (int): ``[PAD]`` id (0).
        cls_token_id (int): ``[CLS]`` id (101).
        mask_token_id (int): ``[MASK]`` id (103).
        init_std (float): Std of the random init.
        logits_at_labels_only (bool, optional): Project only the masked
            positions onto the vocabulary. ``None`` (default): on CPU
            tensors only, where it costs no synchronisation.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self, hidden_size: int = 768, vocab_size: int = 30522,
                 layer_norm_eps: float = 1e-12, mask_prob: float = 0.15,
                 pad_token_id: int = 0, cls_token_id: int = 101,
                 mask_token_id: int = 103, init_std: float = 0.02,
                 logits_at_labels_only: Optional[bool] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.predictions = MLMPredictions(hidden_size, vocab_size,
                                          layer_norm_eps)
        self.vocab_size = vocab_size
        self.mask_prob = mask_prob
        self.pad_token_id = pad_token_id
        self.cls_token_id = cls_token_id
        self.mask_token_id = mask_token_id
        self.logits_at_labels_only = logits_at_labels_only
        init_bert_weights(self, init_std)

    def tie_weights(self, word_embeddings: nn.Embedding) -> None:
        """Share the decoder weight with the text backbone's embeddings."""
        if word_embeddings.weight.shape != \
                self.predictions.decoder.weight.shape:
            raise ValueError(
                'MLM decoder and word embeddings differ in shape: '
                f'{tuple(self.predictions.decoder.weight.shape)} vs '
                f'{tuple(word_embeddings.weight.shape)} (vocab_size/'
                'hidden_size of the text backbone and MLM head must agree)')
        self.predictions.decoder.weight = word_embeddings.weight

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits ``[..., vocab_size]``, float32."""
        return self.predictions(hidden).float()

    def select_labelled(self, labels: torch.Tensor,
                        *hiddens: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Keep only the labelled (masked) positions, if enabled.

        Args:
            labels: ``[B, L]``, -100 where not masked.
            *hiddens: ``[B, L, D]`` states aligned with ``labels``.

        Returns:
            ``(labels, *hiddens)``: unchanged, or flattened to the ``N``
            labelled positions (``[N]`` and ``[N, D]``), in row-major order.
        """
        enabled = self.logits_at_labels_only
        if enabled is None:
            enabled = labels.device.type == 'cpu'
        if not enabled:
            return (labels, *hiddens)
        flat = labels.reshape(-1)
        index = (flat != -100).nonzero().squeeze(1)
        return (flat.index_select(0, index),
                *(h.reshape(-1, h.size(-1)).index_select(0, index)
                  for h in hiddens))

    def mask_tokens(self, input_ids: torch.Tensor,
                    generator: Optional[torch.Generator] = None
                    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(masked_ids, labels)``; labels are -100 where not
        masked. ``input_ids`` is not modified."""
        input_ids = input_ids.clone()
        labels = input_ids.clone()
        shape, device = input_ids.shape, input_ids.device
        masked = torch.bernoulli(
            torch.full(shape, self.mask_prob, device=device),
            generator=generator).bool()
        masked &= input_ids != self.pad_token_id
        masked &= input_ids != self.cls_token_id
        labels.masked_fill_(~masked, -100)
        replaced = torch.bernoulli(
            torch.full(shape, 0.8, device=device),
            generator=generator).bool() & masked
        input_ids.masked_fill_(replaced, self.mask_token_id)
        randomised = torch.bernoulli(
            torch.full(shape, 0.5, device=device),
            generator=generator).bool() & masked & ~replaced
        random_words = torch.randint(self.vocab_size, shape, device=device,
                                     generator=generator)
        input_ids = torch.where(randomised, random_words, input_ids)
        return input_ids, labels

    def loss(self, logits: torch.Tensor, labels: torch.Tensor,
             soft_labels: Optional[torch.Tensor] = None,
             alpha: float = 0.0) -> torch.Tensor:
        """Hard CE over labelled positions, mixed with the soft CE.

        A batch without any masked token gives 0 instead of the original's
        NaN. Averages use sums and counts (no boolean indexing, so no
        host-device sync).
        """
        with fp32_island(logits):
            logits = logits.float()
            keep = (labels != -100).to(logits.dtype)
            count = keep.sum().clamp(min=1)
            hard = F.cross_entropy(logits.view(-1, logits.size(-1)),
                                   labels.view(-1), ignore_index=-100,
                                   reduction='none').view_as(keep)
            loss = (hard * keep).sum() / count
            if soft_labels is not None:
                soft = -torch.sum(F.log_softmax(logits, dim=-1) *
                                  soft_labels.float(), dim=-1)
                loss = (1 - alpha) * loss + \
                    alpha * (soft * keep).sum() / count
        return loss
