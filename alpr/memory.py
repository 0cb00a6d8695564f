"""Stage 5: plates a person taught the reader, recognised when they are seen again, and only then.

A character classifier cannot learn what its crops do not show: an O and a 0 drawn alike, a plate
cut into six segments for seven characters. A person who corrects a plate knows its whole text, so
every plate a person confirmed or corrected is remembered with what it looks like: a small grey
signature of its lettering (the box around its glyphs) and where each glyph sits in it.

A recall must mean *the same plate*, never another plate of the same design (two Slovak `RK`
plates correlate at 0.99 as whole images). A later read takes a remembered plate's text only when

* its lettering, aligned on its own glyphs, looks like the remembered one as a whole
  (`min_similarity`) *and* at every remembered glyph (`min_glyph_similarity`): one glyph that
  differs is another plate, however alike the rest;
* it reads within `max_edits` of the remembered text, and every character it read surely
  (`sure_char`) agrees with the remembered text there or is a look-alike of it (O/0, B/8, ...): a
  sure "1" where a person typed "8" is another plate.

The very same plate image read again (the photo re-read: every glyph at `same_plate_similarity`)
is recalled however far its read went, since a plate cut into the wrong pieces reads far from its
text but still looks like itself. Missing a recall costs one read; recalling the wrong plate
reports another car, so every test leans towards missing.

A fine-tune writes the memory of the store's plates beside the model it registers
(`char_cnn.plates.npz`); `alpr.classify.load_classifier` loads it with the model, and the pipeline
asks it about every read. The shipped model has none, so nothing changes until a person teaches it.

    memory = PlateMemory.from_photos([(photo, box, "ABC1234", "us", plate_id, glyph_boxes), ...])
    memory.save(folder / "char_cnn.plates.npz")
    recalled = PlateMemory.load(path).recall(read, "us")   # a Recalled, or None
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from alpr.config import DEFAULT, MemoryConfig
from alpr.errors import ModelError
from alpr.types import REJECT, Box, PlateRead, Recalled

MEMORY_SUFFIX = ".plates.npz"
# Glyph windows kept per remembered plate: no plate of a supported region has more characters.
MAX_GLYPHS = 10
log = logging.getLogger("alpr.memory")


def memory_path(model_path: str | Path) -> Path:
    """Where a model's plate memory lives: beside it, `char_cnn.keras` -> `char_cnn.plates.npz`."""
    return Path(model_path).with_suffix(MEMORY_SUFFIX)


def signature(image: np.ndarray, box: Box, config: MemoryConfig = DEFAULT.memory) -> np.ndarray | None:
    """The look of BOX in IMAGE as the memory compares it: its grey pixels scaled to a fixed size,
    blurred a little, zero mean and unit norm. A box reaching past the image's edge is filled with
    the edge's pixels (a tight plate crop must look the same however little margin it has). None
    for a box mostly outside the image or too small to say anything."""
    from skimage.filters import gaussian
    from skimage.transform import resize

    h, w = image.shape[:2]
    x0, y0, x1, y1 = int(round(box.x)), int(round(box.y)), int(round(box.x + box.w)), int(round(box.y + box.h))
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if cx1 - cx0 < 4 or cy1 - cy0 < 4 or (cx1 - cx0) * (cy1 - cy0) < 0.5 * (x1 - x0) * (y1 - y0):
        return None
    region = image[cy0:cy1, cx0:cx1]
    grey = (region.mean(axis=2) if region.ndim == 3 else region).astype(np.float32)
    grey = np.pad(grey, ((cy0 - y0, y1 - cy1), (cx0 - x0, x1 - cx1)), mode="edge")
    small = resize(grey, config.signature_shape, anti_aliasing=True, preserve_range=True)
    small = gaussian(small, sigma=config.signature_blur, preserve_range=True)
    small = small - small.mean()
    norm = float(np.linalg.norm(small))
    if norm < 1e-6:  # a flat patch: no look to compare
        return None
    return (small / norm).astype(np.float32)


def lettering_box(glyphs: Sequence[Box], config: MemoryConfig = DEFAULT.memory) -> Box | None:
    """The box the memory compares: around the glyphs, grown by `lettering_margin` of their median
    height. Aligning on the glyphs themselves, not on a plate box that a crop's edge clips
    differently from one read to the next, is what lets glyph windows line up."""
    if not glyphs:
        return None
    m = config.lettering_margin * float(np.median([g.h for g in glyphs]))
    x0, y0 = min(g.x for g in glyphs) - m, min(g.y for g in glyphs) - m
    x1, y1 = max(g.x2 for g in glyphs) + m, max(g.y2 for g in glyphs) + m
    return Box(round(x0), round(y0), round(x1 - x0), round(y1 - y0))


