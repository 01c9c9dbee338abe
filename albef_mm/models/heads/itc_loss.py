"""What trains with the ITC features (ALBEF §2.3, retrieval variant §2.7):
the contrastive loss against momentum features + feature queues, with
momentum distillation. Held only by the contrastive trainers; the
features themselves come from :class:`~.itc_head.ITCHead`."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather, get_world_size
from mmengine.model import BaseModule

from albef_mm.registry import MODELS
from .fp32 import fp32_island

# Keys of a model's ``itc_head`` config that configure the training unit
# (the rest configure the feature unit, ``ITCHead``).
LOSS_KEYS = ('queue_size', 'use_idx_queue', 'distill')


def split_itc_cfg(cfg: dict) -> Tuple[dict, dict]:
    """A model's ``itc_head`` config → ``(ITCHead config, ITCLoss
    config)``: ``queue_size``, ``use_idx_queue`` and ``distill`` go to the
    loss, ``embed_dim`` to both, everything else to the features."""
    features = {k: v for k, v in cfg.items() if k not in LOSS_KEYS}
    loss = {k: cfg[k] for k in LOSS_KEYS if k in cfg}
    loss = dict(type='ITCLoss', embed_dim=features.get('embed_dim', 256),
                **loss)
    return features, loss


@MODELS.register_module()
class ITCLoss(BaseModule):
    """ITC loss with feature queues and momentum distillation.

    Similarities contrast online features with the *momentum* features of
    the batch followed by the queue; targets are
    ``alpha * softmax(momentum sims) + (1 - alpha) * hard`` where ``hard``
    is the identity (pre-training) or, with ``use_idx_queue``, the
    row-normalised "same image index" matrix over batch + queue (retrieval).
    Everything here is float32 (autocast disabled), also the queues.

    Buffers: ``image_queue``/``text_queue`` ``[embed_dim, queue_size]``
    (L2-normalised Gaussian noise at start), ``queue_ptr`` ``[1]`` and, with
    ``use_idx_queue``, ``idx_queue`` ``[1, queue_size]`` filled with -100.

    Args:
        embed_dim (int): Contrastive embedding width (256).
        queue_size (int): Queue length (65536).
        use_idx_queue (bool): Image-index-aware targets (retrieval).
        distill (bool): Mix in momentum soft targets.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self, embed_dim: int = 256, queue_size: int = 65536,
                 use_idx_queue: bool = False, distill: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.queue_size = queue_size
        self.use_idx_queue = use_idx_queue
        self.distill = distill
        self.register_buffer(
            'image_queue',
            F.normalize(torch.randn(embed_dim, queue_size), dim=0))
        self.register_buffer(
            'text_queue',
            F.normalize(torch.randn(embed_dim, queue_size), dim=0))
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))
        if use_idx_queue:
            self.register_buffer(
                'idx_queue', torch.full((1, queue_size), -100,
                                        dtype=torch.long))

    def hard_targets(self, sim: torch.Tensor,
                     idx: Optional[torch.Tensor]) -> torch.Tensor:
        """Identity targets, or same-image targets over batch + idx queue."""
        if not self.use_idx_queue:
            targets = torch.zeros_like(sim)
            targets.fill_diagonal_(1)
            return targets
        if idx is None:
            raise ValueError('ITCLoss(use_idx_queue=True) needs the image '
                             'index of every sample (data_sample.image_idx)')
        idx = idx.view(-1, 1)
        idx_all = torch.cat([idx.t(), self.idx_queue.clone().detach()], dim=1)
        pos = torch.eq(idx, idx_all).to(sim.dtype)
        return pos / pos.sum(1, keepdim=True)

    def loss(self, image_feat: torch.Tensor, text_feat: torch.Tensor,
             image_feat_m: torch.Tensor, text_feat_m: torch.Tensor,
             temp: torch.Tensor, alpha: float,
             idx: Optional[torch.Tensor] = None) -> dict:
        """ITC loss and the similarities the ITM head samples from.

        Args:
            image_feat, text_feat: Normalised online features ``[B, D]``.
            image_feat_m, text_feat_m: Normalised momentum features.
            temp: The temperature (``ITCHead.temp``; gets the gradient).
            alpha: Distillation weight.
            idx: ``[B]`` image indices (``use_idx_queue``).
        Returns:
            dict: ``loss_itc``, ``sim_i2t``, ``sim_t2i`` (``[B, B + Q]``,
            divided by the temperature) and, for inspection,
            ``targets_hard``, ``targets_i2t``, ``targets_t2i``.
        """
        with fp32_island(image_feat):
            image_feat, text_feat = image_feat.float(), text_feat.float()
            image_feat_m = image_feat_m.float()
            text_feat_m = text_feat_m.float()
            temp = temp.float()
            with torch.no_grad():
                image_feat_all = torch.cat(
                    [image_feat_m.t(),
                     self.image_queue.clone().detach().float()], dim=1)
                text_feat_all = torch.cat(
                    [text_feat_m.t(),
                     self.text_queue.clone().detach().float()], dim=1)
            sim_i2t = image_feat @ text_feat_all / temp
            sim_t2i = text_feat @ image_feat_all / temp
            with torch.no_grad():
                hard = self.hard_targets(sim_i2t, idx)
                if self.distill:
                    sim_i2t_m = image_feat_m @ text_feat_all / temp
                    sim_t2i_m = text_feat_m @ image_feat_all / temp
                    targets_i2t = alpha * F.softmax(sim_i2t_m, dim=1) + \
                        (1 - alpha) * hard
                    targets_t2i = alpha * F.softmax(sim_t2i_m, dim=1) + \
                        (1 - alpha) * hard
                else:
                    targets_i2t = targets_t2i = hard
            loss_i2t = -torch.sum(
                F.log_softmax(sim_i2t, dim=1) * targets_i2t, dim=1).mean()
            loss_t2i = -torch.sum(
                F.log_softmax(sim_t2i, dim=1) * targets_t2i, dim=1).mean()
        return dict(loss_itc=(loss_i2t + loss_t2i) / 2, sim_i2t=sim_i2t,
                    sim_t2i=sim_t2i, targets_hard=hard,
                    targets_i2t=targets_i2t, targets_t2i=targets_t2i)

    def check_queue_size(self, global_batch: int) -> None:
        """Raise unless the global batch divides the queue length."""
        if self.queue_size % global_batch:
            raise ValueError(
                f'queue_size={self.queue_size} is not a multiple of the '
                f'global batch {global_batch}: choose a batch size and GPU '
                'count whose product divides the queue size (ALBEF: 8 GPUs x '
                '64 = 512 divides 65536).')

    @torch.no_grad()
    def enqueue(self, image_feat: torch.Tensor, text_feat: torch.Tensor,
                idx: Optional[torch.Tensor] = None) -> None:
        """Write the momentum features of all ranks (rank order) at the
        queue pointer and advance it (in the queues' dtype, float32: the
        writes never go through autocast)."""
        if get_world_size() > 1:
            image_feat = torch.cat(all_gather(image_feat.contiguous()))
            text_feat = torch.cat(all_gather(text_feat.contiguous()))
            if idx is not None:
                idx = torch.cat(all_gather(idx.contiguous()))
        batch = image_feat.size(0)
        self.check_queue_size(batch)
        # Modular columns: also correct when the pointer is not a multiple
        # of the batch (a run resumed with another GPU count). Computed on
        # the device, so the enqueue never waits for the GPU.
        cols = (self.queue_ptr + torch.arange(
            batch, device=self.queue_ptr.device)) % self.queue_size
        self.image_queue.index_copy_(
            1, cols, image_feat.T.to(self.image_queue.dtype))
        self.text_queue.index_copy_(
            1, cols, text_feat.T.to(self.text_queue.dtype))
        if self.use_idx_queue:
            if idx is None:
                raise ValueError('enqueue needs the image indices')
            self.idx_queue.index_copy_(
                1, cols, idx.view(1, -1).to(self.idx_queue.dtype))
        self.queue_ptr.copy_((self.queue_ptr + batch) % self.queue_size)
