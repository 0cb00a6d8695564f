"""Stage 1: find plate candidates in a photo with connected components.

One global threshold rarely separates a plate from a car in real light, so the photo is binarized
several ways (a local mean threshold and Otsu's global one, each in both polarities). Each binary
image is labelled with `skimage.measure.label`, and candidates are built two ways:

* top-down: one component that is itself plate-shaped (the light plate background, or a dark frame);
* bottom-up: a row of character-like components of similar height on a common baseline, because a
  plate touching the bumper or the frame is often not one component at all.

Every candidate carries the number of character-like components inside it, which ranks them before
the (more expensive) segmentation and classification decide between them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage import filters, measure, transform

from alpr import ties
from alpr.config import DEFAULT, DetectConfig, RankConfig
from alpr.types import Box, Component, PlateCandidate


@dataclass(frozen=True, eq=False)
class Binarization:
    """One binary view of the photo and its labelled components."""

    name: str  # e.g. "local/dark": ink is darker than the local mean
    labels: np.ndarray
    boxes: np.ndarray  # (n, 4) int: x, y, w, h per label (label i at row i - 1)
    areas: np.ndarray  # (n,) int


@dataclass(frozen=True, eq=False)
class Detection:
    grey: np.ndarray  # detection-scale grey image in [0, 1]
    scale: float  # detection pixels per photo pixel
    overlay: Binarization  # the binarization whose components are shown to the user
    components: tuple[Component, ...]
    candidates: tuple[PlateCandidate, ...]  # ranked, best first, in photo coordinates


def to_grey(image: np.ndarray) -> np.ndarray:
    """Float grey image in [0, 1] from an RGB or grey uint8/float array."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    else:
        image = image.astype(np.float32)
    if image.max(initial=0) > 1.0:
        image = image / 255.0
    return image


def detection_scale(shape: tuple[int, ...], config: DetectConfig = DEFAULT.detect) -> float:
    """Factor that brings the photo's longer side into [min_side, max_side] and its area under max_pixels."""
    longest = max(shape[0], shape[1])
    area = shape[0] * shape[1]
    if longest > config.max_side or area > config.max_pixels:
        return min(config.max_side / longest, (config.max_pixels / area) ** 0.5)
    if longest < config.min_side:
        return config.min_side / longest
    return 1.0


def _detection_grey(image: np.ndarray, scale: float) -> np.ndarray:
    """The photo in grey at detection scale, in [0, 1].

    A uint8 photo is shrunk by Pillow (grey first, then an antialiased bilinear resize): a 12 Mpx
    phone photo takes ~25 ms that way, ~200 ms as a float image through skimage."""
    image = np.asarray(image)
    if scale < 1.0 and image.dtype == np.uint8 and image.ndim in (2, 3):
        pil = Image.fromarray(image if image.ndim == 2 else np.ascontiguousarray(image[..., :3])).convert("L")
        h, w = image.shape[:2]
        size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
        return np.asarray(pil.resize(size, Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    grey = to_grey(image)
    if scale != 1.0:
        grey = transform.rescale(grey, scale, order=1, anti_aliasing=scale < 1, preserve_range=True)
        grey = grey.astype(np.float32)
    return grey


def binarize(grey: np.ndarray, config: DetectConfig = DEFAULT.detect) -> list[Binarization]:
    """Label the photo under a local and a global threshold, in both polarities."""
    block = config.local_block | 1
    local = ndi.uniform_filter(grey, size=block) - 0.02
    try:
        otsu = filters.threshold_otsu(grey)
    except ValueError:  # a constant image has no threshold
        otsu = float(grey.mean())
    views = [
        ("local/dark", grey < local),
        ("local/light", grey > local + 0.04),
        ("otsu/dark", grey < otsu),
        ("otsu/light", grey > otsu),
    ]
    return [_label(name, mask) for name, mask in views]


def find_plates(image: np.ndarray, config: DetectConfig = DEFAULT.detect, rank: RankConfig = DEFAULT.rank) -> Detection:
    """Rank plate candidates in an RGB photo; boxes are returned in photo coordinates."""
    scale = detection_scale(image.shape, config)
    grey = _detection_grey(image, scale)
    views = binarize(grey, config)
    height, width = grey.shape

    candidates: list[PlateCandidate] = []
    char_masks = {}
    for view in views:
        is_char = _char_like(view, height, config)
        char_masks[view.name] = is_char
        candidates += _char_rows(view, is_char, config)
    for view in views:
        candidates += _plate_blobs(view, grey, config)

    ranked = _rank(candidates, grey.shape, config, rank)
    overlay = _overlay_view(views, ranked)
    components = _judge_components(overlay, char_masks[overlay.name], width, height, config)
    inv = 1.0 / scale
    in_photo = tuple(
        PlateCandidate(
            box=_scale_box(c.box, inv, image.shape),
            source=c.source,
            binarization=c.binarization,
            char_count=c.char_count,
            score=c.score,
            kept=c.kept,
            reason=c.reason,
        )
        for c in ranked
    )
    scaled_components = tuple(
        Component(c.label, _scale_box(c.box, inv, image.shape), c.area, c.kept, c.reason) for c in components
    )
    return Detection(grey, scale, overlay, scaled_components, in_photo)


def _boxes(labels: np.ndarray, n: int) -> np.ndarray:
    """(n, 4) x, y, w, h of labels 1..n, as `ndi.find_objects` would give them, from the rows' runs.

    A photo's binarization holds ~10,000 components; one Python object per component (the
    find_objects way) cost ~14 ms per view, the runs of equal labels along each row ~4 ms.
    """
    w = labels.shape[1]
    flat = labels.ravel()
    starts_run = np.empty(flat.size, dtype=bool)
    starts_run[0] = True
    np.not_equal(flat[1:], flat[:-1], out=starts_run[1:])
    starts_run[::w] = True  # a run never continues onto the next row
    starts = np.flatnonzero(starts_run)
    ends = np.append(starts[1:], flat.size) - 1
    lab = flat[starts]
    keep = lab > 0
    starts, ends, lab = starts[keep], ends[keep], lab[keep] - 1
    y = starts // w
    big = np.iinfo(np.int64).max
    x0, x1 = np.full(n, big), np.full(n, -1)
    y0, y1 = np.full(n, big), np.full(n, -1)
    np.minimum.at(x0, lab, starts % w)
    np.maximum.at(x1, lab, ends % w)
    np.minimum.at(y0, lab, y)
    np.maximum.at(y1, lab, y)
    return np.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], axis=1).astype(np.int32)


