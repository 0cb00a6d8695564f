"""What the label store returns: frozen records of stored characters and plates, and what a
labeling, undo, import or export did."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field

import numpy as np

from alpr.labels.rows import decode_crop
from alpr.types import Box


@dataclass(frozen=True, eq=False)
class StoredChar:
    """One character crop as stored, with the model's guess and its effective label (if any)."""

    id: int
    plate_id: int
    idx: int
    line: int
    box: Box  # in photo pixels; in crop pixels for plates without a photo
    image: np.ndarray  # float32 (size, size) in [0, 1], as the classifier saw it (to 1/255)
    pred_char: str | None
    pred_conf: float | None
    topk: tuple[tuple[str, float], ...]
    model_version: str | None
    label: str | None  # the effective label; None when the character has never been labeled
    source: str | None  # 'model', 'person' or 'import'
    author: str | None


@dataclass(frozen=True)
class StoredPlate:
    id: int
    photo_id: int | None
    name: str  # the photo's name; "" for plates imported as character crops
    box: Box | None
    text_read: str
    text_confirmed: str | None
    country: str | None
    created_at: str
    characters: int
    labeled: int  # characters whose effective label is a person's or an import's
    not_a_plate: bool = False  # a person said the detector's box holds no plate


@dataclass(frozen=True)
class PlateLabelResult:
    """What labeling a whole plate did. `matched` is False when the segmentation count differs."""

    plate_id: int | None
    matched: bool
    characters: int  # segments the plate was cut into
    text: str  # the plate text as stored ("_" marks a segment that is not a character)
    created: bool  # a new plate row was written
    message: str


@dataclass(frozen=True)
class Undone:
    """The action `undo_last` took back."""

    action_id: int
    kind: str  # 'label' (one character), 'plate' (a whole plate typed at once), 'merge' or 'split'
    plate_id: int | None
    char_ids: tuple[int, ...]  # merge/split: the plate's characters after the undo, in reading order
    labels: tuple[str, ...]  # the labels that were undone, in character order; () for merge/split
    author: str | None


@dataclass
class ImportResult:
    plates: int = 0  # new plates stored
    matched: int = 0  # ... whose characters got labels
    unmatched: int = 0  # ... stored with their text but unlabeled characters (segmentation count differs)
    characters: int = 0  # labels written
    skipped: int = 0  # already in the store
    failed: list[str] = field(default_factory=list)  # "path: reason" of what could not be read

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ExportResult:
    characters: int
    per_class: dict[str, int]


def stored_char(r: sqlite3.Row) -> StoredChar:
    topk = tuple((k, float(v)) for k, v in json.loads(r["topk"])) if r["topk"] else ()
    return StoredChar(
        r["id"],
        r["plate_id"],
        r["idx"],
        r["line"],
        Box(r["x"], r["y"], r["w"], r["h"]),
        decode_crop(r["crop"], None),
        r["pred_char"],
        r["pred_conf"],
        topk,
        r["model_version"],
        r["label"],
        r["source"],
        r["author"],
    )


def stored_plate(r: sqlite3.Row) -> StoredPlate:
    box = Box(r["x"], r["y"], r["w"], r["h"]) if r["x"] is not None else None
    return StoredPlate(
        r["id"],
        r["photo_id"],
        r["name"],
        box,
        r["text_read"],
        r["text_confirmed"],
        r["country"],
        r["created_at"],
        r["characters"],
        r["labeled"],
        r["not_a_plate_at"] is not None,
    )
