"""What the Batch page shows of a RESULTS file, without Streamlit: tables the page only draws.

The page reads results found under the data roots (folders the server was allowed to read) or an
uploaded file; a row's photo opens on the Recognize page (`?photo=PATH`) only when that photo is
inside the data roots too, so a results file can never make the server read anything else.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from alpr.batch.rows import SCHEMA, from_record, to_table
from alpr.batch.writers import ResultsError, read_table

# How deep under a data root results are looked for: root/batches/2024/r.parquet is 2.
SEARCH_DEPTH = 3
PHOTO_PARAM = "photo"  # Recognize's query parameter naming a photo to open


def results_in(roots: list[Path], depth: int = SEARCH_DEPTH) -> dict[str, Path]:
    """Label -> RESULTS (a .parquet folder or file, or a .jsonl file) under the roots."""
    found: dict[str, Path] = {}
    for root in roots:
        for dirpath, dirs, files in os.walk(root):
            here = Path(dirpath)
            # A .parquet folder is one result (its part files are not listed on their own).
            results = [d for d in dirs if d.endswith(".parquet")] + [
                f for f in files if f.endswith((".parquet", ".jsonl"))
            ]
            for name in sorted(results):
                found[f"{root.name}/{(here / name).relative_to(root)}"] = here / name
            deeper = len(here.relative_to(root).parts) + 1 < depth
            dirs[:] = sorted(d for d in dirs if deeper and not d.startswith(".") and not d.endswith(".parquet"))
    return found


def load(path: Path | None = None, data: bytes | None = None, name: str = "") -> pd.DataFrame:
    """One row per photo: path, name, size, plates, best plate and confidence, ms, error, and
    `confidences` (every plate's). ResultsError (one line) for a file that is not batch results."""
    try:
        if path is not None:
            table = read_table(path)
        elif name.lower().endswith(".jsonl"):
            text = data.decode("utf-8")
            table = to_table([from_record(json.loads(line)) for line in text.splitlines() if line.strip()])
        else:
            table = pq.read_table(io.BytesIO(data), schema=SCHEMA)
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{name or path} is not the results of `alpr batch` ({type(exc).__name__}: {exc})") from None
    records = table.to_pylist()
    return pd.DataFrame(
        {
            "path": [r["path"] for r in records],
            "photo": [Path(r["path"]).name for r in records],
            "width": [r["width"] for r in records],
            "height": [r["height"] for r in records],
            "plates": [len(r["plates"]) for r in records],
            "plate": [r["plates"][0]["plate"] if r["plates"] else "" for r in records],
            "confidence": [r["plates"][0]["confidence"] if r["plates"] else None for r in records],
            "confidences": [[p["confidence"] for p in r["plates"]] for r in records],
            "ms": [r["processing_ms"] for r in records],
            "error": [r["error"] or "" for r in records],
        }
    )


def counts(frame: pd.DataFrame) -> dict[str, int]:
    unusable = int((frame["error"] != "").sum())
    return {
        "Photos": len(frame),
        "Read": len(frame) - unusable,
        "Unusable": unusable,
        "Plates": int(frame["plates"].sum()),
        "Without a plate": int(((frame["plates"] == 0) & (frame["error"] == "")).sum()),
    }


def plate_confidences(frame: pd.DataFrame) -> list[float]:
    return [c for cs in frame["confidences"] for c in cs]


def plates_per_photo(frame: pd.DataFrame) -> pd.Series:
    """Photos read (not the unusable ones) by how many plates they hold: 0, 1, 2, ..."""
    read = frame[frame["error"] == ""]["plates"]
    return read.value_counts().reindex(range(int(read.max()) + 1 if len(read) else 1), fill_value=0)


def read_as(frame: pd.DataFrame) -> dict[str, str]:
    """Path -> what a picker shows beside it: the best plate, "no plate" or "unusable file"."""
    return {
        path: plate or ("unusable file" if error else "no plate")
        for path, plate, error in zip(frame["path"], frame["plate"], frame["error"])
    }


def recognize_link(photo: str, roots: list[Path]) -> dict[str, str] | None:
    """Recognize's query parameters for a row's photo, or None when it lies outside the data roots."""
    return {PHOTO_PARAM: photo} if linked_photo(photo, roots) else None


def linked_photo(photo: str | None, roots: list[Path]) -> Path | None:
    """The photo a `?photo=` link names, when it is a file inside the data roots; None otherwise."""
    if not photo:
        return None
    resolved = Path(photo).resolve()
    inside = any(resolved.is_relative_to(root.resolve()) for root in roots)
    return resolved if inside and resolved.is_file() else None