def _label(name: str, mask: np.ndarray) -> Binarization:
    # 8-connectivity: a glyph's diagonal strokes (the legs of K, X) stay one component.
    labels, n = measure.label(mask, connectivity=2, return_num=True)
    labels = labels.astype(np.int32, copy=False)
    boxes = _boxes(labels, n)
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    return Binarization(name, labels, boxes, areas)


def _char_like(view: Binarization, image_height: int, config: DetectConfig) -> np.ndarray:
    """Boolean per component: could this be one character of a plate?"""
    w = view.boxes[:, 2].astype(np.float32)
    h = view.boxes[:, 3].astype(np.float32)
    aspect = h / np.maximum(w, 1)
    extent = view.areas / np.maximum(w * h, 1)
    return (
        (h >= config.min_char_height)
        & (h <= config.max_char_height_frac * image_height)
        & (aspect >= config.min_char_aspect)
        & (aspect <= config.max_char_aspect)
        & (extent >= config.min_char_extent)
        & (extent <= config.max_char_extent)
    )


def _char_rows(view: Binarization, is_char: np.ndarray, config: DetectConfig) -> list[PlateCandidate]:
    """Bottom-up candidates: chains of character-like components side by side."""
    idx = np.flatnonzero(is_char)
    if len(idx) < config.min_row_chars:
        return []
    boxes = view.boxes[idx].astype(np.float32)
    # Stable: numpy's default sort orders equal keys differently on AVX2 and AVX-512 CPUs.
    order = np.argsort(boxes[:, 0], kind="stable")
    boxes = boxes[order]
    n = len(boxes)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    x, y, w, h = boxes.T
    cy = y + h / 2
    right = x + w
    for i in range(n):
        # Only the nearest few components to the right can be the next character.
        limit = right[i] + config.row_max_gap * h[i]
        j_stop = np.searchsorted(x, limit, side="right")
        for j in range(i + 1, min(j_stop, n)):
            ratio = max(h[i], h[j]) / min(h[i], h[j])
            if ratio > config.row_height_ratio:
                continue
            if abs(cy[i] - cy[j]) > config.row_center_tolerance * max(h[i], h[j]):
                continue
            if x[j] < right[i] - 0.3 * w[i]:  # overlapping boxes are one glyph's pieces, not neighbours
                continue
            parent[find(j)] = find(i)
            break

    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    rows = [np.array(m) for m in groups.values()]
    out = []
    for m in _join_rows(rows, x, y, w, h, config):
        if len(m) < config.min_row_chars:
            continue
        x0, y0 = x[m].min(), y[m].min()
        x1, y1 = (x[m] + w[m]).max(), (y[m] + h[m]).max()
        hh = float(np.median(h[m]))
        # A plate extends beyond its characters: about half a character above, below and beside.
        box = Box(int(x0 - 0.5 * hh), int(y0 - 0.45 * hh), int(x1 - x0 + hh), int(y1 - y0 + 0.9 * hh))
        out.append(PlateCandidate(box, "char-row", view.name, len(m), 0.0, False, "character row"))
    return out


