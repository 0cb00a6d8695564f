"""Where rows go: a Parquet folder of part files, or a JSONL file. Both stream and both resume.

Parquet (`RESULTS.parquet` is a folder, as Spark and Dask write it): rows are buffered up to
`BatchConfig.rows_per_part` (or `flush_seconds`) and written as one part file, `part-00000.parquet`,
`part-00001.parquet`, ... Each part is written under a hidden temporary name and renamed when its
footer is on disk, so a run killed mid-write leaves only whole parts plus a hidden `.tmp` file,
which resume deletes. pyarrow, pandas, DuckDB, Spark and Dask read the folder as one table and skip
hidden files. Killed, a run loses at most the buffered rows, which `--resume` reads again.

JSONL: one object per line, appended and flushed per chunk. Resume drops a last line cut short
(no newline, or not JSON) and keeps everything before it.

`--resume` skips every path already in RESULTS; without it, an existing RESULTS is refused rather
than overwritten or mixed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from alpr.batch.config import DEFAULT, BatchConfig
from alpr.batch.rows import SCHEMA, PhotoRow, from_record, to_record, to_table
from alpr.errors import AlprError

PART_GLOB = "part-*.parquet"
FORMATS = (".parquet", ".jsonl")


class ResultsError(AlprError):
    """RESULTS cannot be written or resumed: wrong suffix, exists without --resume, not made by alpr batch."""


def check_out(path: str | os.PathLike, resume: bool) -> Path:
    """RESULTS's path when it can be written (or resumed); a one-line ResultsError otherwise. Writes nothing."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ResultsError(f"--out {path}: name it RESULTS.parquet or RESULTS.jsonl (got {suffix or 'no suffix'})")
    if path.exists() and not resume:
        raise ResultsError(f"{path} already exists: add --resume to continue it, or choose another --out")
    if suffix == ".parquet" and path.exists() and not path.is_dir():
        raise ResultsError(
            f"{path} is a file; alpr batch writes Parquet as a folder of part files: choose another --out"
        )
    return path


def open_writer(path: str | os.PathLike, resume: bool, config: BatchConfig = DEFAULT):
    path = check_out(path, resume)
    return ParquetWriter(path, config) if path.suffix.lower() == ".parquet" else JsonlWriter(path)


class ParquetWriter:
    def __init__(self, folder: Path, config: BatchConfig):
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(".part-*.tmp"):  # a part cut mid-write by a kill
            stale.unlink()
        self.folder, self.config = folder, config
        parts = sorted(folder.glob(PART_GLOB))
        self.done = {p for part in parts for p in pq.read_table(part, columns=["path"]).column("path").to_pylist()}
        self._next = 1 + max((int(p.stem.split("-")[1]) for p in parts), default=-1)
        self._buffer: list[PhotoRow] = []
        self._last_flush = time.monotonic()

    def write(self, rows: list[PhotoRow]) -> None:
        self._buffer += rows
        due = time.monotonic() - self._last_flush >= self.config.flush_seconds
        if len(self._buffer) >= self.config.rows_per_part or due:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            final = self.folder / f"part-{self._next:05d}.parquet"
            tmp = self.folder / f".{final.name}.tmp"
            pq.write_table(to_table(self._buffer), tmp)
            os.replace(tmp, final)
            self._next += 1
            self._buffer = []
        self._last_flush = time.monotonic()

    def close(self) -> None:
        self.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()  # on Ctrl-C too: the rows already read are kept


class JsonlWriter:
    def __init__(self, path: Path):
        self.done: set[str] = set()
        if path.exists():
            self.done = _trim_and_read_paths(path)
        self._file = path.open("a", encoding="utf-8")

    def write(self, rows: list[PhotoRow]) -> None:
        self._file.write("".join(json.dumps(to_record(r), ensure_ascii=False) + "\n" for r in rows))
        self._file.flush()

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _trim_and_read_paths(path: Path) -> set[str]:
    done, good_end = set(), 0
    with path.open("rb") as fh:
        for line in fh:
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("cut short")
                done.add(json.loads(line)["path"])
            except (ValueError, KeyError, TypeError):
                break  # a line cut by a kill is the last line; drop it and anything after
            good_end += len(line)
    if good_end < path.stat().st_size:
        with path.open("r+b") as fh:
            fh.truncate(good_end)
    return done


def read_rows(path: str | os.PathLike) -> Iterator[PhotoRow]:
    """Every row of a RESULTS folder or file, part by part (bounded memory)."""
    path = Path(path)
    if path.suffix.lower() == ".jsonl" or not path.is_dir() and path.suffix.lower() != ".parquet":
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.endswith("\n"):
                    yield from_record(json.loads(line))
        return
    parts = sorted(path.glob(PART_GLOB)) if path.is_dir() else [path]
    for part in parts:
        for batch in pq.ParquetFile(part).iter_batches():
            for rec in batch.to_pylist():
                yield from_record(rec)


def read_table(path: str | os.PathLike) -> pa.Table:
    """The whole RESULTS as one Arrow table in SCHEMA (for the viewer: a summary, not millions)."""
    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        return to_table(list(read_rows(path)))
    parts = sorted(path.glob(PART_GLOB)) if path.is_dir() else [path]
    tables = [pq.read_table(p, schema=SCHEMA) for p in parts]
    return pa.concat_tables(tables) if tables else SCHEMA.empty_table()
