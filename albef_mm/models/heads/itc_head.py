"""The ITC feature unit of ALBEF (§2.3): the two projections into the
contrastive space, the learnable temperature and, for the models that
train with momentum distillation, the projections' momentum copies. What
trains with these features (queues, loss, distillation) is
:class:`~.itc_loss.ITCLoss`."""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from albef_mm.registry import MODELS
from ..momentum import make_momentum_copy
from .fp32 import fp32_island


@MODELS.register_module()
class ITCHead(BaseModule):
    """Projections and temperature of ALBEF's image-text contrast.

    Every model that needs ITC features holds one as ``itc_head``: the
    contrastive trainers (pre-training, retrieval, grounding), the
    zero-shot classifier and NLVR2 text assignment (``momentum=False``).

    Mixed precision: the projections run in the autocast dtype; the
    normalisation is float32 (autocast disabled) and the features it
    returns are float32.

    Args:
        vision_width (int): Width of the image CLS token (768).
        text_width (int): Width of the text CLS token (768).
        embed_dim (int): Contrastive embedding width (256).
        temp (float): Initial learnable temperature (0.07).
        clamp_temp (bool): :meth:`clamp_temperature` clamps the temperature
            in place to ``temp_range`` (pre-training only in ALBEF).
        temp_range (tuple[float, float]): Clamp bounds (0.001, 0.5).
        momentum (bool): Build the frozen momentum copies
            ``vision_proj_m`` / ``text_proj_m`` (models with a momentum
            branch).
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self, vision_width: int = 768, text_width: int = 768,
                 embed_dim: int = 256, temp: float = 0.07,
                 clamp_temp: bool = True,
                 temp_range: Tuple[float, float] = (0.001, 0.5),
                 momentum: bool = True, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.embed_dim = embed_dim
        self.vision_proj = nn.Linear(vision_width, embed_dim)
        self.text_proj = nn.Linear(text_width, embed_dim)
        self.temp = nn.Parameter(torch.tensor(float(temp)))
        self.clamp_temp = clamp_temp
        self.temp_range = tuple(temp_range)
        self.has_momentum = momentum
        if momentum:
            self.vision_proj_m = make_momentum_copy(self.vision_proj)
            self.text_proj_m = make_momentum_copy(self.text_proj)

    def momentum_module_pairs(self) -> List[Tuple[nn.Module, nn.Module]]:
        """The (online, momentum) projection pairs (none without
        ``momentum``)."""
        if not self.has_momentum:
            return []
        return [(self.vision_proj, self.vision_proj_m),
                (self.text_proj, self.text_proj_m)]

    @torch.no_grad()
    def clamp_temperature(self) -> None:
        """Clamp the temperature to ``temp_range`` (if ``clamp_temp``)."""
        if self.clamp_temp:
            self.temp.clamp_(*self.temp_range)

    def image_feat(self, cls: torch.Tensor, momentum: bool = False):
        """L2-normalised float32 projection of the image CLS token."""
        self._check_momentum(momentum)
        proj = self.vision_proj_m if momentum else self.vision_proj
        return self._normalize(proj(cls))

    def text_feat(self, cls: torch.Tensor, momentum: bool = False):
        """L2-normalised float32 projection of the text CLS token."""
        self._check_momentum(momentum)
        proj = self.text_proj_m if momentum else self.text_proj
        return self._normalize(proj(cls))

    def _check_momentum(self, momentum: bool) -> None:
        if momentum and not self.has_momentum:
            raise RuntimeError('this ITCHead was built with momentum=False: '
                               'it has no momentum projections')

    @staticmethod
    def _normalize(x: torch.Tensor) -> torch.Tensor:
        with fp32_island(x):
            return F.normalize(x.float(), dim=-1)