def _join_rows(rows: list[np.ndarray], x, y, w, h, config: DetectConfig) -> list[np.ndarray]:
    """Join pieces of one plate's row split by a separator, a logo or a lost character.

    Two pieces join when their heights match, their centres align, and the gap between them is at
    most `row_join_gap` character heights: "ABC" + a state emblem + "123" is one plate. One pass
    left to right, each piece joining the first open chain it continues.
    """
    pieces = sorted((r for r in rows if len(r) >= 2), key=lambda r: float(x[r].min()))
    chains: list[list] = []  # [members, height, centre y, right edge]
    for r in pieces:
        hr = float(np.median(h[r]))
        cr = float(np.median(y[r] + h[r] / 2))
        left = float(x[r].min())
        right = float((x[r] + w[r]).max())
        for chain in chains:
            members, hc, cc, rc = chain
            tall = max(hr, hc)
            if tall / min(hr, hc) > config.row_height_ratio or abs(cr - cc) > config.row_center_tolerance * tall:
                continue
            gap = left - rc
            if -0.5 * tall <= gap <= config.row_join_gap * tall:
                n_old, n_new = len(members), len(r)
                chain[0] = np.concatenate([members, r])
                chain[1] = (hc * n_old + hr * n_new) / (n_old + n_new)
                chain[2] = (cc * n_old + cr * n_new) / (n_old + n_new)
                chain[3] = max(rc, right)
                break
        else:
            chains.append([r, hr, cr, right])
    return [c[0] for c in chains]


def _plate_blobs(view: Binarization, grey: np.ndarray, config: DetectConfig) -> list[PlateCandidate]:
    """Top-down candidates: single components shaped like a plate, holding character-like ink.

    The ink is counted by thresholding each blob's own pixels (Otsu inside the box): a small plate
    is too small for the photo-wide local threshold, whose window then spans the car around it.
    """
    height, width = grey.shape
    w = view.boxes[:, 2]
    h = view.boxes[:, 3]
    aspect = w / np.maximum(h, 1)
    extent = view.areas / np.maximum(w * h, 1)
    plate_like = (
        (aspect >= config.min_plate_aspect)
        & (aspect <= config.max_plate_aspect)
        & (w <= config.max_plate_width_frac * width)
        & (h <= config.max_plate_height_frac * height)
        & (h >= config.min_char_height * 1.3)
        & (extent >= 0.35)  # a plate's background fills most of its box; outlines and lines do not
    )
    idx = np.flatnonzero(plate_like)
    idx = idx[np.argsort(-view.areas[idx], kind="stable")][: config.max_blobs]  # stable: see _char_rows
    light_blob = view.name.endswith("light")
    out = []
    for i in idx:
        bx, by, bw, bh = (int(v) for v in view.boxes[i])
        count = _count_glyphs(grey[by : by + bh, bx : bx + bw], dark_ink=light_blob, config=config)
        if count < 2:
            continue
        out.append(PlateCandidate(Box(bx, by, bw, bh), "component", view.name, count, 0.0, False, "plate-shaped"))
    return out


def _count_glyphs(patch: np.ndarray, dark_ink: bool, config: DetectConfig) -> int:
    """Character-like components inside a plate-shaped patch, thresholded on its own histogram."""
    # The plate's frame hugs its border and, thresholded with the glyphs, joins them all into one
    # component: count inside a slightly smaller box.
    h, w = patch.shape
    patch = patch[int(0.12 * h) : int(0.88 * h) + 1, int(0.04 * w) : int(0.96 * w) + 1]
    if patch.size < 16 or np.ptp(patch) < 0.05:
        return 0
    t = filters.threshold_otsu(patch)
    ink = patch < t if dark_ink else patch > t
    labels = measure.label(ink, connectivity=1)
    count = 0
    bh = patch.shape[0]
    for sl in ndi.find_objects(labels):
        if sl is None:
            continue
        h = sl[0].stop - sl[0].start
        w = sl[1].stop - sl[1].start
        if 0.3 * bh <= h <= 0.95 * bh and config.min_char_aspect <= h / max(w, 1) <= config.max_char_aspect:
            count += 1
    return count


