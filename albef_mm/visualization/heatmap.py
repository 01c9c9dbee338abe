"""Heat-map overlays and the grounding figure (image, expression map with
the chosen box, one panel per word)."""
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F


def upsample_map(heatmap, height: int, width: int) -> np.ndarray:
    """Bicubic upsampling of a patch-grid map ``[h, w]`` to the image size
    (as the grounding metric does), returned as float32 numpy."""
    heat = torch.as_tensor(heatmap, dtype=torch.float32).detach().cpu()
    heat = F.interpolate(heat[None, None], size=(int(height), int(width)),
                         mode='bicubic', align_corners=False)[0, 0]
    return heat.numpy()


def normalize_map(heatmap: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1] (all zeros for a constant map)."""
    heat = np.asarray(heatmap, dtype=np.float32)
    heat = heat - heat.min()
    peak = heat.max()
    return heat / peak if peak > 0 else heat


def overlay_heatmap(image: np.ndarray, heatmap, cmap: str = 'jet',
                    gamma: float = 0.7, blur_sigma: float = 0.0
                    ) -> np.ndarray:
    """Blend a heat map over an RGB image.

    The map is upsampled bicubically to the image size, optionally blurred,
    scaled to [0, 1] and coloured with ``cmap``; each pixel mixes image and
    colour with weight ``a ** gamma`` (``a`` the scaled map), the overlay of
    ALBEF's visualisation notebook.

    Args:
        image: uint8 ``[H, W, 3]`` RGB (or float in [0, 1]).
        heatmap: ``[h, w]`` map (tensor or array), any non-negative scale.
        cmap: Matplotlib colormap name.
        gamma: Exponent of the blending weight.
        blur_sigma: Gaussian blur in pixels after upsampling (0: none).
    Returns:
        float32 ``[H, W, 3]`` RGB in [0, 1].
    """
    from matplotlib import colormaps
    img = np.asarray(image)
    img = img.astype(np.float32) / 255. if img.dtype == np.uint8 else \
        img.astype(np.float32)
    heat = upsample_map(heatmap, img.shape[0], img.shape[1])
    if blur_sigma > 0:
        import cv2
        heat = cv2.GaussianBlur(heat, (0, 0), blur_sigma)
    weight = normalize_map(heat)[..., None] ** gamma
    color = colormaps[cmap](normalize_map(heat))[..., :3].astype(np.float32)
    return (1 - weight) * img + weight * color


def peak_location(heatmap, height: int, width: int):
    """``(x, y)`` pixel of the maximum of the upsampled map."""
    heat = upsample_map(heatmap, height, width)
    y, x = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return int(x), int(y)


def draw_grounding(image: np.ndarray, heatmap, expression: str,
                   token_maps=None, words: Optional[Sequence[str]] = None,
                   box: Optional[Sequence[float]] = None,
                   gt_box: Optional[Sequence[float]] = None,
                   panel_size: float = 2.6):
    """The grounding figure: the image, the expression's heat map (with the
    selected proposal ``box`` in green and ``gt_box`` dashed white, xywh)
    and one panel per word (``token_maps[i]`` for ``words[i]``).

    Returns:
        matplotlib ``Figure`` (save it with ``fig.savefig``).
    """
    import matplotlib
    matplotlib.use('Agg', force=False)
    from matplotlib import pyplot as plt
    from matplotlib.patches import Rectangle
    words = list(words or [])
    n = 2 + len(words)
    cols = min(n, 6)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, squeeze=False,
                             figsize=(panel_size * cols,
                                      panel_size * rows + 0.3))
    panels = [(image, 'image'), (overlay_heatmap(image, heatmap),
                                 f'"{expression}"')]
    for i, word in enumerate(words):
        panels.append((overlay_heatmap(image, token_maps[i]), word))
    for ax, (img, title) in zip(axes.flat, panels):
        ax.imshow(img)
        ax.set_title(title, fontsize=9)
    for b, style in ((gt_box, dict(edgecolor='white', linestyle='--')),
                     (box, dict(edgecolor='lime'))):
        if b is not None:
            axes.flat[1].add_patch(Rectangle(
                (b[0] - 0.5, b[1] - 0.5), b[2], b[3], fill=False,
                linewidth=2, **style))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        if not ax.images:
            ax.axis('off')
    fig.tight_layout()
    return fig
