"""Image-text contrastive head with momentum features, queues and
momentum distillation (ALBEF §2.3, retrieval variant §2.7)."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather, get_world_size
from mmengine.model import BaseModule
from torch import nn

from albef_mm.registry import MODELS
from ..momentum import make_momentum_copy
from .fp32 import fp32_island


@MODELS.register_module()
class ITCHead(BaseModule):
    """Projections, temperature and feature queues of ALBEF's ITC loss.

    Similarities contrast online features with the *momentum* features of
    the batch followed by the queue; targets are
    ``alpha * softmax(momentum sims) + (1 - alpha) * hard`` where ``hard``
    is the identity (pre-training) or, with ``use_idx_queue``, the
    row-normalised "same image index" matrix over batch + queue (retrieval).

    Mixed precision: the projections run in the autocast dtype; the
    normalisation, the similarities, the targets, the loss and the queues
    are float32 (autocast disabled), and the features it returns are
    float32.

    Buffers: ``image_queue``/``text_queue`` ``[embed_dim, queue_size]``
    (L2-normalised Gaussian noise at start), ``queue_ptr`` ``[1]`` and, with
    ``use_idx_queue``, ``idx_queue`` ``[1, queue_size]`` filled with -100.

    Args:
        vision_width (int): Width of the image CLS token (768).
        text_width (int): Width of the text CLS token (768).
        embed_dim (int): Contrastive embedding width (256).
        temp (float): Initial learnable temperature (0.07).
        queue_size (int): Queue length (65536).
        clamp_temp (bool): Clamp the temperature in place to ``temp_range``
            before each loss (pre-training only in ALBEF).
        temp_range (tuple[float, float]): Clamp bounds (0.001, 0.5).
        use_idx_queue (bool): Image-index-aware targets (retrieval).
        distill (bool): Mix in momentum soft targets.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self, vision_width: int = 768, text_width: int = 768,
                 embed_dim: int = 256, temp: float = 0.07,
                 queue_size: int = 65536, clamp_temp: bool = True,
                 temp_range: Tuple[float, float] = (0.001, 0.5),
                 use_idx_queue: bool = False, distill: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.vision_proj = nn.Linear(vision_width, embed_dim)
        self.text_proj = nn.Linear(text_width, embed_dim)
        self.vision_proj_m = make_momentum_copy(self.vision_proj)
        self.text_proj_m = make_momentum_copy(self.text_proj)
        self.temp = nn.Parameter(torch.tensor(float(temp)))
        self.queue_size = queue_size
        self.clamp_temp = clamp_temp
        self.temp_range = tuple(temp_range)
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

    def momentum_pairs(self):
        return [(self.vision_proj, self.vision_proj_m),
                (self.text_proj, self.text_proj_m)]

    @torch.no_grad()
    def clamp_temperature(self) -> None:
        if self.clamp_temp:
            self.temp.clamp_(*self.temp_range)

    def image_feat(self, cls: torch.Tensor, momentum: bool = False):
        """L2-normalised float32 projection of the image CLS token."""
        proj = self.vision_proj_m if momentum else self.vision_proj
        return self._normalize(proj(cls))

    def text_feat(self, cls: torch.Tensor, momentum: bool = False):
        """L2-normalised float32 projection of the text CLS token."""
        proj = self.text_proj_m if momentum else self.text_proj
        return self._normalize(proj(cls))

    @staticmethod
    def _normalize(x: torch.Tensor) -> torch.Tensor:
        with fp32_island(x):
            return F.normalize(x.float(), dim=-1)

    def hard_targets(self, sim: torch.Tensor,
                     idx: Optional[torch.Tensor]) -> torch.Tensor:
        """Identity targets, or same-image targets over batch + idx queue."""
        if not self.use_idx_queue:
            targets = torch.zeros_like(sim)
            targets.fill_diagonal_(1)
            return targets
        if idx is None:
            raise ValueError('ITCHead(use_idx_queue=True) needs the image '
                             'index of every sample (data_sample.image_idx)')
        idx = idx.view(-1, 1)
        idx_all = torch.cat([idx.t(), self.idx_queue.clone().detach()], dim=1)
        pos = torch.eq(idx, idx_all).to(sim.dtype)
        return pos / pos.sum(1, keepdim=True)

    def loss(self, image_feat: torch.Tensor, text_feat: torch.Tensor,
             image_feat_m: torch.Tensor, text_feat_m: torch.Tensor,
             alpha: float, idx: Optional[torch.Tensor] = None) -> dict:
        """ITC loss and the similarities the ITM head samples from.

        Everything here is float32, also under autocast.

        Returns:
            dict: ``loss_itc``, ``sim_i2t``, ``sim_t2i`` (``[B, B + Q]``,
            divided by the temperature) and, for inspection,
            ``targets_hard``, ``targets_i2t``, ``targets_t2i``.
        """
        with fp32_island(image_feat):
            image_feat, text_feat = image_feat.float(), text_feat.float()
            image_feat_m = image_feat_m.float()
            text_feat_m = text_feat_m.float()
            temp = self.temp.float()
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