def candidate_features(c: PlateCandidate, image_shape: tuple[int, ...]) -> dict[str, float]:
    """What the rank weighs for one candidate (names as in RankConfig, bias left out)."""
    return {
        "chars": float(min(c.char_count, 8)),
        "chars_over_9": float(max(0, c.char_count - 9)),
        "plate_shaped": float(c.source == "component"),
        "local_dark": float(c.binarization == "local/dark"),
        "local_light": float(c.binarization == "local/light"),
        "otsu_dark": float(c.binarization == "otsu/dark"),
        "otsu_light": float(c.binarization == "otsu/light"),
        "log_aspect": float(np.log(max(c.box.w, 1) / max(c.box.h, 1))),
        "log_height": float(np.log(max(c.box.h, 1) / image_shape[0])),
    }


def rank_score(c: PlateCandidate, image_shape: tuple[int, ...], rank: RankConfig = DEFAULT.rank) -> float:
    """The log-odds that a candidate holds the plate (RankConfig's logistic model)."""
    features = candidate_features(c, image_shape)
    return rank.bias + sum(getattr(rank, name) * value for name, value in features.items())


def _rank(
    candidates: list[PlateCandidate], image_shape: tuple[int, ...], config: DetectConfig, rank: RankConfig
) -> list[PlateCandidate]:
    """Score by the rank model, merge near-duplicates, keep the best few. Scores that tie
    (alpr/ties.py) keep the order the candidates were found in."""
    scored = ties.ranked(
        (
            PlateCandidate(
                c.box, c.source, c.binarization, c.char_count, rank_score(c, image_shape, rank), False, c.reason
            )
            for c in candidates
        ),
        lambda c: c.score,
    )
    kept: list[PlateCandidate] = []
    out: list[PlateCandidate] = []
    for c in scored:
        duplicate = any(c.box.iou(k.box) > config.nms_iou for k in kept)
        if not duplicate and len(kept) < config.max_candidates:
            kept.append(PlateCandidate(c.box, c.source, c.binarization, c.char_count, c.score, True, c.reason))
            out.append(kept[-1])
        else:
            why = "overlaps a better candidate" if duplicate else "ranked below the candidate limit"
            out.append(PlateCandidate(c.box, c.source, c.binarization, c.char_count, c.score, False, why))
    return out


def _overlay_view(views: list[Binarization], ranked: list[PlateCandidate]) -> Binarization:
    """The binarization whose components best explain the top candidate: its glyphs as components.

    A plate-shaped blob comes from the view where the plate is ink; its glyphs are components of
    the opposite polarity, and those are what a person wants to see labelled.
    """
    if ranked:
        name = ranked[0].binarization
        if ranked[0].source == "component":
            name = name.replace("light", "tmp").replace("dark", "light").replace("tmp", "dark")
        for v in views:
            if v.name == name:
                return v
    return views[0]


def _judge_components(
    view: Binarization, is_char: np.ndarray, width: int, height: int, config: DetectConfig
) -> list[Component]:
    """Verdict with a reason for every component big enough to draw."""
    out = []
    for i, (x, y, w, h) in enumerate(view.boxes):
        if h < config.min_char_height or view.areas[i] < 20:
            continue  # specks: thousands of them, nothing to learn from drawing them
        if is_char[i]:
            out.append(
                Component(i + 1, Box(int(x), int(y), int(w), int(h)), int(view.areas[i]), True, "character-like")
            )
            continue
        aspect = w / max(h, 1)
        if w > config.max_plate_width_frac * width:
            reason = f"too wide ({w / width:.0%} of the photo)"
        elif h > config.max_plate_height_frac * height:
            reason = f"too tall ({h / height:.0%} of the photo)"
        elif config.min_plate_aspect <= aspect <= config.max_plate_aspect:
            out.append(Component(i + 1, Box(int(x), int(y), int(w), int(h)), int(view.areas[i]), True, "plate-shaped"))
            continue
        else:
            reason = f"not plate- or character-shaped (w/h {aspect:.1f})"
        out.append(Component(i + 1, Box(int(x), int(y), int(w), int(h)), int(view.areas[i]), False, reason))
    return out


def _scale_box(box: Box, factor: float, shape: tuple[int, ...]) -> Box:
    x0 = max(0, int(round(box.x * factor)))
    y0 = max(0, int(round(box.y * factor)))
    x1 = min(shape[1], int(round(box.x2 * factor)))
    y1 = min(shape[0], int(round(box.y2 * factor)))
    return Box(x0, y0, max(1, x1 - x0), max(1, y1 - y0))
