"""Frozen result objects shared by every stage, the CLI, the app and the tests.

Every stage returns these, so the page draws exactly what the CLI prints and what the tests assert.
Arrays inside them are never written to after the stage that made them returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # plate_reader imports this module; the annotation alone needs its class
    from alpr.plate_reader import WholeRead

CLASSES = tuple("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
REJECT = "_"  # the "not a character" class: lets the classifier say a crop is noise
ALL_CLASSES = CLASSES + (REJECT,)


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in pixels: x, y is the top-left corner."""

    x: int
    y: int
    w: int
    h: int

    @property
    def x2(self) -> int:
        return self.x + self.w

    @property
    def y2(self) -> int:
        return self.y + self.h

    @property
    def area(self) -> int:
        return self.w * self.h

    def corners(self) -> list[dict[str, int]]:
        """Four corners clockwise from top-left, as OpenALPR's JSON writes them."""
        return [
            {"x": self.x, "y": self.y},
            {"x": self.x2, "y": self.y},
            {"x": self.x2, "y": self.y2},
            {"x": self.x, "y": self.y2},
        ]

    def intersection_area(self, other: "Box") -> int:
        ix = max(0, min(self.x2, other.x2) - max(self.x, other.x))
        iy = max(0, min(self.y2, other.y2) - max(self.y, other.y))
        return ix * iy

    def iou(self, other: "Box") -> float:
        inter = self.intersection_area(other)
        union = self.area + other.area - inter
        return inter / union if union else 0.0

    def shifted(self, dx: int, dy: int) -> "Box":
        return Box(self.x + dx, self.y + dy, self.w, self.h)

    def as_dict(self) -> dict[str, int]:
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h}


@dataclass(frozen=True)
class Component:
    """One connected component looked at by plate detection, with the verdict on it."""

    label: int
    box: Box
    area: int
    kept: bool
    reason: str  # why it was kept or the first rule that rejected it, shown on the overlay


@dataclass(frozen=True, eq=False)
class CharCrop:
    """One segmented character: its box inside the plate crop and the pixels the classifier sees."""

    box: Box
    line: int  # 0 for the top row; two-line plates have a line 1
    image: np.ndarray  # float32 (H, W) in [0, 1], dark glyph on light background


@dataclass(frozen=True)
class Prediction:
    """The classifier's verdict on one CharCrop."""

    char: str  # best class, possibly REJECT
    confidence: float  # 0..1
    topk: tuple[tuple[str, float], ...]  # (class, probability), best first
    note: str = ""  # why the pipeline overruled the classifier on this crop, when it did


@dataclass(frozen=True)
class Candidate:
    """One plate string built from the per-character top-k."""

    plate: str
    confidence: float  # 0..100, as OpenALPR reports it
    matches_template: bool


@dataclass(frozen=True, eq=False)
class PlateCandidate:
    """A region that might hold a plate, with how it was found and the verdict on it."""

    box: Box
    source: str  # "component" (one plate-shaped blob) or "char-row" (a row of character-like blobs)
    binarization: str  # e.g. "local/dark"
    char_count: int  # character-like components inside it
    score: float  # log-odds that it holds a plate (config.RankConfig); 0 for a given crop
    kept: bool
    reason: str

    @property
    def likelihood(self) -> float:
        """The rank model's probability, 0..1, that this region holds a plate."""
        return 1.0 / (1.0 + math.exp(-self.score))


@dataclass(frozen=True)
class Recalled:
    """A read recognised as a plate a person labeled: which one, and how sure the match is."""

    plate_id: int  # the label store's plate
    text: str  # what the person said it reads
    similarity: float  # of the two plates' lettering signatures, -1..1 (1: the same pixels)
    edits: int  # between what the classifier read and the remembered text
    glyph_similarity: float = 1.0  # at the glyph where the two differ most, -1..1

    @property
    def why(self) -> str:
        said = "as read" if self.edits == 0 else f"{self.edits} edit{'s' if self.edits > 1 else ''} from the read"
        return (
            f"looks like plate #{self.plate_id} that a person labeled {self.text} "
            f"(appearance {self.similarity:.2f}, every glyph {self.glyph_similarity:.2f} or more; {said})"
        )


@dataclass(frozen=True, eq=False)
class PlateRead:
    """A plate found in the photo, segmented and read."""

    box: Box  # in photo coordinates, fitted around the characters read
    crop_box: Box  # where `crop` was cut from, in photo coordinates; character boxes are relative to it
    crop: np.ndarray  # RGB uint8 crop of the plate
    chars: tuple[CharCrop, ...]
    predictions: tuple[Prediction, ...]
    candidates: tuple[Candidate, ...]  # best first; empty when nothing readable
    binarization: str
    processing_time_ms: float
    # A plate a person labeled that this read looks like (alpr/memory.py): its text is then the
    # first candidate, and the page says which plate was recalled and why.
    recalled: Recalled | None = None
    # What the whole-plate reader (alpr/plate_reader.py) read in this plate's strip, and which of
    # its and the character pipeline's strings the combiner (alpr/combine.py) chose, and why.
    whole: WholeRead | None = None
    why: str = ""

    @property
    def plate(self) -> str:
        return self.candidates[0].plate if self.candidates else ""

    @property
    def confidence(self) -> float:
        return self.candidates[0].confidence if self.candidates else 0.0

    @property
    def matches_template(self) -> bool:
        return bool(self.candidates and self.candidates[0].matches_template)


@dataclass(frozen=True, eq=False)
class Recognition:
    """Everything `recognize` saw and decided for one photo."""

    image: np.ndarray  # RGB uint8 as loaded (EXIF orientation applied)
    grey: np.ndarray  # float (H, W) in [0, 1] at detection scale
    scale: float  # detection-scale pixels per photo pixel
    labels: np.ndarray  # int32 label image of the binarization used for the overlay
    components: tuple[Component, ...]
    plate_candidates: tuple[PlateCandidate, ...]
    plates: tuple[PlateRead, ...]  # best first
    country: str
    topn: int
    timings_ms: dict[str, float] = field(default_factory=dict)
    # Reads not reported because the plate verifier (alpr/verify.py) said they are no plate: (read, why).
    rejected: tuple[tuple[PlateRead, str], ...] = ()

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
