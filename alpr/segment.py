"""Stage 2: cut a plate crop into ordered character crops with connected components.

The crop is resized to a fixed height so every size rule is in pixels, binarized several ways (local
and Otsu thresholds, dark-on-light and light-on-dark), and labelled. In each binarization the
characters are the largest set of components sharing a height and a baseline: that one rule drops
bolts (too small), frames (too tall or too long), state names and slogans (too short) and stickers
(off the row). The binarization whose row looks most like a plate's wins. A colour plate crop with
coloured artwork is also binarized in a channel where the artwork vanishes (`alpr.colour`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage import filters, measure

from alpr import imageio
from alpr.colour import artwork_channels
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
    split_wide: bool = False,
) -> list[Segmentation]:
    """One segmentation per binarization, the most plate-like row first.

    The pipeline lets the classifier choose between the first few: on a blurred plate one
    threshold melts glyphs into the frame while another splits them cleanly, and which one is
    right shows best in how confidently the crops are read. With `split_wide`, the best two
    rows holding a box as wide as the row is tall come once more with that box cut in two
    (`_split_wide`, named "...+split"): only the classifier can tell two blurred glyphs grown
    together from a W. On a crop with red or green artwork, the dark-ink views of the channel where
    it vanishes compete too (named "...+red", "...+green"; `alpr.colour`).
    """
    grey = to_grey(plate)
    if grey.shape[0] < 4 or grey.shape[1] < 4:
        return [Segmentation((), "none", grey, 1.0)]
    scale = config.plate_height / grey.shape[0]
    resized = imageio.resized(grey, (config.plate_height, max(8, int(round(grey.shape[1] * scale)))))
    # Thresholds below are offsets in grey levels: stretch first so they mean the same on a faded plate.
    resized = stretch_contrast(resized)

    scored = []
    seen = set()

    def score(views) -> None:
        for name, ink, view in views:
            boxes = _character_boxes(ink, config)
            key = tuple(sorted((b.x // 3, b.w // 3) for b in boxes))
            if key in seen:
                continue  # another threshold found the same glyphs: one read is enough
            seen.add(key)
            # Quality is judged on the clean row; recovered glyphs must not make a bad view look good.
            recovered = _join_split_glyphs(_recover_in_band(ink, boxes, config, ends=whole_plate), config)
            scored.append((_row_quality(boxes, config), name, recovered, view))

    binarizations = list(_binarizations(resized, config))
    score(binarizations)
    best = max((t for t in scored if t[1].endswith("dark")), key=lambda t: t[0], default=None)
    row, row_view = (best[2], best[3]) if best else ([], None)
    for colour, channel in artwork_channels(plate, resized.shape, row, row_view, scale, config):
        views = _binarizations(stretch_contrast(channel), config)
        score((f"{name}+{colour}", ink, view) for name, ink, view in views if name.endswith("dark"))
    if not whole_plate and max((len(t[2]) for t in scored), default=0) < config.band_views_below:
        # No view found a plate's row: glyphs joined to a frame, a slogan or the state name above or
        # below them are cut free by the band their vertical strokes share (_band_glyphs). Not on a
        # plate crop, which has no frame around it: there a band view read 2 more and 5 fewer of
        # the 519 development crops.
        # A band shorter than the glyphs of a clean row a view did find (4 or 5 of one height)
        # runs through them (the loops of an 8 and a 9, the arms of a V share it): not the row.
        row = max((t[2] for t in scored), key=len, default=[])
        heights = [b.h for b in row]
        clean = len(row) >= 4 and max(heights) <= 1.15 * min(heights)
        glyph_h = float(np.median(heights)) if clean else 0.0
        for name, ink, view in binarizations:
            band = _band_glyphs(ink, config)
            if band and glyph_h >= config.band_cuts_glyphs * float(np.median([b.h for b in band])):
                continue
            key = tuple(sorted((b.x // 3, b.w // 3) for b in band))
            if band and key not in seen:
                seen.add(key)
                scored.append((_row_quality(band, config), name + "+band", _join_split_glyphs(band, config), view))
    scored.sort(key=lambda t: -t[0])
    chosen = scored[:limit]
    if split_wide and config.split_wide > 0:
        for _, name, boxes, view in chosen[:2]:
            halves = _split_wide(boxes, view, config)
            if halves is not None:
                chosen.append((0.0, name + "+split", halves, view))
    out = []
    for _, name, boxes, view in chosen:
        chars = []
        for line_no, line in enumerate(_split_lines(boxes)):
            for b in sorted(line, key=lambda b: b.x):
                chars.append(CharCrop(box=_unscale(b, scale), line=line_no, image=normalize_crop(view, b, input_size)))
        out.append(Segmentation(tuple(chars), name, view, scale))
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
    height = ink.shape[0]
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
        if not config.min_char_aspect <= aspect <= config.max_char_aspect:
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
    pieces: list[Box] = []
    for label, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        b = Box(left + sl[1].start, top + sl[0].start, sl[1].stop - sl[1].start, sl[0].stop - sl[0].start)
        if b.h < config.band_min_height * band_h:
            continue
        if b.w > 1.5 * wmed and len(row) >= 4 and config.cut_max_link > 0:
            pieces.extend(_cut_from_artwork(labels[sl] == label, b, band_h, row, wmed, config))
            continue
        if not 0.15 * band_h <= b.w <= 1.5 * wmed:
            continue
        if _covered(b, row + found):
            continue  # already a glyph of the row
        outside = b.x2 <= row_left or b.x >= row_right
        if outside and (b.x <= 1 or b.x2 >= ink.shape[1] - 1 or b.w < 0.65 * wmed):
            continue  # the plate's edge, or a bar too thin to be anything but its frame
        found.append(b)
    for b in pieces:
        if not _covered(b, row + found):
            found.append(b)
    return row + found


def _covered(box: Box, row: list[Box]) -> bool:
    """Whether a glyph of the row already spans more than 30% of the box's width."""
    return any(min(box.x2, r.x2) - max(box.x, r.x) > 0.3 * box.w for r in row)


