"""What a crash (kill -9, power cut, full disk) can leave in the data folder, found and tidied on start.

Every write in the data folder is built to survive a crash: labels are SQLite transactions, a model
version is renamed into place only when complete, a training run checkpoints every epoch. What a
crash can leave is therefore harmless but worth saying: half-written model folders, a training run
that stopped without saying so, and a label database that was not closed. `recover` tidies them
and returns one sentence per thing it found, for the app to show and the log to keep.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from alpr import paths
from alpr.labels.store import DB_NAME
from alpr.training import jobs, registry


def recover(folder: str | os.PathLike | None = None) -> list[str]:
    """Tidy what a crash left in the data folder; one note per thing found, [] when all was clean."""
    root = paths.data_dir(folder)
    if not root.is_dir():
        return []
    notes: list[str] = []
    # A live training run owns the .tmp- folder it is writing; only tidy when none is running.
    if jobs.holder(root) is None:
        notes += _half_written_versions(root)
        notes += _interrupted_runs(root)
    notes += _unclosed_label_store(root)
    return notes


def _half_written_versions(root: Path) -> list[str]:
    # At the app's start none of its own activations is under way (another process's lasts
    # milliseconds), so active.json's temporary files go too; training cleans only versions.
    removed = registry.clean_temporary(root, active_files=True)
    if not removed:
        return []
    return [
        f"removed {removed} half-written model file(s) left by a crash; "
        f"the active model is still {registry.active_name(root)}"
    ]


def _interrupted_runs(root: Path) -> list[str]:
    notes = []
    for run in jobs.list_runs(root):
        if run.status.state in jobs.LIVE_STATES and run.state == "interrupted":
            epochs = len(run.metrics())
            # Written down, so the next start does not announce the same run again.
            jobs.update_status(
                run.dir, state="interrupted", message="stopped without finishing (the process was killed)"
            )
            how = (
                f"resume it on the Train page or with `python -m alpr train --resume {run.id}`"
                if run.resumable
                else "start a new run"
            )
            notes.append(
                f"training run {run.id} stopped after {epochs} epoch(s) without finishing; "
                f"nothing was registered; {how}"
            )
    return notes


def _unclosed_label_store(root: Path) -> list[str]:
    """SQLite replays or drops the write-ahead log by itself; say so, and that the database is whole.

    A write-ahead log is also there while any process has the database open (the CLI, a training
    run, a test): only a log that nobody holds a lock on was left by a crash.
    """
    db = root / DB_NAME
    wal = db.with_name(DB_NAME + "-wal")
    try:
        if not wal.is_file() or wal.stat().st_size == 0:
            return []
    except OSError:
        return []
    if _locked(db.with_name(DB_NAME + "-shm")) is not False:
        return []
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
            labels = conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
    except sqlite3.Error as exc:
        return [f"the label database {db} was not closed cleanly and cannot be checked now ({exc})"]
    if result != "ok":
        return [
            f"the label database {db} was not closed cleanly and its check found damage ({result}); "
            "export what you can with `python -m alpr labels export` and restore a backup"
        ]
    return [
        f"the label database was not closed cleanly (a crash or kill); "
        f"its check passed and all {labels} committed label(s) are there"
    ]


def _locked(path: Path) -> bool | None:
    """Whether any process holds a lock on `path` (every open SQLite connection locks the -shm file),
    read from /proc/locks; None where that cannot be known. Opening the file to ask would be wrong:
    closing it drops this process's own POSIX locks on it, SQLite's included."""
    try:
        inode = path.stat().st_ino
        table = Path("/proc/locks").read_text()
    except OSError:
        return None
    for line in table.splitlines():
        fields = line.split()
        ids = [f for f in fields if f.count(":") == 2]  # MAJOR:MINOR:INODE
        if ids and ids[0].rsplit(":", 1)[1] == str(inode):
            return True
    return False
