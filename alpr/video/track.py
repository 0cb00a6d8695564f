"""Follow plates across frames: reads of one car form a vehicle group with one voted plate.

Like OpenALPR's `alpr_group`: a read joins the open group it fits best (seen within a short
window, near where the group's plate was, about its size, with similar text), else it opens a
new group. A group's plate is voted per character across its reads, weighted by confidence,
so a character misread in a few frames is outvoted by the frames that read it right.

Weights and confidences are compared through `alpr.ties`: weights within `ties.tolerance` of each
other tie, and a tie goes to what was seen first (the longer plate, for the voted length).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from alpr import ties
from alpr.types import Box, Candidate
from alpr.video.config import DEFAULT_VIDEO, VideoConfig


@dataclass(frozen=True, eq=False)
class FrameRead:
    """One plate read in one sampled frame, kept small: no pixels, only what tracking and the
    JSON need (`result` is the frame's `alpr -j` result object of this plate)."""

    frame: int
    time_s: float
    plate: str
    confidence: float  # 0..100
    matches_template: bool
    box: Box
    candidates: tuple[Candidate, ...]
    result: dict


@dataclass(frozen=True, eq=False)
class VehicleGroup:
    """Every read of one car, and what they agree on."""

    plate: str  # voted across the reads, per character
    confidence: float  # 0..100, see `_vote`
    candidates: tuple[Candidate, ...]  # merged across frames, best first; the voted plate first
    reads: tuple[FrameRead, ...]  # in frame order
    best: FrameRead  # the read that shows the voted plate most confidently (else the most confident)
    crop: np.ndarray | None  # RGB uint8 around the plate in the best read's frame
    direction: str | None  # "left", "right", "approaching", "receding"; None when it cannot be told
    direction_deg: float | None  # image-plane angle of travel, 0 = right, 90 = down the frame

    @property
    def frame_start(self) -> int:
        return self.reads[0].frame

    @property
    def frame_end(self) -> int:
        return self.reads[-1].frame

    @property
    def time_start_s(self) -> float:
        return self.reads[0].time_s

    @property
    def time_end_s(self) -> float:
        return self.reads[-1].time_s

    @property
    def frame_count(self) -> int:
        return len(self.reads)


def similarity(a: str, b: str) -> float:
    """1 - edit distance / longer length: 1 for equal strings, 0 for nothing in common."""
    if not a or not b:
        return 0.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 1.0 - prev[-1] / max(len(a), len(b))


def _centre(box: Box) -> tuple[float, float]:
    return box.x + box.w / 2, box.y + box.h / 2


class _Open:
    """A group being built: its reads so far and the best crop seen."""

    def __init__(self, read: FrameRead, crop):
        self.reads: list[FrameRead] = []
        self.texts: dict[str, float] = defaultdict(float)
        # The best crop per distinct text, so the finished group shows the crop of its best read
        # without keeping one crop per read.
        self.crops: dict[str, tuple[float, object]] = {}
        self.add(read, crop)

    @property
    def last(self) -> FrameRead:
        return self.reads[-1]

    def leading_text(self) -> str:
        return ties.best(self.texts, self.texts.get)

    def add(self, read: FrameRead, crop) -> None:
        self.reads.append(read)
        self.texts[read.plate] += read.confidence
        if crop is not None and ties.above(read.confidence, self.crops.get(read.plate, (-1.0, None))[0]):
            self.crops[read.plate] = (read.confidence, crop)


class Tracker:
    """Builds vehicle groups from reads fed frame by frame; `groups()` closes them."""

    def __init__(self, config: VideoConfig = DEFAULT_VIDEO):
        self.config = config
        self.open: list[_Open] = []
        self.closed: list[_Open] = []

    def add_frame(self, reads: list[FrameRead], crops: list | None = None) -> None:
        """The reads of one sampled frame (all with the same time), optionally each with its crop."""
        cfg = self.config
        crops = crops if crops is not None else [None] * len(reads)
        now = reads[0].time_s if reads else None
        if now is not None:
            self._close_older_than(now - cfg.window_s)
        taken: set[int] = set()
        order = ties.ranked(range(len(reads)), lambda i: reads[i].confidence)
        for i in order:
            read = reads[i]
            if not ties.at_least(read.confidence, cfg.min_confidence) or not read.plate:
                continue
            match = self._best_match(read, taken)
            if match is None:
                self.open.append(_Open(read, crops[i]))
                taken.add(id(self.open[-1]))
            else:
                match.add(read, crops[i])
                taken.add(id(match))

    def _close_older_than(self, time_s: float) -> None:
        still = []
        for g in self.open:
            (still if g.last.time_s >= time_s else self.closed).append(g)
        self.open = still

    def _best_match(self, read: FrameRead, taken: set[int]) -> _Open | None:
        cfg = self.config
        best, best_key = None, None
        cx, cy = _centre(read.box)
        for g in self.open:
            if id(g) in taken:
                continue  # one read per group per frame: two plates in a frame are two cars
            last = g.last
            text = max(similarity(read.plate, last.plate), similarity(read.plate, g.leading_text()))
            dt = max(read.time_s - last.time_s, 1e-3)
            lx, ly = _centre(last.box)
            width = max(last.box.w, read.box.w, 1)
            shift = math.hypot(cx - lx, cy - ly) / width  # in plate widths
            size = max(read.box.w / max(last.box.w, 1), last.box.w / max(read.box.w, 1))
            near = shift <= cfg.max_shift_per_s * max(dt, 0.25) and size <= cfg.max_size_ratio
            if not ((near and text >= cfg.min_text_similarity) or text >= cfg.same_text_similarity):
                continue
            key = (text, -shift)
            if best_key is None or key > best_key:
                best, best_key = g, key
        return best

    def groups(self) -> list[VehicleGroup]:
        """Every group with at least `min_frames` reads, by first appearance."""
        self._close_older_than(math.inf)
        built = [_finish(g, self.config) for g in self.closed if len(g.reads) >= self.config.min_frames]
        return sorted(built, key=lambda g: (g.time_start_s, g.best.box.x))


def group_reads(frames: list[list[FrameRead]], config: VideoConfig = DEFAULT_VIDEO) -> list[VehicleGroup]:
    """The vehicle groups of reads given frame by frame (for tests and re-grouping stored reads)."""
    tracker = Tracker(config)
    for reads in frames:
        tracker.add_frame(reads)
    return tracker.groups()


def _vote(reads: list[FrameRead]) -> tuple[str, float]:
    """The plate voted per character, and its confidence.

    The length is the one whose reads weigh most (weight: confidence); then each position takes
    the character with the largest summed confidence over every read's candidates of that length,
    so a frame whose first guess was wrong still votes with its second. Confidence: the mean, over
    positions, of the winning character's share of the vote, times the mean confidence of the
    reads of that length: a plate every frame agrees on keeps its frames' confidence.
    """
    by_length: dict[int, float] = defaultdict(float)
    for r in reads:
        by_length[len(r.plate)] += r.confidence
    length = ties.best(by_length, by_length.get, lambda n: -n)
    votes = [defaultdict(float) for _ in range(length)]
    for r in reads:
        if len(r.plate) != length:
            continue
        for c in r.candidates or (Candidate(r.plate, r.confidence, r.matches_template),):
            if len(c.plate) != length:
                continue
            for k, ch in enumerate(c.plate):
                votes[k][ch] += c.confidence
    plate = "".join(ties.best(v, v.get) for v in votes)
    share = float(np.mean([max(v.values()) / sum(v.values()) for v in votes]))
    same = [r.confidence for r in reads if len(r.plate) == length]
    return plate, share * float(np.mean(same))


def _merged_candidates(reads: list[FrameRead], voted: str, confidence: float, topn: int = 10) -> tuple[Candidate, ...]:
    """Each distinct string any frame offered, with its mean confidence over the group's frames
    (a frame that did not offer it counts 0); the voted plate first."""
    total: dict[str, float] = defaultdict(float)
    template: dict[str, bool] = {}
    for r in reads:
        for c in r.candidates:
            total[c.plate] += c.confidence
            template[c.plate] = template.get(c.plate, False) or c.matches_template
    n = len(reads)
    ranked = ties.ranked(((p, t / n) for p, t in total.items() if p != voted), lambda pc: pc[1])
    first = Candidate(voted, round(max(confidence, total.get(voted, 0.0) / n), 3), template.get(voted, False))
    return (first,) + tuple(Candidate(p, round(c, 3), template[p]) for p, c in ranked[: topn - 1])


def _direction(reads: list[FrameRead], config: VideoConfig) -> tuple[str | None, float | None]:
    if len(reads) < 2:
        return None, None
    a, b = reads[0].box, reads[-1].box
    (ax, ay), (bx, by) = _centre(a), _centre(b)
    width = float(np.median([r.box.w for r in reads]))
    dx, dy = (bx - ax) / width, (by - ay) / width
    growth = b.w / max(a.w, 1)
    if math.hypot(dx, dy) >= config.min_travel_widths:
        angle = math.degrees(math.atan2(dy, dx)) % 360
        if abs(dx) >= abs(dy):
            return ("right" if dx > 0 else "left"), round(angle, 1)
        return ("approaching" if dy > 0 else "receding"), round(angle, 1)
    if growth > 1.3 or growth < 1 / 1.3:  # straight at the camera: the plate only grows or shrinks
        return ("approaching" if growth > 1 else "receding"), None
    return None, None


def _finish(g: _Open, config: VideoConfig) -> VehicleGroup:
    reads = g.reads
    plate, confidence = _vote(reads)
    same = [r for r in reads if r.plate == plate]
    best = ties.best(same or reads, lambda r: r.confidence)
    if same:
        confidence = max(confidence, best.confidence)
    direction, angle = _direction(reads, config)
    return VehicleGroup(
        plate,
        round(confidence, 3),
        _merged_candidates(reads, plate, confidence),
        tuple(reads),
        best,
        g.crops.get(best.plate, (0, None))[1],
        direction,
        angle,
    )
