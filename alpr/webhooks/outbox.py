"""The webhook outbox: each delivery is committed to SQLite before its read is answered or printed.

A delivery is `queued` until its receiver holds it (`sent`) or it is `given_up`: the receiver
refused it (a 3xx or 4xx other than 408, 425 and 429), it failed for longer than
`WebhookConfig.max_age_s`, or the outbox passed its size limit and it was the oldest waiting. The
counters change in the same transaction as the deliveries, so they survive restarts and every
process sees the same numbers. WAL lets the server's workers, `batch` and `recognize` write the
same file at once; synchronous=FULL makes a committed delivery survive a power cut, not only a
killed process (one fsync per read, a few ms against a read's hundreds).

One process at a time sends to a receiver: the one holding its row in `lease`. A lease lapses
`lease_s` after its last renewal, or at once when its holder is a process of this machine that
no longer runs (killed -9), so a restarted server resumes straight away.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alpr.config import WebhookConfig
from alpr.errors import WebhookError

log = logging.getLogger("alpr.webhooks")

SCHEMA = """
CREATE TABLE IF NOT EXISTS delivery (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- the order deliveries were queued in
    id TEXT NOT NULL UNIQUE,                -- the same on every attempt: the receiver's Idempotency-Key
    target TEXT NOT NULL,                   -- the receiver's URL
    event TEXT NOT NULL,                    -- recognition or alert
    content_type TEXT NOT NULL,
    body BLOB,                              -- the exact request body (NULL once done)
    size INTEGER NOT NULL,
    created REAL NOT NULL,                  -- unix seconds
    next_at REAL NOT NULL,                  -- not tried before this
    attempts INTEGER NOT NULL DEFAULT 0,
    trying INTEGER NOT NULL DEFAULT 0,      -- 1 while a sender waits for the receiver's answer
    state TEXT NOT NULL DEFAULT 'queued',   -- queued, sent, given_up
    done_at REAL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS delivery_waiting ON delivery(state, target, seq);
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lease (target TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL);
"""

# What the counters count; given_up_* by why (docs/api.md).
COUNTERS = ("queued", "sent", "retried", "given_up_refused", "given_up_expired", "given_up_full")
# How long a write waits for another process's transaction (they take milliseconds).
BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Delivery:
    seq: int
    id: str
    target: str
    event: str
    content_type: str
    body: bytes
    created: float
    attempts: int  # including the one now being made


@dataclass(frozen=True)
class GivenUp:
    id: str
    target: str
    reason: str  # refused, expired, full
    created: float


def holder_name() -> str:
    """Who holds a lease: this machine, this process, and a random part (a reused pid is another holder)."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


class Outbox:
    """The deliveries of one data folder. Thread-safe; several processes may open the same file."""

    def __init__(self, path: str | os.PathLike, config: WebhookConfig = WebhookConfig()):
        self.path = Path(path)
        self.config = config
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            with self._write() as db:
                for statement in SCHEMA.split(";"):  # executescript would commit the transaction
                    if statement.strip():
                        db.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            raise WebhookError(
                f"cannot open the webhook outbox {self.path}: {exc}; give a writable --data-dir"
            ) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self):
        """One write transaction, taken at once (BEGIN IMMEDIATE) so two processes never deadlock."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # ------------------------------------------------------------------------------ queueing

    def add(
        self, deliveries: Iterable[tuple[str, str, str, bytes]], now: float | None = None
    ) -> tuple[list[str], list[GivenUp]]:
        """Queue (target, event, content type, body) deliveries in one transaction. Returns their
        ids and the deliveries given up to stay within the size limits (oldest first)."""
        now = time.time() if now is None else now
        ids: list[str] = []
        try:
            with self._write() as db:
                for target, event, content_type, body in deliveries:
                    ids.append(uuid.uuid4().hex)
                    db.execute(
                        "INSERT INTO delivery (id, target, event, content_type, body, size, created, next_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (ids[-1], target, event, content_type, body, len(body), now, now),
                    )
                _bump(db, "queued", len(ids))
                dropped = self._enforce_limits(db, now)
        except sqlite3.Error as exc:
            raise WebhookError(f"cannot write to the webhook outbox {self.path}: {exc}") from None
        return ids, dropped

    def _enforce_limits(self, db: sqlite3.Connection, now: float) -> list[GivenUp]:
        count, size = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM delivery WHERE state = 'queued'"
        ).fetchone()
        dropped: list[GivenUp] = []
        if count <= self.config.max_queued and size <= self.config.max_queued_bytes:
            return dropped
        # Oldest first, but never one a sender is waiting on: its answer decides it.
        rows = db.execute(
            "SELECT id, target, size, created FROM delivery WHERE state = 'queued' AND trying = 0 ORDER BY seq"
        )
        for delivery_id, target, body_size, created in rows.fetchall():
            if count <= self.config.max_queued and size <= self.config.max_queued_bytes:
                break
            _finish(db, delivery_id, "given_up", now, "the outbox was full (WebhookConfig.max_queued)", "full")
            dropped.append(GivenUp(delivery_id, target, "full", created))
            count, size = count - 1, size - body_size
        return dropped

    # ------------------------------------------------------------------------------ sending

    def claim(self, target: str, now: float | None = None) -> Delivery | None:
        """The oldest delivery to `target` that is due, marked as being tried; None when none is."""
        now = time.time() if now is None else now
        with self._write() as db:
            row = db.execute(
                "SELECT seq, id, target, event, content_type, body, created, attempts FROM delivery"
                " WHERE state = 'queued' AND target = ? AND next_at <= ? ORDER BY seq LIMIT 1",
                (target, now),
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE delivery SET trying = 1, attempts = attempts + 1 WHERE seq = ?", (row[0],))
        return Delivery(*row[:7], attempts=row[7] + 1)

    def sent(self, delivery: Delivery, now: float | None = None) -> None:
        with self._write() as db:
            _finish(db, delivery.id, "sent", time.time() if now is None else now, None, None)

    def retry(self, delivery: Delivery, next_at: float, error: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE delivery SET trying = 0, next_at = ?, last_error = ? WHERE id = ? AND state = 'queued'",
                (next_at, error, delivery.id),
            )
            _bump(db, "retried")

    def give_up(self, delivery: Delivery, reason: str, error: str, now: float | None = None) -> None:
        with self._write() as db:
            _finish(db, delivery.id, "given_up", time.time() if now is None else now, error, reason)

    def next_due(self, target: str) -> float | None:
        """When the next delivery to `target` is due (unix seconds), or None when none waits."""
        rows = self._read("SELECT MIN(next_at) FROM delivery WHERE state = 'queued' AND target = ?", (target,))
        return rows[0][0]

    def expire(self, now: float | None = None) -> list[GivenUp]:
        """Give up every waiting delivery older than max_age_s; forget the bodies-less done ones
        older than keep_done_s."""
        now = time.time() if now is None else now
        with self._write() as db:
            old = db.execute(
                "SELECT id, target, created FROM delivery WHERE state = 'queued' AND trying = 0 AND created < ?",
                (now - self.config.max_age_s,),
            ).fetchall()
            for delivery_id, _, _ in old:
                error = f"still failing {self.config.max_age_s:.0f} s after its read (WebhookConfig.max_age_s)"
                _finish(db, delivery_id, "given_up", now, error, "expired")
            db.execute("DELETE FROM delivery WHERE state != 'queued' AND done_at < ?", (now - self.config.keep_done_s,))
        return [GivenUp(i, t, "expired", c) for i, t, c in old]

    # ------------------------------------------------------------------------------ leases

    def hold(self, target: str, holder: str, now: float | None = None) -> bool:
        """Take or renew the lease on sending to `target`; False while another live process holds it.

        A new holder resumes at once: the previous one's unanswered attempt is tried again, and the
        backoff delays it left are cut short (the receiver may have come back while nobody sent)."""
        now = time.time() if now is None else now
        with self._write() as db:
            row = db.execute("SELECT holder, expires FROM lease WHERE target = ?", (target,)).fetchone()
            if row is not None and row[0] != holder and row[1] > now and _alive(row[0]):
                return False
            db.execute(
                "INSERT OR REPLACE INTO lease (target, holder, expires) VALUES (?, ?, ?)",
                (target, holder, now + self.config.lease_s),
            )
            if row is None or row[0] != holder:
                db.execute(
                    "UPDATE delivery SET trying = 0, next_at = MIN(next_at, ?) WHERE state = 'queued' AND target = ?",
                    (now, target),
                )
        return True

    def release(self, target: str, holder: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM lease WHERE target = ? AND holder = ?", (target, holder))

    # ------------------------------------------------------------------------------ looking

    def states(self, ids: list[str]) -> dict[str, int]:
        """How many of these deliveries are queued, sent and given up (ids no longer stored are left out)."""
        out = {"queued": 0, "sent": 0, "given_up": 0}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for state, n in self._read(
                f"SELECT state, COUNT(*) FROM delivery WHERE id IN ({marks}) GROUP BY state", tuple(chunk)
            ):
                out[state] += n
        return out

    def counts(self) -> dict[str, int]:
        """Every counter since the outbox was created, and `waiting`: the deliveries queued now."""
        out = dict.fromkeys(COUNTERS, 0)
        out.update(dict(self._read("SELECT name, value FROM counter")))
        out["waiting"] = self._read("SELECT COUNT(*) FROM delivery WHERE state = 'queued'")[0][0]
        return out

    def waiting_by_target(self) -> dict[str, int]:
        return dict(self._read("SELECT target, COUNT(*) FROM delivery WHERE state = 'queued' GROUP BY target"))


def _bump(db: sqlite3.Connection, name: str, by: int = 1) -> None:
    if by:
        db.execute(
            "INSERT INTO counter (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + ?",
            (name, by, by),
        )


def _finish(db: sqlite3.Connection, delivery_id: str, state: str, now: float, error: str | None, reason: str | None):
    changed = db.execute(
        "UPDATE delivery SET state = ?, trying = 0, body = NULL, done_at = ?, last_error = COALESCE(?, last_error)"
        " WHERE id = ? AND state = 'queued'",
        (state, now, error, delivery_id),
    ).rowcount
    if changed:
        _bump(db, "sent" if state == "sent" else f"given_up_{reason}")


def _alive(holder: str) -> bool:
    """Whether a lease's holder may still run: False only for a process of this machine that is gone."""
    host, _, rest = holder.partition("/")
    pid = rest.partition("/")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
