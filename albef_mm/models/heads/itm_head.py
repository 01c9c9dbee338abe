"""Image-text matching head with contrastive hard-negative mining (§2.4)."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from albef_mm.registry import MODELS
from .fp32 import fp32_island


@MODELS.register_module()
class ITMHead(BaseModule):
    """Binary matched/unmatched classifier on the fused CLS token.

    Hard negatives come from the *local* batch: for each text one image is
    drawn with probability ``softmax(sim_t2i[b, :B])`` and for each image one
    text ``∝ softmax(sim_i2t[b, :B])``, positives zeroed (the diagonal, or
    every sample of the same image index in retrieval). A row left with no
    valid negative (batch of one, or all samples from one image) falls back
    to a uniform draw over the other samples instead of crashing (the
    original's ``multinomial`` error, ALBEF #18). The sampling weights are
    float32 softmaxes also under autocast, and the draw never waits for
    the device (no host-device sync).

    Args:
        hidden_size (int): Width of the fused CLS token (768).
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self, hidden_size: int = 768,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.fc = nn.Linear(hidden_size, 2)

    def forward(self, fused_cls: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, 2]``; column 1 is "matched"."""
        return self.fc(fused_cls)

    @staticmethod
    def negative_weights(sim: torch.Tensor,
                         idx: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Sampling weights ``[B, B]`` from in-batch similarities ``sim``
        (the first B columns are used), positives zeroed, not renormalised."""
        bs = sim.size(0)
        with torch.no_grad(), fp32_island(sim):
            if idx is None:
                weights = F.softmax(sim[:, :bs].float(), dim=1)
                weights.fill_diagonal_(0)
            else:
                # The original adds 1e-4 before the softmax (a no-op there).
                weights = F.softmax(sim[:, :bs].float() + 1e-4, dim=1)
                idx = idx.view(-1, 1)
                weights = weights.masked_fill(torch.eq(idx, idx.t()), 0)
        return weights

    @staticmethod
    def draw(weights: torch.Tensor,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """One index per row ∝ ``weights``; empty rows fall back to a
        uniform draw over the other columns (over all if B = 1).

        The draw is ``argmax(weights / q)`` with ``q ~ Exp(1)``: the very
        computation (and random-number use) of ``torch.multinomial(w, 1)``,
        so the indices are identical, but without the validity checks that
        make ``multinomial`` copy to the host on a GPU. Valid weights are
        guaranteed here (softmax, and no empty row after the fallback).
        """
        bs = weights.size(0)
        fallback = torch.ones_like(weights)
        if bs > 1:
            fallback.fill_diagonal_(0)
        empty = weights.sum(dim=1, keepdim=True) <= 0
        weights = torch.where(empty, fallback, weights)
        q = torch.empty_like(weights).exponential_(1, generator=generator)
        return (weights / q).argmax(dim=1)

    def sample_negatives(self, sim_i2t: torch.Tensor, sim_t2i: torch.Tensor,
                         idx: Optional[torch.Tensor] = None,
                         generator: Optional[torch.Generator] = None
                         ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(neg_image_for_text, neg_text_for_image)``, each
        ``[B]`` indices into the batch (texts drawn first, as the
        original)."""
        neg_image = self.draw(self.negative_weights(sim_t2i, idx), generator)
        neg_text = self.draw(self.negative_weights(sim_i2t, idx), generator)
        return neg_image, neg_text

    def loss(self, logits: torch.Tensor) -> torch.Tensor:
        """Cross-entropy for ``[3B, 2]`` logits ordered (positives; text +
        negative image; negative text + image)."""
        bs = logits.size(0) // 3
        labels = torch.cat([
            torch.ones(bs, dtype=torch.long, device=logits.device),
            torch.zeros(2 * bs, dtype=torch.long, device=logits.device)
        ])
        return F.cross_entropy(logits, labels)
