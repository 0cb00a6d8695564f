"""Which colours of a plate crop to read: channels where the plate's coloured artwork vanishes.

Grey conversion makes red, orange and green artwork about as dark as the ink, so a glyph it
touches becomes one component with it and is lost: Nebraska's red state outline runs through the
first glyph, Idaho's and Utah's red bands touch theirs, Oregon's green tree stands between two.
In the red channel red artwork is as light as the paper; in the green channel green, teal and
sky-blue artwork is (Texas' sky around its flag); dark blue or black glyphs stay dark in both.
Glyphs of the artwork's own colour would fade with it (Massachusetts' and Alabama's red glyphs),
so such a crop is not read in that channel.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from alpr.config import SegmentConfig
from alpr.imageio import resized
from alpr.types import Box

# (name, channel read, how far each pixel's colour stands out as that colour's artwork)
ARTWORK_COLOURS: tuple[tuple[str, int, Callable[[np.ndarray], np.ndarray]], ...] = (
    ("red", 0, lambda rgb: rgb[..., 0] - np.maximum(rgb[..., 1], rgb[..., 2])),
    ("green", 1, lambda rgb: rgb[..., 1] - rgb[..., 0]),  # green over red: green, teal, sky blue
)


def artwork_channels(
    plate: np.ndarray,
    shape: tuple[int, int],
    row: list[Box],
    view: np.ndarray | None,
    scale: float,
    config: SegmentConfig,
) -> list[tuple[str, np.ndarray]]:
    """(colour name, channel resized to `shape`, float 0..1) for each colour worth reading in.

    A colour is worth it when at least `config.artwork_view_share` of the crop's columns under the
    row (from a glyph height before its first glyph to one after its last, the crop's full height)
    stands out as that colour by `config.artwork_excess`, and the glyphs do not (their darkest 30%
    stand out by at most `config.artwork_glyph_excess`). Only under the row: a photo's candidate
    crop holds the car around the plate, and a red tail light beside it made the red view read a
    bumper's edge as a glyph (AC0M7V read NAC0M7V). `row` is the best dark-ink row the grey views
    found, in the coordinates of `view` (the grey crop at `scale` working pixels per crop pixel);
    without one the whole crop is measured. Empty on a grey crop.
    """
    rgb = np.asarray(plate)
    if rgb.ndim != 3 or rgb.shape[2] < 3 or config.artwork_view_share <= 0:
        return []
    rgb = rgb[..., :3].astype(np.float32)
    if rgb.max(initial=0) > 1.0:
        rgb = rgb / 255.0
    x0, x1 = 0, rgb.shape[1]
    if row:
        h = float(np.median([b.h for b in row]))
        x0 = max(0, int((min(b.x for b in row) - h) / scale))
        x1 = min(rgb.shape[1], int((max(b.x2 for b in row) + h) / scale))
    out = []
    for name, channel, stands_out in ARTWORK_COLOURS:
        excess = stands_out(rgb)
        under_row = excess[:, x0:x1]
        if under_row.size == 0 or float((under_row > config.artwork_excess).mean()) < config.artwork_view_share:
            continue
        if view is not None and glyph_excess(excess, row, view, scale) > config.artwork_glyph_excess:
            continue
        out.append((name, resized(rgb[..., channel], shape)))
    return out


def glyph_excess(excess: np.ndarray, row: list[Box], view: np.ndarray, scale: float) -> float:
    """Median over the row's glyphs of how far their darkest 30% stands out as the colour."""
    per_glyph = []
    for b in row:
        patch = view[b.y : b.y2, b.x : b.x2]
        if patch.size == 0:
            continue
        ys, xs = np.nonzero(patch <= np.percentile(patch, 30))
        oy = np.clip(((ys + b.y) / scale).astype(int), 0, excess.shape[0] - 1)
        ox = np.clip(((xs + b.x) / scale).astype(int), 0, excess.shape[1] - 1)
        per_glyph.append(float(np.median(excess[oy, ox])))
    return float(np.median(per_glyph)) if per_glyph else 0.0
