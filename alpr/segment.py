"""Stage 2: cut a plate crop into ordered character crops with connected components.

The crop is resized to a fixed height so every size rule is in pixels, binarized several ways (local
and Otsu thresholds, dark-on-light and light-on-dark), and labelled. In each binarization the
characters are the largest set of components sharing a height and a baseline: that one rule drops
bolts (too small), frames (too tall or too long), state names and slogans (too short) and stickers
(off the row). The binarization whose row looks most like a plate's wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage import filters, measure, transform

from alpr.config import DEFAULT, SegmentConfig
from alpr.detect import to_grey
from alpr.types import Box, CharCrop


@dataclass(frozen=True, eq=False)
class Segmentation:
    """The characters of one plate crop, in reading order."""

    chars: tuple[CharCrop, ...]
    binarization: str  # which view gave them, e.g. "local/dark"
    grey: np.ndarray  # the resized grey plate crop (dark characters on light)
    scale: float  # resized pixels per crop pixel


def crop_plate(image: np.ndarray, box: Box, config: SegmentConfig = DEFAULT.segment) -> tuple[np.ndarray, Box]:
    """Cut the plate with a margin so that characters touching the box edge stay whole."""
    m = int(round(config.margin * box.h))
    x0, y0 = max(0, box.x - m), max(0, box.y - m)
    x1, y1 = min(image.shape[1], box.x2 + m), min(image.shape[0], box.y2 + m)
    return image[y0:y1, x0:x1], Box(x0, y0, x1 - x0, y1 - y0)


def segment(plate: np.ndarray, config: SegmentConfig = DEFAULT.segment, input_size: int = 32) -> Segmentation:
    """Ordered character crops of a plate image (RGB or grey, any size), by the best-looking row."""
    return segment_all(plate, config, input_size, limit=1)[0]


def segment_all(
    plate: np.ndarray,
    config: SegmentConfig = DEFAULT.segment,
    input_size: int = 32,
    limit: int | None = None,
    whole_plate: bool = False,
) -> list[Segmentation]:
    """One segmentation per binarization, the most plate-like row first.

    The pipeline lets the classifier choose between the first few: on a blurred plate one
    threshold melts glyphs into the frame while another splits them cleanly, and which one is
    right shows best in how confidently the crops are read.
    """
    grey = to_grey(plate)
    if grey.shape[0] < 4 or grey.shape[1] < 4:
        return [Segmentation((), "none", grey, 1.0)]
    scale = config.plate_height / grey.shape[0]
    resized = transform.resize(
        grey, (config.plate_height, max(8, int(round(grey.shape[1] * scale)))), order=1, anti_aliasing=scale < 1
    ).astype(np.float32)
    # Thresholds below are offsets in grey levels: stretch first so they mean the same on a faded plate.
    resized = stretch_contrast(resized)

    scored = []
    seen = set()
    for name, ink, view in _binarizations(resized, config):
        boxes = _character_boxes(ink, config)
        key = tuple(sorted((b.x // 3, b.w // 3) for b in boxes))
        if key in seen:
            continue  # another threshold found the same glyphs: one read is enough
        seen.add(key)
        # Quality is judged on the clean row; recovered glyphs must not make a bad view look good.
        recovered = _recover_in_band(ink, boxes, config, ends=whole_plate)
        scored.append((_row_quality(boxes, ink, config), name, recovered, view))
    scored.sort(key=lambda t: -t[0])
    out = []
    for _, name, boxes, view in scored[:limit]:
        chars = []
        for line_no, line in enumerate(_split_lines(boxes)):
            for b in sorted(line, key=lambda b: b.x):
                chars.append(CharCrop(box=_unscale(b, scale), line=line_no, image=normalize_crop(view, b, input_size)))
        out.append(Segmentation(tuple(chars[: config.max_chars]), name, view, scale))
    return out


def normalize_crop(grey: np.ndarray, box: Box | None = None, size: int = 32) -> np.ndarray:
    """The classifier's input: the glyph's box scaled into a square, aspect kept, dark on light.

    The longer side fills 7/8 of the square so that every glyph keeps a light border; contrast is
    stretched between the 5th and 95th percentiles so that faded and sharp plates look alike.
    """
    if box is not None:
        pad = max(1, int(round(0.06 * box.h)))
        y0, y1 = max(0, box.y - pad), min(grey.shape[0], box.y2 + pad)
        x0, x1 = max(0, box.x - pad), min(grey.shape[1], box.x2 + pad)
        grey = grey[y0:y1, x0:x1]
    grey = np.asarray(grey, dtype=np.float32)
    if grey.size == 0:
        return np.ones((size, size), np.float32)
    h, w = grey.shape
    target = size * 7 / 8
    f = target / max(h, w)
    nh, nw = max(1, int(round(h * f))), max(1, int(round(w * f)))
    # Pillow's resize of a float image filters when shrinking and is ~20x faster than skimage's.
    small = np.asarray(Image.fromarray(grey, mode="F").resize((nw, nh), Image.Resampling.BILINEAR))
    small = stretch_contrast(small)
    out = np.ones((size, size), np.float32)
    oy, ox = (size - nh) // 2, (size - nw) // 2
    out[oy : oy + nh, ox : ox + nw] = small
    return out


def stretch_contrast(grey: np.ndarray) -> np.ndarray:
    """Map the 5th..95th percentile to 0..1, so faded and sharp glyphs look alike to the model."""
    flat = grey.ravel()
    k_lo, k_hi = int(0.05 * (flat.size - 1)), int(0.95 * (flat.size - 1))
    lo, hi = np.partition(flat, (k_lo, k_hi))[[k_lo, k_hi]]  # nearest-rank percentiles, 5x faster
    return np.clip((grey - lo) / max(float(hi - lo), 1e-3), 0.0, 1.0).astype(np.float32)


def _binarizations(grey: np.ndarray, config: SegmentConfig):
    """(name, ink mask, grey view with ink dark) for each way of thresholding the plate."""
    local = ndi.uniform_filter(grey, size=config.local_block)
    offset = config.local_offset
    try:
        otsu = filters.threshold_otsu(grey)
    except ValueError:
        otsu = float(grey.mean())
    inverted = 1.0 - grey
    yield "local/dark", grey < local - offset, grey
    yield "otsu/dark", grey < otsu, grey
    yield "local/light", grey > local + offset, inverted
    yield "otsu/light", grey > otsu, inverted


def _character_boxes(ink: np.ndarray, config: SegmentConfig) -> list[Box]:
    """Boxes of the components that form the plate's character row(s)."""
    height, width = ink.shape
    # 4-connectivity: diagonal touches between neighbouring glyphs are common, real strokes are thicker.
    labels = measure.label(ink, connectivity=1)
    slices = ndi.find_objects(labels)
    areas = np.bincount(labels.ravel(), minlength=len(slices) + 1)[1:]
    boxes = []
    for i, sl in enumerate(slices):
        if sl is None:
            continue
        b = Box(sl[1].start, sl[0].start, sl[1].stop - sl[1].start, sl[0].stop - sl[0].start)
        boxes.append((b, int(areas[i])))
    boxes = _merge_broken(boxes, height, config)
    chars = []
    for b, area in boxes:
        aspect = b.h / max(b.w, 1)
        extent = area / max(b.area, 1)
        if not config.min_char_height_frac * height <= b.h <= config.max_char_height_frac * height:
            continue
        if b.w > 3.5 * b.h:  # frames, underlines, slogans run together
            continue
        solid_bar = aspect >= 2.5  # "I" and "1" in block fonts fill their box completely
        if extent < config.min_char_extent or (extent > config.max_char_extent and not solid_bar):
            continue
        if aspect < config.min_char_aspect:
            # Touching glyphs are split. A plate's own background (in the inverted views) is as
            # wide but far fuller, and often spans the crop from edge to edge: never split that.
            if b.x > 0 and b.x2 < width and extent <= config.max_split_extent:
                chars.extend(_split_touching(b, aspect))
            continue
        if aspect > config.max_char_aspect:
            continue
        chars.append(b)
    return _dominant_rows(chars, config)