def glyph_windows(glyphs: Sequence[Box], lettering: Box, config: MemoryConfig = DEFAULT.memory) -> np.ndarray:
    """Each glyph's box in signature pixels (x0, y0, x1, y1), rows padded with NaN to MAX_GLYPHS."""
    rows, cols = config.signature_shape
    out = np.full((MAX_GLYPHS, 4), np.nan, np.float32)
    for i, g in enumerate(list(glyphs)[:MAX_GLYPHS]):
        out[i] = (
            (g.x - lettering.x) * cols / lettering.w,
            (g.y - lettering.y) * rows / lettering.h,
            (g.x2 - lettering.x) * cols / lettering.w,
            (g.y2 - lettering.y) * rows / lettering.h,
        )
    return out


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def contradiction(read: PlateRead, text: str, config: MemoryConfig = DEFAULT.memory) -> str | None:
    """The first character of READ that rules out the remembered TEXT, as "X for Y" (Y is the
    text's character there, "nothing" where the text has none), or None when the read could be
    TEXT. A character read as something else contradicts the text's when the classifier is sure of
    it (`sure_char`) or gives the text's character less than `min_char_probability`, unless the two
    are look-alikes (`look_alikes`: O/0, B/8, ...); a character the text lacks contradicts it when
    read surely. A character the read missed contradicts nothing (a cut may lose a glyph).

    The read and the text are aligned by edit distance; among alignments of equal cost the one
    with fewer contradictions is taken, so the answer never hinges on which of two equal
    alignments a loop meets first."""
    read_chars = [p for p in read.predictions if p.char != REJECT]
    n, m = len(read_chars), len(text)

    def against(i: int, j: int) -> bool:  # read_chars[i] aligned with text[j], j == -1: with nothing
        p = read_chars[i]
        if j < 0:
            return p.confidence >= config.sure_char
        if p.char == text[j] or _look_alike(p.char, text[j], config):
            return False
        room = dict(p.topk).get(text[j], 0.0)
        return p.confidence >= config.sure_char or room < config.min_char_probability

    # cost[i][j]: (edits, contradictions) aligning read_chars[:i] with text[:j]; step[i][j] the move.
    cost = [[(0, 0)] * (m + 1) for _ in range(n + 1)]
    step = [[""] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            options = []
            if i and j:
                e, s = cost[i - 1][j - 1]
                options.append(((e + (read_chars[i - 1].char != text[j - 1]), s + against(i - 1, j - 1)), "pair"))
            if i:
                e, s = cost[i - 1][j]
                options.append(((e + 1, s + against(i - 1, -1)), "extra"))
            if j:
                e, s = cost[i][j - 1]
                options.append(((e + 1, s), "missed"))
            if options:  # ties between moves: the order above (pair, extra, missed)
                cost[i][j], step[i][j] = min(options, key=lambda o: o[0])
    if cost[n][m][1] == 0:
        return None
    i, j, first = n, m, None
    while i or j:
        move = step[i][j]
        if move == "pair":
            if against(i - 1, j - 1):
                first = f"{read_chars[i - 1].char} for {text[j - 1]}"
            i, j = i - 1, j - 1
        elif move == "extra":
            if against(i - 1, -1):
                first = f"{read_chars[i - 1].char} for nothing"
            i -= 1
        else:
            j -= 1
    return first


def _look_alike(a: str, b: str, config: MemoryConfig) -> bool:
    return any(a in pair and b in pair for pair in config.look_alikes)


class PlateMemory:
    """Remembered plates: their lettering's signatures and glyph windows, texts, regions, aspects
    and store ids."""

    def __init__(
        self,
        signatures: np.ndarray,
        texts: Iterable[str],
        regions: Iterable[str],
        aspects: Iterable[float],
        plate_ids: Iterable[int],
        glyphs: np.ndarray | None = None,
        config: MemoryConfig = DEFAULT.memory,
    ):
        self.signatures = np.asarray(signatures, np.float32).reshape(-1, *config.signature_shape)
        self.texts = [str(t) for t in texts]
        self.regions = [str(r).lower() for r in regions]
        self.aspects = np.asarray(list(aspects), np.float32)
        self.plate_ids = [int(i) for i in plate_ids]
        if glyphs is None:  # a memory written before glyph windows: recalls nothing (train again)
            glyphs = np.full((len(self.texts), MAX_GLYPHS, 4), np.nan, np.float32)
        self.glyphs = np.asarray(glyphs, np.float32).reshape(-1, MAX_GLYPHS, 4)
        self.config = config
        lengths = {len(self.texts), len(self.regions), len(self.aspects), len(self.plate_ids)}
        if lengths != {len(self.signatures)} or len(self.glyphs) != len(self.signatures):
            raise ModelError("a plate memory's arrays have different lengths; train again to write a new one")

    def __len__(self) -> int:
        return len(self.texts)

    def taught(self) -> list[tuple[int, str]]:
        """(plate id, text) of every remembered plate."""
        return list(zip(self.plate_ids, self.texts))

    @classmethod
    def from_photos(cls, plates: Iterable[tuple], config: MemoryConfig = DEFAULT.memory) -> "PlateMemory":
        """A memory of (photo, plate box in its pixels, text, region, plate id[, glyph boxes in the
        photo's pixels]). Without glyph boxes the plate is segmented here (alpr/segment.py); plates
        whose lettering shows nothing to compare are left out."""
        kept = []
        for image, box, text, region, plate_id, *rest in plates:
            glyphs = list(rest[0]) if rest and rest[0] else _segment_glyphs(image, box)
            lettering = lettering_box(glyphs, config)
            sig = signature(image, lettering, config) if lettering is not None else None
            if sig is not None and text:
                windows = glyph_windows(glyphs, lettering, config)
                kept.append((sig, text, region or "", lettering.w / max(lettering.h, 1), plate_id, windows))
        if not kept:
            empty = np.zeros((0, *config.signature_shape), np.float32)
            return cls(empty, [], [], [], [], np.zeros((0, MAX_GLYPHS, 4), np.float32), config)
        sigs, texts, regions, aspects, ids, windows = zip(*kept)
        return cls(np.stack(sigs), texts, regions, aspects, ids, np.stack(windows), config)

    def recall(self, read: PlateRead, region: str) -> Recalled | None:
        """The remembered plate this read shows, or None (module docstring: when a read recalls)."""
        c = self.config
        kept = [ch.box for ch, p in zip(read.chars, read.predictions) if p.char != REJECT]
        lettering = lettering_box(kept, c)
        if not len(self) or lettering is None:
            return None
        plain = signature(read.crop, lettering, c)
        if plain is None:
            return None
        # One comparison with every remembered plate first; the aligned views and the glyph
        # windows only for those that read alike or already look nearly the same.
        looks = np.tensordot(self.signatures, plain, axes=([1, 2], [0, 1]))
        views: dict[Box, np.ndarray] = {}
        best: Recalled | None = None
        best_key: tuple = ()
        for k, text in enumerate(self.texts):
            if self.regions[k] and self.regions[k] != region.lower():
                continue
            edits = edit_distance(read.plate, text)
            # A text the read rules out (too many edits, a sure character that differs) can only be
            # recalled as the same image; one that does not already look nearly the same is skipped
            # before its aligned views (27 signatures a frame) are computed.
            ruled_out = edits > c.max_edits or contradiction(read, text, c) is not None
            if ruled_out and looks[k] < c.same_plate_similarity - c.jitter:
                continue
            seen = None  # (similarity, glyph similarity) of the best-aligned view
            for frame in [lettering, *_fitted_frames(read, self.glyphs[k], c)]:
                aspect = frame.w / max(frame.h, 1)
                if abs(np.log(aspect / max(float(self.aspects[k]), 1e-3))) > c.max_aspect_log_ratio:
                    continue
                if frame not in views:
                    views[frame] = _jittered(read.crop, frame, c)
                if not len(views[frame]):
                    continue
                scores = np.tensordot(views[frame], self.signatures[k], axes=([1, 2], [0, 1]))
                v = int(np.argmax(scores))  # ties: the first view; the frame as found comes first
                glyph = _glyph_similarity(views[frame][v], self.signatures[k], self.glyphs[k])
                aligned = (round(float(scores[v]), 4), round(glyph, 4))
                seen = aligned if seen is None else max(seen, aligned)
            if seen is None:
                continue
            similarity, glyph = seen
            same_image = similarity >= c.same_plate_similarity and glyph >= c.same_plate_glyph_similarity
            alike = not ruled_out and similarity >= c.min_similarity and glyph >= c.min_glyph_similarity
            # Ties between remembered plates: the more alike at the glyphs first, then the lower id.
            key = (glyph, similarity, -self.plate_ids[k])
            if (same_image or alike) and (best is None or key > best_key):
                best = Recalled(self.plate_ids[k], text, round(similarity, 3), edits, round(glyph, 3))
                best_key = key
        return best

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            path,
            signatures=self.signatures.astype(np.float16),
            texts=np.array(self.texts, dtype=str),
            regions=np.array(self.regions, dtype=str),
            aspects=self.aspects,
            plate_ids=np.array(self.plate_ids, np.int64),
            glyphs=self.glyphs,
        )

    @classmethod
    def load(cls, path: str | Path, config: MemoryConfig = DEFAULT.memory) -> "PlateMemory":
        try:
            with np.load(path, allow_pickle=False) as z:
                glyphs = z["glyphs"] if "glyphs" in z.files else None
                if glyphs is None:
                    log.warning("plate memory %s predates glyph windows: it recalls nothing until a training run", path)
                return cls(
                    z["signatures"].astype(np.float32),
                    z["texts"],
                    z["regions"],
                    z["aspects"],
                    z["plate_ids"],
                    glyphs,
                    config,
                )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"plate memory {path} is unreadable ({exc}); train again to write a new one") from None


