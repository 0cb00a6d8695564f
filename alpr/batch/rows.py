"""The batch row: one photo, its size, its plates, how long it took, or why it could not be read.

One Arrow schema (`SCHEMA`) describes the row for both writers: Parquet stores it as nested
columns, JSONL stores `to_record(row)` (the same field names and nesting) one object per line,
and `from_record` reads either back into the same frozen dataclasses, so rows from any engine
and any format compare with `==`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyarrow as pa

from alpr.errors import AlprError

# Confidences are rounded as `recognize --json` rounds them (alpr/report.py), so a batch row and
# the CLI's JSON agree digit for digit, and the last bits of a float sum (which may differ between
# processes with different thread counts) never make two engines' rows differ.
PLATE_DIGITS = 3
CHAR_DIGITS = 4


@dataclass(frozen=True)
class BoxRow:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class CandidateRow:
    plate: str
    confidence: float  # 0..100
    matches_template: bool


@dataclass(frozen=True)
class CharacterRow:
    char: str
    confidence: float  # 0..1
    box: BoxRow  # in photo coordinates


@dataclass(frozen=True)
class PlateRow:
    plate: str
    confidence: float  # 0..100, the best candidate's
    box: BoxRow
    candidates: tuple[CandidateRow, ...]
    characters: tuple[CharacterRow, ...]


@dataclass(frozen=True)
class PhotoRow:
    """One photo's result. `error` is None for a photo read (with or without plates)."""

    path: str
    width: int | None
    height: int | None
    plates: tuple[PlateRow, ...]
    processing_ms: float
    error: str | None = None

    def same_read(self, other: PhotoRow) -> bool:
        """Equal in everything but the time it took: what tests compare across engines."""
        return (self.path, self.width, self.height, self.plates, self.error) == (
            other.path,
            other.width,
            other.height,
            other.plates,
            other.error,
        )


_BOX = pa.struct([("x", pa.int32()), ("y", pa.int32()), ("w", pa.int32()), ("h", pa.int32())])
SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        (
            "plates",
            pa.list_(
                pa.struct(
                    [
                        ("plate", pa.string()),
                        ("confidence", pa.float64()),
                        ("box", _BOX),
                        (
                            "candidates",
                            pa.list_(
                                pa.struct(
                                    [
                                        ("plate", pa.string()),
                                        ("confidence", pa.float64()),
                                        ("matches_template", pa.bool_()),
                                    ]
                                )
                            ),
                        ),
                        (
                            "characters",
                            pa.list_(pa.struct([("char", pa.string()), ("confidence", pa.float64()), ("box", _BOX)])),
                        ),
                    ]
                )
            ),
        ),
        ("processing_ms", pa.float64()),
        ("error", pa.string()),
    ]
)


def to_record(row: PhotoRow) -> dict:
    """The row as plain dicts and lists in SCHEMA's shape (for JSON and for pyarrow)."""

    def box(b: BoxRow) -> dict:
        return {"x": b.x, "y": b.y, "w": b.w, "h": b.h}

    return {
        "path": row.path,
        "width": row.width,
        "height": row.height,
        "plates": [
            {
                "plate": p.plate,
                "confidence": p.confidence,
                "box": box(p.box),
                "candidates": [
                    {"plate": c.plate, "confidence": c.confidence, "matches_template": c.matches_template}
                    for c in p.candidates
                ],
                "characters": [{"char": c.char, "confidence": c.confidence, "box": box(c.box)} for c in p.characters],
            }
            for p in row.plates
        ],
        "processing_ms": row.processing_ms,
        "error": row.error,
    }


def from_record(rec: dict) -> PhotoRow:
    def box(d: dict) -> BoxRow:
        return BoxRow(d["x"], d["y"], d["w"], d["h"])

    return PhotoRow(
        path=rec["path"],
        width=rec["width"],
        height=rec["height"],
        plates=tuple(
            PlateRow(
                p["plate"],
                p["confidence"],
                box(p["box"]),
                tuple(CandidateRow(c["plate"], c["confidence"], c["matches_template"]) for c in p["candidates"]),
                tuple(CharacterRow(c["char"], c["confidence"], box(c["box"])) for c in p["characters"]),
            )
            for p in rec["plates"] or ()
        ),
        processing_ms=rec["processing_ms"],
        error=rec["error"],
    )


def to_table(rows: list[PhotoRow]) -> pa.Table:
    return pa.Table.from_pylist([to_record(r) for r in rows], schema=SCHEMA)


def read_photo(path: str, classifier, country: str, topn: int) -> PhotoRow:
    """Read one photo into a row. An unusable file is a row with its one-line error, never a raise:
    one bad photo in a million must not fail the job."""
    from alpr.imageio import load_image
    from alpr.pipeline import recognize

    started = time.perf_counter()
    try:
        image = load_image(path)
        rec = recognize(image, country=country, topn=topn, classifier=classifier)
    except AlprError as exc:
        return PhotoRow(path, None, None, (), _ms(started), _one_line(str(exc)))
    except Exception as exc:  # noqa: BLE001 - a pipeline bug on one odd photo is that photo's error
        return PhotoRow(path, None, None, (), _ms(started), _one_line(f"{type(exc).__name__}: {exc}"))
    plates = tuple(_plate_row(p) for p in rec.plates)
    return PhotoRow(path, rec.width, rec.height, plates, _ms(started), None)


def _plate_row(plate) -> PlateRow:
    b = plate.box
    dx, dy = plate.crop_box.x, plate.crop_box.y
    return PlateRow(
        plate=plate.plate,
        confidence=round(plate.confidence, PLATE_DIGITS),
        box=BoxRow(b.x, b.y, b.w, b.h),
        candidates=tuple(
            CandidateRow(c.plate, round(c.confidence, PLATE_DIGITS), bool(c.matches_template)) for c in plate.candidates
        ),
        characters=tuple(
            CharacterRow(
                pred.char, round(pred.confidence, CHAR_DIGITS), BoxRow(ch.box.x + dx, ch.box.y + dy, ch.box.w, ch.box.h)
            )
            for ch, pred in zip(plate.chars, plate.predictions)
        ),
    )


def _ms(started: float) -> float:
    return round(1000 * (time.perf_counter() - started), 1)


def _one_line(text: str) -> str:
    return " ".join(text.split())