def _recover_in_band(ink: np.ndarray, row: list[Box], config: SegmentConfig, ends: bool = False) -> list[Box]:
    """Find glyphs of a one-line row that touch plate artwork above or below them.

    A glyph joined to a sticker, a slogan or a drawing is one tall component and fails the row's
    height test. Cut to the horizontal band the row occupies, the join is severed and the glyph
    spans the band like its neighbours.
    """
    if len(row) < 3 or len(_split_lines(row)) > 1:
        return row
    top = int(np.median([b.y for b in row]))
    bottom = int(np.median([b.y2 for b in row]))
    band_h = bottom - top
    wmed = float(np.median([b.w for b in row]))
    if band_h < 8:
        return row
    # Between the row's first and last glyph; beyond its ends only when the image is the plate
    # itself. Around a detected plate, the ends hold its frame, bolts and emblems, which fill the
    # band just as well (recovering there cost more reads than it saved on photos).
    row_left, row_right = min(b.x for b in row), max(b.x2 for b in row)
    left = max(0, int(row_left - 1.4 * wmed)) if ends else row_left
    right = int(row_right + 1.4 * wmed) if ends else row_right
    labels = measure.label(ink[top:bottom, left:right], connectivity=1)
    found: list[Box] = []
    for sl in ndi.find_objects(labels):
        if sl is None:
            continue
        b = Box(left + sl[1].start, top + sl[0].start, sl[1].stop - sl[1].start, sl[0].stop - sl[0].start)
        if b.h < config.band_min_height * band_h or not 0.15 * band_h <= b.w <= 1.5 * wmed:
            continue
        if any(min(b.x2, r.x2) - max(b.x, r.x) > 0.3 * b.w for r in row + found):
            continue  # already a glyph of the row
        outside = b.x2 <= row_left or b.x >= row_right
        if outside and (b.x <= 1 or b.x2 >= ink.shape[1] - 1 or b.w < 0.65 * wmed):
            continue  # the plate's edge, or a bar too thin to be anything but its frame
        found.append(b)
    return row + found