def _fitted_frames(read: PlateRead, windows: np.ndarray, config: MemoryConfig) -> list[Box]:
    """Where the remembered plate's signature frame lies in the read's crop, fitted on the glyphs:
    one frame for each run of as many consecutive segments as the remembered plate has glyphs
    (a band or a bolt cut as one more segment at an end is left out by one of the runs), each
    mapping the run's glyph edges onto the remembered glyph windows by least squares, x and y
    apart. A box around the glyphs moves with every pixel a glyph is found off; a fit on all
    their edges hardly does."""
    count = int((~np.isnan(windows[:, 0])).sum())
    chars = [ch.box for ch in read.chars]
    if count < 2 or len(chars) < count:
        return []
    rows, cols = config.signature_shape
    frames = []
    for i in range(len(chars) - count + 1):
        run = chars[i : i + count]
        xs = np.array([v for g in run for v in (g.x, g.x2)], np.float64)
        ys = np.array([v for g in run for v in (g.y, g.y2)], np.float64)
        wx = windows[:count, [0, 2]].reshape(-1).astype(np.float64)
        wy = windows[:count, [1, 3]].reshape(-1).astype(np.float64)
        if np.ptp(xs) < 1 or np.ptp(ys) < 1:
            continue
        ax, bx = np.polyfit(xs, wx, 1)  # signature column = ax * crop x + bx
        ay, by = np.polyfit(ys, wy, 1)
        if ax <= 0 or ay <= 0:
            continue
        frames.append(Box(round(-bx / ax), round(-by / ay), round(cols / ax), round(rows / ay)))
    return frames


