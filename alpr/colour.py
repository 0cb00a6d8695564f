"""Which colour of a plate crop to read: its red channel, where red artwork vanishes.

Grey conversion makes red and orange artwork as dark as the ink, so a glyph it touches becomes one
component with it and is lost (Nebraska's state outline runs through the first glyph; Idaho's
and Utah's red bands touch theirs). In the red channel that artwork is as light as the paper,
while dark blue or black glyphs stay dark. Red glyphs fade there instead, so a crop whose glyphs
are red ink (Massachusetts, Alabama) is not read in it.
"""

from __future__ import annotations

import numpy as np
from skimage import transform

from alpr.config import SegmentConfig
from alpr.types import Box


def red_channel(
    plate: np.ndarray,
    shape: tuple[int, int],
    row: list[Box],
    view: np.ndarray | None,
    scale: float,
    config: SegmentConfig,
) -> np.ndarray | None:
    """The crop's red channel resized to `shape` (float, 0..1), or None when it would not help.

    `row` is the best dark-ink row the grey views found, in the coordinates of `view` (the grey
    crop at `scale` working pixels per crop pixel); its darkest pixels tell the glyphs' colour.
    None on a grey crop, when under `config.red_view_share` of the crop is clearly red, or when
    the row's glyphs are red (`config.red_glyph_excess`).
    """
    rgb = np.asarray(plate)
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        return None
    rgb = rgb[..., :3].astype(np.float32)
    if rgb.max(initial=0) > 1.0:
        rgb = rgb / 255.0
    redness = rgb[..., 0] - np.maximum(rgb[..., 1], rgb[..., 2])
    if float((redness > config.red_excess).mean()) < config.red_view_share:
        return None
    if view is not None and glyph_redness(redness, row, view, scale) > config.red_glyph_excess:
        return None
    red = transform.resize(rgb[..., 0], shape, order=1, anti_aliasing=shape[0] < rgb.shape[0])
    return red.astype(np.float32)


def glyph_redness(redness: np.ndarray, row: list[Box], view: np.ndarray, scale: float) -> float:
    """Median over the row's glyphs of how red their darkest 30% is (red minus green or blue)."""
    per_glyph = []
    for b in row:
        patch = view[b.y : b.y2, b.x : b.x2]
        if patch.size == 0:
            continue
        ys, xs = np.nonzero(patch <= np.percentile(patch, 30))
        oy = np.clip(((ys + b.y) / scale).astype(int), 0, redness.shape[0] - 1)
        ox = np.clip(((xs + b.x) / scale).astype(int), 0, redness.shape[1] - 1)
        per_glyph.append(float(np.median(redness[oy, ox])))
    return float(np.median(per_glyph)) if per_glyph else 0.0
