"""Training runs on disk: start one in its own process, find it again, follow it, cancel it.

A run is a folder `<data dir>/runs/<run id>/`:

    config.json     the options it was started with (enough to resume it)
    status.json     state (starting, running, succeeded, rejected, failed, cancelled), pid, times, result
    metrics.jsonl   one JSON object per finished epoch (losses, accuracies, per-class accuracy,
                    confusion matrix, learning rate, samples/s, ETA)
    log.txt         what the trainer printed, including the fixed-format `stage ...` lines
    data.npz        the training and validation arrays, frozen at the start (a resume trains on the same)
    checkpoint.weights.h5 / best.weights.h5 / checkpoint.json   the last and best epoch, for resuming
    tensorboard/    event files: `tensorboard --logdir <run folder>/tensorboard`

One run at a time per data folder: the trainer holds an exclusive `flock` on `runs/train.lock` for
its whole life. The kernel drops the lock when the process ends, however it ends (even `kill -9`),
so a run whose status still says "running" while nobody holds the lock was interrupted, and can be
resumed from its last checkpoint. Nothing here imports TensorFlow: the app reads runs cheaply.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from alpr.errors import JobError
from alpr.training.records import EpochRow, JobConfig, RunStatus, now_utc
from alpr.paths import REPO_ROOT, data_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; the pid in the lock file is checked instead
    fcntl = None

RUNS = "runs"
LOCK_FILE = "train.lock"
ROOT = REPO_ROOT  # the checkout: `python -m alpr` runs from here

LIVE_STATES = ("starting", "running")
FINAL_STATES = ("succeeded", "rejected", "failed", "cancelled")
# How long a run launched by the app may say "starting" before the trainer takes the lock: it
# imports TensorFlow first, which takes seconds on a slow disk.
START_GRACE_S = 120.0
# A trainer waits this long for the lock, so the app's quick probes never make it give up.
LOCK_WAIT_S = 5.0


def runs_dir(folder: str | os.PathLike | None = None) -> Path:
    return data_dir(folder) / RUNS


def new_run_id() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:4]


def read_json(path: Path, default=None):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return default


def write_json(path: Path, value) -> None:
    """Write through a temporary file and a rename: a reader sees the old or the new file, whole."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(value, indent=1))
    os.replace(tmp, path)


def update_status(run_dir: Path, **fields) -> RunStatus:
    """Set these RunStatus fields in the run's status.json (the others are kept); returns the status."""
    RunStatus.check_fields(fields)
    status = read_json(run_dir / "status.json", {}) or {}
    status.update(fields, updated=now_utc())
    write_json(run_dir / "status.json", status)
    return RunStatus.from_dict(status)


# ------------------------------------------------------------------------------------------ lock


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TrainLock:
    """The data folder's one-run-at-a-time lock, held by the training process for its whole life."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.path = runs_dir(folder) / LOCK_FILE
        self._fh = None

    def acquire(self, run_id: str, wait_s: float = LOCK_WAIT_S) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        deadline = time.monotonic() + wait_s
        while True:
            if self._try(fh):
                break
            if time.monotonic() >= deadline:
                fh.close()
                raise JobError(busy_message(self.path.parent.parent))
            time.sleep(0.1)
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"run_id": run_id, "pid": os.getpid(), "since": now_utc()}))
        fh.flush()
        self._fh = fh

    @staticmethod
    def _try(fh) -> bool:
        if fcntl is None:
            holder = read_json(Path(fh.name), {}) or {}
            return not _pid_alive(holder.get("pid")) or holder.get("pid") == os.getpid()
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def release(self) -> None:
        if self._fh is not None:
            try:
                self._fh.seek(0)
                self._fh.truncate()
            finally:
                self._fh.close()  # closing drops the flock
                self._fh = None


def holder(folder: str | os.PathLike | None = None) -> dict | None:
    """{"run_id", "pid", "since"} of the run holding the data folder's lock, or None when free."""
    path = runs_dir(folder) / LOCK_FILE
    if not path.is_file():
        return None
    try:
        fh = open(path)
    except OSError:
        return None
    with fh:
        if fcntl is None:
            info = read_json(path, {}) or {}
            return info if _pid_alive(info.get("pid")) else None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            try:
                return json.loads(fh.read() or "{}") or {"run_id": None, "pid": None}
            except ValueError:
                return {"run_id": None, "pid": None}
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return None


