"""Visualisation helpers (heat-map overlays, the grounding figure)."""
from .heatmap import (draw_grounding, normalize_map, overlay_heatmap,
                      peak_location, upsample_map)

__all__ = ['draw_grounding', 'normalize_map', 'overlay_heatmap',
           'peak_location', 'upsample_map']