def _segment_glyphs(image: np.ndarray, box: Box) -> list[Box]:
    """The glyphs of the plate at BOX, in the photo's pixels, as the segmenter cuts them."""
    from alpr.segment import crop_plate, segment

    crop, crop_box = crop_plate(image, box)
    return [Box(c.box.x + crop_box.x, c.box.y + crop_box.y, c.box.w, c.box.h) for c in segment(crop).chars]


def _glyph_similarity(view: np.ndarray, remembered: np.ndarray, windows: np.ndarray) -> float:
    """The lowest normalised cross-correlation of VIEW and REMEMBERED over the remembered plate's
    glyph windows: how alike the two are at the glyph that differs most. -1 without windows."""
    rows, cols = view.shape
    worst = None
    for x0, y0, x1, y1 in windows:
        if np.isnan(x0):
            continue
        c0, r0 = max(0, int(np.floor(x0)) - 1), max(0, int(np.floor(y0)) - 1)
        c1, r1 = min(cols, int(np.ceil(x1)) + 1), min(rows, int(np.ceil(y1)) + 1)
        if c1 - c0 < 2 or r1 - r0 < 2:
            continue
        a, b = view[r0:r1, c0:c1], remembered[r0:r1, c0:c1]
        a, b = a - a.mean(), b - b.mean()
        norm = float(np.linalg.norm(a) * np.linalg.norm(b))
        ncc = float((a * b).sum()) / norm if norm > 1e-9 else 0.0
        worst = ncc if worst is None else min(worst, ncc)
    return -1.0 if worst is None else worst


def _jittered(image: np.ndarray, box: Box, config: MemoryConfig) -> np.ndarray:
    """Signatures of the box moved and scaled a little (`jitter` of its size each way), the box as
    it is first: glyphs are found a pixel or two differently from one model or photo to the next."""
    j = config.jitter
    views = []
    for scale in (1.0, 1 - j, 1 + j):
        w, h = box.w * scale, box.h * scale
        for dx in (0.0, -j, j):
            for dy in (0.0, -j, j):
                x = box.x + (box.w - w) / 2 + dx * box.w
                y = box.y + (box.h - h) / 2 + dy * box.h
                sig = signature(image, Box(round(x), round(y), round(w), round(h)), config)
                if sig is not None:
                    views.append(sig)
    return np.stack(views) if views else np.zeros((0, *config.signature_shape), np.float32)
