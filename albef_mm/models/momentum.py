"""Online/momentum parameter pairs and ALBEF's EMA update."""
import copy
from typing import Iterable, List, Tuple

import torch
from torch import nn


def make_momentum_copy(module: nn.Module) -> nn.Module:
    """A frozen deep copy of ``module`` (the initial momentum model)."""
    module_m = copy.deepcopy(module)
    for p in module_m.parameters():
        p.requires_grad_(False)
    return module_m


class MomentumPairs:
    """The unique (online, momentum) parameter pairs of a model.

    Pairs are collected by parameter name inside each (online, momentum)
    module pair; a parameter shared by several modules (the MLM decoder tied
    to the word embeddings) is updated once, as ``nn.Module.parameters()``
    does in the original code.

    Args:
        module_pairs: ``(online, momentum)`` modules with identical structure.
    """

    def __init__(self, module_pairs: Iterable[Tuple[nn.Module, nn.Module]]):
        self.online: List[nn.Parameter] = []
        self.momentum: List[nn.Parameter] = []
        seen = set()
        for online, momentum in module_pairs:
            params_m = dict(momentum.named_parameters())
            for name, p in online.named_parameters():
                if id(p) in seen:
                    continue
                if name not in params_m:
                    raise KeyError(f'momentum copy has no parameter {name}')
                p_m = params_m[name]
                if p_m.shape != p.shape:
                    raise ValueError(f'momentum parameter {name} has shape '
                                     f'{tuple(p_m.shape)}, online '
                                     f'{tuple(p.shape)}')
                seen.add(id(p))
                self.online.append(p)
                self.momentum.append(p_m)

    def __len__(self) -> int:
        return len(self.online)

    @torch.no_grad()
    def copy_params(self) -> None:
        """Set every momentum parameter to its online value."""
        for p, p_m in zip(self.online, self.momentum):
            p_m.data.copy_(p.data)
            p_m.requires_grad_(False)

    @torch.no_grad()
    def update(self, momentum: float) -> None:
        """``p_m ← momentum·p_m + (1 − momentum)·p`` for every pair."""
        online = [p.data for p in self.online]
        target = [p.data for p in self.momentum]
        torch._foreach_mul_(target, momentum)
        torch._foreach_add_(target, online, alpha=1.0 - momentum)