def _cut_from_artwork(
    mask: np.ndarray, blob: Box, band_h: int, row: list[Box], wmed: float, config: SegmentConfig
) -> list[Box]:
    """Glyphs at the ends of a band component too wide to be one: a glyph joined to plate artwork.

    Oregon's tree, Utah's arch, Missouri's outline and Texas' star stand in the row itself, so
    cutting to the band (_recover_in_band) leaves the glyph beside them joined. A glyph stands at
    the row's spacing from its neighbour; the artwork's link to it is a thin bridge, so the cut is
    the column with least ink within a glyph's width of that end (only when it is thin enough).
    `mask` is the component's pixels in its box, `blob`, within a band `band_h` tall.
    """
    counts = mask.sum(axis=0)
    gaps = sorted(row[i + 1].x - row[i].x2 for i in range(len(row) - 1))
    spacing = max(float(np.median(gaps)), 1.0) if gaps else 0.1 * band_h
    near = max(2.0 * spacing, 0.15 * band_h)
    lo, hi = int(round(0.25 * wmed)), min(int(round(1.25 * wmed)), mask.shape[1] - 1)
    if hi <= lo:
        return []
    out = []
    for side in ("left", "right"):
        if side == "left":
            anchored = any(0 <= blob.x - r.x2 <= near for r in row)
            window = counts[lo:hi]
        else:
            anchored = any(0 <= r.x - blob.x2 <= near for r in row)
            window = counts[::-1][lo:hi]
        if not anchored:
            continue
        # Thin, and near a glyph's width from the end: the inside of an 0 is as thin as a bridge.
        width = np.arange(lo, hi)
        at = lo + int(np.argmin(window / band_h + 0.2 * np.abs(width - wmed) / wmed))
        link = window[at - lo]
        cols = slice(0, at) if side == "left" else slice(mask.shape[1] - at, mask.shape[1])
        if link > config.cut_max_link * band_h or link > 0.6 * float(np.median(counts[cols])):
            continue  # no thinner than the piece's own strokes: a cut through a glyph, not a bridge
        rows = np.flatnonzero(mask[:, cols].any(axis=1))
        if rows.size == 0 or rows[-1] - rows[0] + 1 < config.band_min_height * band_h:
            continue  # the piece does not span the band: artwork, not a glyph
        x = blob.x + cols.start
        out.append(Box(x, blob.y + int(rows[0]), at, int(rows[-1] - rows[0] + 1)))
    return out


