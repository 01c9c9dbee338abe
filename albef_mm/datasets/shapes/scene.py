"""Scenes of the generated *Shapes* benchmark: sampling and rendering.

A scene is 1-3 coloured shapes, each in its own slot (left, right, top,
bottom, center), on a noisy grey background. Slots and radii are chosen so
shapes never overlap or leave the image.
"""
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image, ImageDraw

COLORS: Dict[str, Tuple[int, int, int]] = {
    'red': (220, 40, 40),
    'green': (40, 175, 60),
    'blue': (45, 85, 235),
    'yellow': (240, 220, 40),
    'purple': (150, 60, 205),
    'orange': (250, 140, 30),
    'white': (245, 245, 245),
}
SHAPES = ('circle', 'square', 'triangle', 'cross')
SIZES = ('small', 'large')
# Slot centres as fractions of the image side (x, y).
POSITIONS: Dict[str, Tuple[float, float]] = {
    'left': (0.18, 0.5),
    'right': (0.82, 0.5),
    'top': (0.5, 0.18),
    'bottom': (0.5, 0.82),
    'center': (0.5, 0.5),
}
RADIUS = {'small': 0.07, 'large': 0.12}  # fraction of the image side
JITTER = 0.02  # max centre offset, fraction of the image side
MAX_OBJECTS = 3


def sample_scene(rng: np.random.Generator, image_size: int,
                 num_objects: int = 0) -> List[dict]:
    """Draw the objects of one scene.

    Args:
        rng (np.random.Generator): Random generator.
        image_size (int): Side of the square image in pixels.
        num_objects (int): Number of shapes; 0 draws 1-3 uniformly.

    Returns:
        list[dict]: One dict per object with ``color``, ``shape``, ``size``,
        ``position``, ``center`` (x, y floats), ``radius`` (float) and
        ``bbox`` ([x, y, w, h] ints, the drawn extent).
    """
    n = num_objects or int(rng.integers(1, MAX_OBJECTS + 1))
    slots = rng.choice(list(POSITIONS), size=n, replace=False)
    objects = []
    for slot in slots:
        size = SIZES[int(rng.integers(len(SIZES)))]
        fx, fy = POSITIONS[str(slot)]
        jx, jy = rng.uniform(-JITTER, JITTER, size=2)
        cx, cy = (fx + jx) * image_size, (fy + jy) * image_size
        r = RADIUS[size] * image_size
        obj = dict(
            color=list(COLORS)[int(rng.integers(len(COLORS)))],
            shape=SHAPES[int(rng.integers(len(SHAPES)))],
            size=size, position=str(slot), center=(cx, cy), radius=r)
        obj['bbox'] = _bbox(cx, cy, r)
        objects.append(obj)
    return objects


def _bbox(cx: float, cy: float, r: float) -> List[int]:
    x0, y0 = int(round(cx - r)), int(round(cy - r))
    x1, y1 = int(round(cx + r)), int(round(cy + r))
    return [x0, y0, x1 - x0 + 1, y1 - y0 + 1]


def _polygon(shape: str, x0: int, y0: int, x1: int, y1: int) -> list:
    if shape == 'triangle':
        return [((x0 + x1) / 2, y0), (x1, y1), (x0, y1)]
    # cross: a plus sign with arms one third of the box wide
    t0 = x0 + (x1 - x0) / 3
    t1 = x0 + 2 * (x1 - x0) / 3
    u0 = y0 + (y1 - y0) / 3
    u1 = y0 + 2 * (y1 - y0) / 3
    return [(t0, y0), (t1, y0), (t1, u0), (x1, u0), (x1, u1), (t1, u1),
            (t1, y1), (t0, y1), (t0, u1), (x0, u1), (x0, u0), (t0, u0)]


def render_scene(objects: List[dict], rng: np.random.Generator,
                 image_size: int) -> np.ndarray:
    """Draw the objects on a noisy background.

    Args:
        objects (list[dict]): Output of :func:`sample_scene`.
        rng (np.random.Generator): Random generator (background).
        image_size (int): Side of the square image in pixels.

    Returns:
        np.ndarray: uint8 HWC RGB image.
    """
    base = rng.integers(50, 111) + rng.integers(-8, 9, size=3)
    noise = rng.normal(0.0, 9.0, size=(image_size, image_size, 3))
    bg = np.clip(base[None, None, :] + noise, 0, 255).astype(np.uint8)
    pil = Image.fromarray(bg)
    draw = ImageDraw.Draw(pil)
    for obj in objects:
        x, y, w, h = obj['bbox']
        box = (x, y, x + w - 1, y + h - 1)
        fill = COLORS[obj['color']]
        if obj['shape'] == 'circle':
            draw.ellipse(box, fill=fill)
        elif obj['shape'] == 'square':
            draw.rectangle(box, fill=fill)
        else:
            draw.polygon(_polygon(obj['shape'], *box), fill=fill)
    return np.asarray(pil)
