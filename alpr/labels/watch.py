"""The watch list in the label store: known plates, a name each and whether a sighting alerts.

One table (schema version 4), one row per normalised plate. Adding a listed plate again updates its
name and alert; an import is one transaction, so a list is replaced or merged whole or not at all.
Matching a read against the list is `alpr.watchlist.match`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

from alpr.labels.rows import utc_now
from alpr.labels.schema import DB_NAME
from alpr.paths import data_dir as data_dir_of
from alpr.watchlist import WatchEntry, entry, normalise


@dataclass(frozen=True)
class WatchImport:
    """What an import changed: plates added, plates whose name or alert changed, plates removed (--replace)."""

    added: int
    updated: int
    removed: int
    unchanged: int


class WatchListStore:
    """The watch-list methods of `LabelStore` (a mixin: it uses the store's transactions)."""

    def watchlist(self) -> tuple[WatchEntry, ...]:
        """Every listed plate, by plate text."""
        with self._read() as conn:
            rows = conn.execute("SELECT plate, name, alert FROM watchlist ORDER BY plate").fetchall()
        return tuple(WatchEntry(r["plate"], r["name"], bool(r["alert"])) for r in rows)

    def watch_add(self, plate: str, name: str = "", alert: bool = False) -> bool:
        """List a plate, or change the name and alert of one listed already. True when it was new.
        Raises WatchlistError for a plate that cannot be listed."""
        new = entry(plate, name, alert)
        with self._write() as conn:
            return self._upsert(conn, new) == "added"

    def watch_remove(self, plate: str) -> bool:
        """Take a plate off the list; False when it was not listed."""
        with self._write() as conn:
            return conn.execute("DELETE FROM watchlist WHERE plate = ?", (normalise(plate),)).rowcount > 0

    def watch_import(self, entries: Iterable[WatchEntry], replace: bool = False) -> WatchImport:
        """Merge `entries` into the list (new plates added, listed ones updated), or with `replace`
        make the list exactly `entries`. One transaction: all of it or none."""
        entries = list(entries)
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        removed = 0
        with self._write() as conn:
            if replace:
                keep = {e.plate for e in entries}
                listed = [r[0] for r in conn.execute("SELECT plate FROM watchlist")]
                gone = [p for p in listed if p not in keep]
                conn.executemany("DELETE FROM watchlist WHERE plate = ?", [(p,) for p in gone])
                removed = len(gone)
            for e in entries:
                counts[self._upsert(conn, e)] += 1
        return WatchImport(counts["added"], counts["updated"], removed, counts["unchanged"])

    def _upsert(self, conn, new: WatchEntry) -> str:
        row = conn.execute("SELECT name, alert FROM watchlist WHERE plate = ?", (new.plate,)).fetchone()
        now = utc_now()
        if row is None:
            conn.execute(
                "INSERT INTO watchlist (plate, name, alert, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (new.plate, new.name, int(new.alert), now, now),
            )
            return "added"
        if (row["name"], bool(row["alert"])) == (new.name, new.alert):
            return "unchanged"
        conn.execute(
            "UPDATE watchlist SET name = ?, alert = ?, updated_at = ? WHERE plate = ?",
            (new.name, int(new.alert), now, new.plate),
        )
        return "updated"


def watchlist_of(data_dir: str | os.PathLike | None = None) -> tuple[WatchEntry, ...]:
    """The watch list of a data folder, for a reader that only looks (`recognize`, `batch`): empty,
    and nothing created, when the folder has no label database yet."""
    folder = data_dir_of(data_dir)
    if not (folder / DB_NAME).is_file():
        return ()
    from alpr.labels.store import LabelStore

    with LabelStore.open(folder) as store:
        return store.watchlist()