def busy_message(folder: str | os.PathLike | None = None) -> str:
    info = holder(folder) or {}
    who = f"run {info['run_id']} (pid {info['pid']})" if info.get("run_id") else "another training run"
    return (
        f"{who} is already training on {data_dir(folder)}: one run at a time per data folder; "
        "wait for it to finish or cancel it (Train page, or `kill -TERM` its pid)"
    )


# ------------------------------------------------------------------------------------------ runs


@dataclass
class Run:
    """One run folder, read at one moment: options, status, and what the lock says about it."""

    id: str
    dir: Path
    config: dict  # config.json: run_id, created, command, and the JobConfig under "job"
    status: RunStatus
    holds_lock: bool

    @property
    def job(self) -> JobConfig:
        return JobConfig.from_dict(self.config.get("job") or {})

    @property
    def state(self) -> str:
        """The status file's state, except a live state without a live process is "interrupted"."""
        state = self.status.state
        if state in LIVE_STATES and not self.holds_lock:
            if state == "starting" and self._starting_recently():
                return "starting"
            # Stopped before it could mark itself (a cancel while TensorFlow was still loading).
            return "cancelled" if self.status.cancel_requested else "interrupted"
        return state

    def _starting_recently(self) -> bool:
        started = self.status.launched_ts or 0
        return time.time() - started < START_GRACE_S and _pid_alive(self.status.pid)

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def resumable(self) -> bool:
        return self.state == "interrupted" and (self.dir / "data.npz").is_file()

    def metrics(self) -> list[EpochRow]:
        """Finished epochs in order; a half-written last line (the trainer was killed mid-write) is skipped."""
        rows: list[EpochRow] = []
        try:
            text = (self.dir / "metrics.jsonl").read_text()
        except OSError:
            return rows
        for line in text.splitlines():
            try:
                rows.append(EpochRow.from_dict(json.loads(line)))
            except (ValueError, TypeError, AttributeError):
                continue
        return rows

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for name in ("log.txt", "stderr.txt"):
            try:
                text = (self.dir / name).read_text(errors="replace")
            except OSError:
                continue
            if name == "stderr.txt":
                # TensorFlow's start-up chatter is not a failure; only show the rest.
                text = "\n".join(l for l in text.splitlines() if l.strip() and not _tf_noise(l))
                if text:
                    text = "--- stderr ---\n" + text
            if text:
                out.append(text.rstrip("\n"))
        return "\n".join("\n".join(out).splitlines()[-lines:])


def _tf_noise(line: str) -> bool:
    return (
        line.startswith(("WARNING: All log messages", "I0000", "W0000", "E0000"))
        or "oneDNN" in line
        or "cuda" in line.lower()
    )


def list_runs(folder: str | os.PathLike | None = None) -> list[Run]:
    """Every run of the data folder, newest first."""
    root = runs_dir(folder)
    if not root.is_dir():
        return []
    lock = holder(folder) or {}
    out = []
    for entry in root.iterdir():
        if entry.is_dir() and not entry.name.startswith("."):
            out.append(_run(entry, lock))
    return sorted(out, key=lambda r: (r.status.launched or r.status.started or "", r.id), reverse=True)


def _run(entry: Path, lock: dict) -> Run:
    return Run(
        entry.name,
        entry,
        read_json(entry / "config.json", {}) or {},
        RunStatus.from_dict(read_json(entry / "status.json", {}) or {}),
        lock.get("run_id") == entry.name,
    )


def get_run(run_id: str, folder: str | os.PathLike | None = None) -> Run:
    entry = runs_dir(folder) / run_id
    if not run_id or "/" in run_id or run_id.startswith(".") or not entry.is_dir():
        raise JobError(f"no training run {run_id!r} in {runs_dir(folder)}")
    return _run(entry, holder(folder) or {})


def current(folder: str | os.PathLike | None = None) -> Run | None:
    """The run to show: the live one, else the newest."""
    runs = list_runs(folder)
    for run in runs:
        if run.live:
            return run
    return runs[0] if runs else None


# ------------------------------------------------------------------------------ start and cancel