def _merge_broken(boxes: list[tuple[Box, int]], height: int, config: SegmentConfig) -> list[tuple[Box, int]]:
    """Join pieces of one glyph split by glare or a thin stroke: stacked boxes sharing a column."""
    small = [bx for bx in boxes if bx[0].h < config.min_char_height_frac * height and bx[0].h >= 0.08 * height]
    if len(small) < 2:
        return boxes
    small.sort(key=lambda bx: bx[0].x)
    merged_ids: set[int] = set()
    out = []
    for i, (a, aa) in enumerate(small):
        if id(small[i]) in merged_ids:
            continue
        for j in range(i + 1, len(small)):
            b, ba = small[j]
            if id(small[j]) in merged_ids or b.x > a.x2:
                continue
            overlap = min(a.x2, b.x2) - max(a.x, b.x)
            if overlap < 0.6 * min(a.w, b.w):
                continue
            x0, y0 = min(a.x, b.x), min(a.y, b.y)
            union = Box(x0, y0, max(a.x2, b.x2) - x0, max(a.y2, b.y2) - y0)
            if union.h <= config.max_char_height_frac * height:
                out.append((union, aa + ba))
                merged_ids.update({id(small[i]), id(small[j])})
                break
    return [bx for bx in boxes if id(bx) not in merged_ids] + out


def _split_touching(box: Box, aspect: float) -> list[Box]:
    """Split a blob of touching glyphs into equal parts; plate fonts are close to monospaced."""
    parts = int(round(1.0 / max(aspect, 0.1) / 0.55))
    if parts < 2 or parts > 3:
        return []
    w = box.w / parts
    return [Box(int(box.x + k * w), box.y, int(round(w)), box.h) for k in range(parts)]


def _dominant_rows(chars: list[Box], config: SegmentConfig) -> list[Box]:
    """Keep the biggest group of boxes with similar height and vertical centre (plus a second row)."""
    if not chars:
        return []
    best: list[Box] = []
    for anchor in chars:
        cy = anchor.y + anchor.h / 2
        group = [
            b
            for b in chars
            if max(b.h, anchor.h) / max(min(b.h, anchor.h), 1) <= config.row_height_ratio
            and abs(b.y + b.h / 2 - cy) <= config.row_center_tolerance * anchor.h
        ]
        if len(group) > len(best) or (len(group) == len(best) and _height_sum(group) > _height_sum(best)):
            best = group
    best = _trim_row_ends(best, config)
    rest = [b for b in chars if b not in best]
    second = _dominant_rows(rest, config) if len(rest) >= 2 and len(best) >= 2 else []
    # A second line counts only when it sits fully above or below the first and is as tall.
    if second and len(second) >= 2:
        top1, bot1 = min(b.y for b in best), max(b.y2 for b in best)
        top2, bot2 = min(b.y for b in second), max(b.y2 for b in second)
        h1 = np.median([b.h for b in best])
        h2 = np.median([b.h for b in second])
        if (bot2 <= top1 or top2 >= bot1) and h2 >= 0.6 * h1:
            return _dedupe(best + second)
    return _dedupe(best)


