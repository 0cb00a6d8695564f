"""The batch's tunables, each with why its default."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BatchConfig:
    # Photos per task sent to a worker: ~8 s of work at ~1-2 photos/s per core, long enough that
    # scheduling (ms per task on Dask) is noise, short enough that a killed worker loses little
    # and the progress line moves.
    chunk_size: int = 16
    # Tasks queued per worker beyond the one it runs: keeps every worker busy while the driver
    # writes, and bounds memory (paths and rows in flight) however large the archive.
    in_flight_per_worker: int = 2
    # Rows per Parquet part file: a million photos make ~1000 files of ~1 MB, a size every
    # Parquet reader handles well; a kill loses at most this many rows' work.
    rows_per_part: int = 1000
    # ... or this long since the last part, so a slow cluster still saves its work regularly.
    flush_seconds: float = 60.0
    # Seconds between two plain progress lines when stderr is not a terminal (a log file).
    progress_seconds: float = 10.0


DEFAULT = BatchConfig()