def _stroke_bands(ink: np.ndarray, config: SegmentConfig, limit: int = 3) -> list[tuple[int, int]]:
    """(top, bottom) rows the plate's glyphs may stand between, voted by vertical strokes, best first.

    Every column through a glyph's upright stroke (the sides of 0, H, U, N, the stem of 1, 4, 7)
    holds a run of ink from the glyph's top to its bottom, and the glyphs of a plate share both.
    Runs through artwork joined to a glyph end elsewhere, and text lines are too short to vote;
    a dark band with light lettering (a dealer's name) votes too, so a few bands come back.
    """
    height = ink.shape[0]
    padded = np.zeros((height + 2, ink.shape[1]), np.int8)
    padded[1:-1] = ink
    edges = np.diff(padded, axis=0)
    # Column-major order pairs each run's start with its end.
    _, start_y = np.nonzero(edges.T == 1)
    _, end_y = np.nonzero(edges.T == -1)
    length = end_y - start_y
    # A plate's frame and background run nearly the crop's height; its glyphs at most ~2/3 of it.
    tall = (length >= config.min_char_height_frac * height) & (length <= config.band_max_height * height)
    tops, bottoms = start_y[tall], end_y[tall]
    if len(tops) < 4:
        return []
    # Votes in cells of (top, bottom) a tolerance wide; a band's support is its cell and the 8
    # around it, so strokes a pixel apart across a cell's edge still vote together.
    cell = max(1, int(round(config.band_tolerance * height)))
    n = height // cell + 2
    votes = np.zeros((n, n), np.int32)
    np.add.at(votes, (tops // cell, bottoms // cell), 1)
    support = np.rint(ndi.uniform_filter(votes.astype(np.float32), size=3, mode="constant") * 9)
    bands: list[tuple[int, int]] = []
    for flat in np.argsort(-support, axis=None, kind="stable")[: 12 * limit]:
        t, b = divmod(int(flat), n)
        if support[t, b] < 4 or len(bands) == limit:
            break
        if any(abs(t * cell - bt) <= 2 * cell and abs(b * cell - bb) <= 2 * cell for bt, bb in bands):
            continue
        members = (np.abs(tops // cell - t) <= 1) & (np.abs(bottoms // cell - b) <= 1)
        bands.append((int(np.median(tops[members])), int(np.median(bottoms[members]))))
    return bands


def _band_glyphs(ink: np.ndarray, config: SegmentConfig) -> list[Box]:
    """Glyphs cut free from whatever touches them above or below: the components of the ink inside
    a band of the strokes (`_stroke_bands`) that span it, from the band that holds the likeliest row."""
    best: list[Box] = []
    best_quality = 0.0
    for top, bottom in _stroke_bands(ink, config):
        glyphs = _glyphs_in_band(ink, top, bottom, config)
        quality = _row_quality(glyphs, config) if len(glyphs) >= 3 else 0.0
        if quality > best_quality:
            best, best_quality = glyphs, quality
    return best


def _glyphs_in_band(ink: np.ndarray, top: int, bottom: int, config: SegmentConfig) -> list[Box]:
    band_h = bottom - top
    if band_h < 8:
        return []
    labels = measure.label(ink[top:bottom], connectivity=1)
    glyphs = []
    for i, sl in enumerate(ndi.find_objects(labels)):
        if sl is None:
            continue
        b = Box(sl[1].start, top + sl[0].start, sl[1].stop - sl[1].start, sl[0].stop - sl[0].start)
        if b.h < config.band_min_height * band_h or b.w > 1.1 * band_h:
            continue
        if b.w < 0.08 * band_h:
            continue  # a hairline: a frame's edge, not a glyph's stem
        if (b.x <= 1 or b.x2 >= ink.shape[1] - 1) and b.w < 0.3 * band_h:
            continue  # the plate's or the crop's edge
        extent = (labels[sl] == i + 1).sum() / max(b.area, 1)
        if extent < config.min_char_extent or (extent > config.max_char_extent and b.h < 2.5 * b.w):
            continue  # an outline, an emblem's thin lines, or a block
        if _through_share(ink, b, top, bottom, both=True) < 0.5:
            glyphs.append(b)  # else a bar that goes on above and below: the frame, not a glyph
    if not glyphs:
        return []
    # A frame's side is cut to the band like a glyph, and is read as "I" or "1". A thin glyph at
    # either end of the row counts only when it stands free: a "1" ends where the band does,
    # a frame's side goes on above or below it.
    glyphs.sort(key=lambda b: b.x)
    wide = float(np.median([b.w for b in glyphs]))
    while glyphs and glyphs[0].w < 0.6 * wide and _through_share(ink, glyphs[0], top, bottom) >= 0.3:
        glyphs = glyphs[1:]
    while glyphs and glyphs[-1].w < 0.6 * wide and _through_share(ink, glyphs[-1], top, bottom) >= 0.3:
        glyphs = glyphs[:-1]
    return _trim_row_ends(glyphs, config)


def _through_share(ink: np.ndarray, box: Box, top: int, bottom: int, both: bool = False) -> float:
    """The share of a band component's columns whose ink goes on just above or below the band
    (above and below with `both`); beyond the crop's edge counts as no ink."""
    d = max(2, int(0.12 * (bottom - top)))
    cols = slice(box.x, box.x2)
    empty = np.zeros(box.w, bool)
    above = ink[top - d, cols] if top - d >= 0 else empty
    below = ink[bottom + d - 1, cols] if bottom + d - 1 < ink.shape[0] else empty
    return float((above & below).mean() if both else (above | below).mean())


def _join_split_glyphs(row: list[Box], config: SegmentConfig) -> list[Box]:
    """Join a glyph the threshold cut in two side by side.

    Plate fonts are close to monospaced: two thin pieces almost touching whose union is one
    glyph's width are one glyph (a "U" or "N" cut at its thinnest point, read "L1" or "AV"; two
    "1"s stand a whole gap apart). The opposite, cutting a box twice the row's glyph width in two,
    split W, M and T on 15 of the 519 development crops and was left out.
    """
    if len(row) < 4 or len(_split_lines(row)) > 1:
        return row
    row = sorted(row, key=lambda b: b.x)
    wmed = _glyph_width(row)
    hmed = float(np.median([b.h for b in row]))
    out: list[Box] = []
    for b in row:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.w < config.piece_max_width * wmed
            and b.w < config.piece_max_width * wmed
            and b.x - prev.x2 <= config.piece_max_gap * hmed
            and b.x2 - prev.x <= config.joined_max_width * wmed
        ):
            x0, y0 = prev.x, min(prev.y, b.y)
            out[-1] = Box(x0, y0, b.x2 - x0, max(prev.y2, b.y2) - y0)
            continue
        out.append(b)
    return out


def _split_wide(row: list[Box], view: np.ndarray, config: SegmentConfig) -> list[Box] | None:
    """The row with every box at least `split_wide` times as wide as the row is tall cut in two
    at its faintest column between 35% and 65% of its width; None when no box is that wide or
    the row is not one line. Plate glyphs are about half as wide as tall: a box that wide is two
    glyphs a blur joined (CG, 4V), or a W or an M, which the classifier's doubt tells apart."""
    if len(row) < 3 or len(_split_lines(row)) > 1:
        return None
    height = float(np.median([b.h for b in row]))
    out, cut = [], False
    for b in sorted(row, key=lambda b: b.x):
        if b.w < config.split_wide * height or b.h < 0.8 * height:
            out.append(b)
            continue
        ink = (view[b.y : b.y2, b.x : b.x2] < 0.5).sum(axis=0)
        lo, hi = int(0.35 * b.w), int(0.65 * b.w) + 1
        faintest = np.flatnonzero(ink[lo:hi] == ink[lo:hi].min())
        at = lo + int(faintest[len(faintest) // 2])  # the middle of the bridge, not its first column
        out += [Box(b.x, b.y, at, b.h), Box(b.x + at, b.y, b.w - at, b.h)]
        cut = True
    return out if cut else None


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


def _dominant_rows(chars: list[Box], config: SegmentConfig) -> list[Box]:
    """Keep the biggest group of boxes with similar height and vertical centre (plus a second row)."""
    if not chars:
        return []
    # Each box anchors a group (the boxes of its height and centre line); the biggest group wins,
    # the taller on a tie. All anchors at once: a crop of junk holds hundreds of boxes.
    h = np.array([b.h for b in chars], np.float64)
    cy = np.array([b.y for b in chars], np.float64) + h / 2
    ratio = np.maximum(h[:, None], h[None, :]) / np.maximum(np.minimum(h[:, None], h[None, :]), 1)
    member = (ratio <= config.row_height_ratio) & (
        np.abs(cy[None, :] - cy[:, None]) <= config.row_center_tolerance * h[:, None]
    )
    size = member.sum(axis=1)
    tall = member.astype(np.float64) @ h
    anchor = int(np.lexsort((-tall, -size))[0])  # the first anchor of the biggest, tallest group
    best = [b for b, m in zip(chars, member[anchor]) if m]
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
    wmed = _glyph_width(row)
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


def _glyph_width(row: list[Box]) -> float:
    """The row's usual glyph width: the median of its boxes less than 3 times as tall as wide
    (a "1" or "I" is narrower than the font's cell), of all of them when every box is a bar."""
    wide = [b.w for b in row if b.h < 3 * b.w] or [b.w for b in row]
    return float(np.median(wide))


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


def _row_quality(boxes: list[Box], config: SegmentConfig) -> float:
    """How plate-like a set of character boxes is: count near 7, uniform heights, tall glyphs."""
    if not boxes:
        return 0.0
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
