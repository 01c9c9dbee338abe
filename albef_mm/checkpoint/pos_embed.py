"""Bicubic resizing of ViT position embeddings between resolutions."""
import math

import torch
from timm.layers import resample_abs_pos_embed


def interpolate_pos_embed(pos_embed: torch.Tensor,
                          num_patches: int) -> torch.Tensor:
    """Resize ``[1, extra + S_old², D]`` to ``[1, extra + num_patches, D]``.

    The extra (CLS) row is kept; the ``S_old × S_old`` grid is resized
    bicubically (``align_corners=False``, no antialiasing, in float32) to
    ``S_new × S_new`` by timm's ``resample_abs_pos_embed``, as ALBEF's
    ``interpolate_pos_embed``. Returned unchanged when the grids match.
    """
    if pos_embed.dim() != 3 or pos_embed.size(0) != 1:
        raise ValueError('pos_embed must have shape [1, tokens, dim], got '
                         f'{tuple(pos_embed.shape)}')
    new_size = int(round(math.sqrt(num_patches)))
    if new_size * new_size != num_patches:
        raise ValueError(f'num_patches={num_patches} is not a square grid')
    total = pos_embed.size(1)
    # The number of extra tokens is not stored; ALBEF has exactly one (CLS).
    old_size = int(math.isqrt(total - 1))
    if old_size * old_size != total - 1:
        raise ValueError(f'pos_embed with {total} rows is not 1 + a square '
                         'grid')
    # antialias=False: ALBEF's plain bicubic (timm's default antialiases
    # when shrinking).
    return resample_abs_pos_embed(pos_embed, [new_size, new_size],
                                  [old_size, old_size], antialias=False)
