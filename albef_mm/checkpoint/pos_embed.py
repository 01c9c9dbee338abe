"""Bicubic resizing of ViT position embeddings between resolutions."""
import math

import torch
import torch.nn.functional as F


def interpolate_pos_embed(pos_embed: torch.Tensor,
                          num_patches: int) -> torch.Tensor:
    """Resize ``[1, extra + S_old², D]`` to ``[1, extra + num_patches, D]``.

    The extra (CLS) rows are kept; the ``S_old × S_old`` grid is resized
    bicubically (``align_corners=False``) to ``S_new × S_new``, as ALBEF's
    ``interpolate_pos_embed``. Returned unchanged when the grids match.
    """
    if pos_embed.dim() != 3 or pos_embed.size(0) != 1:
        raise ValueError('pos_embed must have shape [1, tokens, dim], got '
                         f'{tuple(pos_embed.shape)}')
    new_size = int(round(math.sqrt(num_patches)))
    if new_size * new_size != num_patches:
        raise ValueError(f'num_patches={num_patches} is not a square grid')
    total, dim = pos_embed.shape[1:]
    # The number of extra tokens is not stored; ALBEF has exactly one (CLS).
    old_size = int(math.isqrt(total - 1))
    if old_size * old_size != total - 1:
        raise ValueError(f'pos_embed with {total} rows is not 1 + a square '
                         'grid')
    if old_size == new_size:
        return pos_embed
    extra, grid = pos_embed[:, :1], pos_embed[:, 1:]
    grid = grid.reshape(1, old_size, old_size, dim).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=(new_size, new_size),
                         mode='bicubic', align_corners=False)
    grid = grid.to(pos_embed.dtype).permute(0, 2, 3, 1).flatten(1, 2)
    return torch.cat([extra, grid], dim=1)
