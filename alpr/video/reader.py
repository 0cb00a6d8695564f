"""The facade: `read_clip(path)` decodes sampled frames, reads each, and groups the reads by car."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from alpr.classify import CharClassifier
from alpr.config import DEFAULT
from alpr.pipeline import default_classifier, recognize
from alpr.report import to_openalpr
from alpr.types import Box, Recognition
from alpr.video import decode
from alpr.video.config import DEFAULT_VIDEO, VideoConfig
from alpr.video.track import FrameRead, Tracker, VehicleGroup

# A frame with no plate is the common case in a clip, and a plate one frame misses the next ones
# see: the photo's second looks for a close-up or a far plate (pipeline._second_looks, up to 5x a
# frame's reading time when nothing is found) are left to photos.
FRAME_CONFIG = replace(DEFAULT, detect=replace(DEFAULT.detect, closeup_shrink=0.0, far_zoom=0.0))


@dataclass(frozen=True)
class SampledFrame:
    """A frame that was read: where it is, and how many plates it showed (no pixels)."""

    index: int
    time_s: float
    plates: int


@dataclass(frozen=True, eq=False)
class ClipRead:
    """Everything `read_clip` found in a clip, small enough to keep: no frame's pixels but the
    groups' crops."""

    info: decode.ClipInfo
    groups: tuple[VehicleGroup, ...]
    frames: tuple[SampledFrame, ...]
    reads: tuple[FrameRead, ...]  # every tracked and untracked plate read, in frame order
    warnings: tuple[str, ...]
    seconds: float  # wall time of the read
    config: VideoConfig

    @property
    def frames_per_s(self) -> float:
        return len(self.frames) / self.seconds if self.seconds else 0.0


def frame_reads(rec: Recognition, frame: decode.Frame, name: str) -> list[FrameRead]:
    """One FrameRead per plate of a frame's Recognition, each with its `alpr -j` result object."""
    results = to_openalpr(rec, name)["results"]
    return [
        FrameRead(frame.index, frame.time_s, p.plate, p.confidence, p.matches_template, p.box, p.candidates, result)
        for p, result in zip(rec.plates, results)
    ]


def plate_crop(image: np.ndarray, box: Box, margin: float = 0.6) -> np.ndarray:
    """The plate with a margin of its own size around it: enough car to recognise it by."""
    mx, my = int(box.w * margin), int(box.h * margin * 2)
    y0, y1 = max(0, box.y - my), min(image.shape[0], box.y2 + my)
    x0, x1 = max(0, box.x - mx), min(image.shape[1], box.x2 + mx)
    return np.ascontiguousarray(image[y0:y1, x0:x1])


def read_clip(
    source: decode.Source,
    classifier: CharClassifier | None = None,
    config: VideoConfig = DEFAULT_VIDEO,
    country: str = "us",
    topn: int = 10,
    name: str | None = None,
    progress: Callable[[float, float], None] | None = None,
    on_frame: Callable[[decode.Frame, Recognition], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> ClipRead:
    """Read the plates of a clip's sampled frames and group them by car.

    `progress(seconds_read, clip_seconds)` is called after each sampled frame (clip_seconds is 0
    when the container does not say); `on_frame(frame, recognition)` sees each frame's full read
    before it is dropped; `warn(message)` each decoding warning as it happens. Raises a
    `VideoError` when the file is not a readable clip. Memory stays flat: only the small
    FrameReads and each group's best crop outlive a frame.
    """
    classifier = classifier or default_classifier()
    label = name or (str(source) if not isinstance(source, bytes) else "clip")
    warnings: list[str] = []
    infos: list[decode.ClipInfo] = []

    def said(message: str) -> None:
        warnings.append(message)
        if warn is not None:
            warn(message)

    tracker = Tracker(config)
    sampled: list[SampledFrame] = []
    reads: list[FrameRead] = []
    t0 = time.perf_counter()
    for frame in decode.frames(source, config, name=label, warn=said, info=infos.append):
        rec = recognize(frame.image, country=country, topn=topn, classifier=classifier, config=FRAME_CONFIG)
        found = frame_reads(rec, frame, label)
        tracker.add_frame(found, [plate_crop(frame.image, r.box) for r in found])
        reads += found
        sampled.append(SampledFrame(frame.index, frame.time_s, len(found)))
        if on_frame is not None:
            on_frame(frame, rec)
        del rec
        if progress is not None:
            total = min(infos[0].duration_s, config.max_duration_s) if infos else 0.0
            progress(frame.time_s, total)
    return ClipRead(
        infos[0],
        tuple(tracker.groups()),
        tuple(sampled),
        tuple(reads),
        tuple(warnings),
        time.perf_counter() - t0,
        config,
    )