def launch(config: JobConfig | None = None, folder: str | os.PathLike | None = None, resume: str | None = None) -> Run:
    """Start a fine-tuning run with `config` in its own process (its own session, so it outlives
    the app and a cancel reaches its worker processes too), its output in the run folder; or, with
    `resume`, continue an interrupted run with its own saved config. The config is written as the
    run's config.json, which the trainer reads (`python -m alpr train --job RUN_ID`). Returns the
    run, in state "starting". A second run while one is live raises JobError."""
    folder = data_dir(folder).resolve()
    if holder(folder):
        raise JobError(busy_message(folder))
    for run in list_runs(folder):
        if run.state == "starting":
            raise JobError(f"run {run.id} is starting on {folder}: one run at a time per data folder")
    if resume:
        run = get_run(resume, folder)
        if not run.resumable:
            raise JobError(f"run {resume} is {run.state}, not interrupted: only an interrupted run resumes")
        run_id, run_dir = run.id, run.dir
        cmd = [sys.executable, "-m", "alpr", "train", "--data-dir", str(folder), "--resume", run_id]
    else:
        job = replace(config or JobConfig(), data_dir=str(folder))
        job.check()
        run_id = new_run_id()
        run_dir = runs_dir(folder) / run_id
        run_dir.mkdir(parents=True)
        cmd = [sys.executable, "-m", "alpr", "train", "--data-dir", str(folder), "--job", run_id]
        write_json(
            run_dir / "config.json",
            {"run_id": run_id, "created": now_utc(), "command": "python " + " ".join(cmd[1:]), "job": job.as_dict()},
        )
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    with open(run_dir / "stderr.txt", "ab") as err:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
            close_fds=True,
        )
    # Reap it when it ends, so it does not linger as a zombie of the app (a thread that only
    # waits: the training itself runs in the other process).
    threading.Thread(target=proc.wait, name=f"reap-{run_id}", daemon=True).start()
    update_status(
        run_dir,
        state="starting",
        pid=proc.pid,
        launched=now_utc(),
        launched_ts=time.time(),
        command=" ".join(cmd[1:]),
        resumed=bool(resume),
    )
    return get_run(run_id, folder)


def cancel(run_id: str, folder: str | os.PathLike | None = None) -> str:
    """Ask a live run to stop (SIGTERM to its process group: it finishes the batch, marks itself
    cancelled and registers nothing). A run that is no longer running is just marked cancelled."""
    run = get_run(run_id, folder)
    info = holder(folder) or {}
    pid = info.get("pid") if info.get("run_id") == run_id else run.status.pid
    if run.state in LIVE_STATES and _pid_alive(pid):
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGTERM)
            else:
                os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        update_status(run.dir, cancel_requested=now_utc())
        return f"asked run {run_id} to stop; it stops after the current batch"
    if run.state in FINAL_STATES:
        return f"run {run_id} already ended ({run.state})"
    update_status(run.dir, state="cancelled", ended=now_utc(), message="cancelled after it was interrupted")
    return f"run {run_id} marked cancelled"


# ------------------------------------------------------------------------------- training folders


def is_char_export(folder: Path) -> bool:
    """A folder written by `alpr labels export`: labels.csv with path,label columns."""
    header = _csv_header(folder / "labels.csv")
    return {"path", "label"} <= header


def _csv_header(path: Path) -> set[str]:
    import csv

    try:
        with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
            return {h.strip().lower() for h in next(csv.reader(fh), [])}
    except (OSError, csv.Error):
        return set()


def training_folders(roots: list[Path], max_depth: int = 3) -> list[Path]:
    """Folders under `roots` that a run can add to its data: label-store exports (a folder per
    class + labels.csv) and labeled plate folders (OpenALPR benchmark layouts). Resolved, sorted;
    hidden folders, the data folder's own runs/models and links leading outside a root are skipped."""
    from alpr.evaluate import holds_labels

    found: set[Path] = set()
    for root in roots:
        root = Path(root).resolve()

        def walk(folder: Path, depth: int) -> None:
            if is_char_export(folder) or holds_labels(folder):
                found.add(folder)
                return
            if depth >= max_depth:
                return
            try:
                subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
            except OSError:
                return
            for sub in subs:
                if sub.name in (RUNS, "models") and depth == 0:
                    continue
                real = sub.resolve()
                if real.is_relative_to(root) and real != root:
                    walk(real, depth + 1)

        if root.is_dir():
            walk(root, 0)
    return sorted(found)