def _trim_row_ends(row: list[Box], config: SegmentConfig) -> list[Box]:
    """Drop thin bars at either end of a row that do not line up with it: the plate's frame.

    A "1" or "I" is as tall as its neighbours, sits on the same baseline and keeps the row's
    spacing; a frame edge beside the last glyph is thin too, but rarely that exact height and
    usually further off (it was read as a trailing "1" on ~12 of 124 development photos).
    """
    row = sorted(row, key=lambda b: b.x)
    if len(row) < 4:
        return row
    wide = [b.w for b in row if b.h < 3 * b.w] or [b.w for b in row]
    wmed = float(np.median(wide))
    hmed = float(np.median([b.h for b in row]))
    top = float(np.median([b.y for b in row]))
    bottom = float(np.median([b.y2 for b in row]))
    tol = config.end_bar_tolerance * hmed
    gaps = [row[i + 1].x - row[i].x2 for i in range(len(row) - 1)]
    usual_gap = max(float(np.median(gaps)), 1.0)

    def frame_bar(b: Box, gap: int) -> bool:
        if b.w >= 0.5 * wmed:
            return False
        misaligned = abs(b.y - top) > tol or abs(b.y2 - bottom) > tol
        # The frame stands off the last glyph by more than glyphs stand off each other.
        apart = gap > max(2.5 * usual_gap, 0.25 * hmed)
        return misaligned or apart

    while len(row) > 3 and frame_bar(row[0], row[1].x - row[0].x2):
        row = row[1:]
    while len(row) > 3 and frame_bar(row[-1], row[-1].x - row[-2].x2):
        row = row[:-1]
    return row


def _dedupe(boxes: list[Box]) -> list[Box]:
    """Drop boxes that sit inside another (a hole of an 0 labelled as its own glyph)."""
    out = []
    for b in boxes:
        inside = any(
            o is not b and o.x <= b.x and o.y <= b.y and o.x2 >= b.x2 and o.y2 >= b.y2 and o.area > b.area
            for o in boxes
        )
        if not inside:
            out.append(b)
    return out


def _height_sum(boxes: list[Box]) -> int:
    return sum(b.h for b in boxes)


def _split_lines(boxes: list[Box]) -> list[list[Box]]:
    """One list per text line, top line first."""
    if not boxes:
        return []
    boxes = sorted(boxes, key=lambda b: b.y + b.h / 2)
    lines = [[boxes[0]]]
    for b in boxes[1:]:
        prev = lines[-1]
        bottom = max(p.y2 for p in prev)
        if b.y >= bottom - 0.2 * b.h:
            lines.append([b])
        else:
            prev.append(b)
    return lines


def _row_quality(boxes: list[Box], ink: np.ndarray, config: SegmentConfig) -> float:
    """How plate-like a set of character boxes is: count near 7, uniform heights, tall glyphs.

    Glyphs are thin strokes on a plate: when the "ink" fills most of the row's box, this
    binarization has the polarity backwards and the "characters" are the gaps between them.
    """
    if not boxes:
        return 0.0
    x0, y0 = min(b.x for b in boxes), min(b.y for b in boxes)
    x1, y1 = max(b.x2 for b in boxes), max(b.y2 for b in boxes)
    if ink[y0:y1, x0:x1].mean() > config.max_row_ink:
        return 0.1
    n = len(boxes)
    heights = np.array([b.h for b in boxes], np.float32)
    uniformity = 1.0 - min(1.0, float(heights.std() / max(heights.mean(), 1)))
    count = min(n, 8) - 1.0 * max(0, n - 8)
    tall = float(heights.mean()) / config.plate_height
    return count + uniformity + tall


def _unscale(box: Box, scale: float) -> Box:
    return Box(
        int(round(box.x / scale)),
        int(round(box.y / scale)),
        max(1, int(round(box.w / scale))),
        max(1, int(round(box.h / scale))),
    )
