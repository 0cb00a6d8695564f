"""The watch list: known plates (a text, a name, alert or not) and whether a read is one of them.

A read matches a listed plate when the two differ only by look-alike characters (O/0, I/1, B/8,
S/5, Z/2 by default: a reader confuses them, and people type them either way) plus at most a few
further edits (a character changed, missed or extra), as `WatchlistConfig` says. The store keeps
the list (`LabelStore.watchlist()`); this module only compares texts, so every output (the JSON
shapes, the pages, the API's webhooks) asks the same question the same way:

    found = match(read.plate, entries)   # a WatchMatch, or None
    if found is not None and found.alert: ...

CSV files of the list (`plate,name,alert`) are read whole or not at all: `parse_csv` names every
bad line, so a list is never half imported.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from alpr.config import DEFAULT, WatchlistConfig
from alpr.errors import WatchlistError

CSV_HEADER = ("plate", "name", "alert")
# The longest plate text the list takes: no plate format has more than 10 characters (US vanity
# plates stop at 8, some EU ones reach 10); anything longer is a pasted note, not a plate.
MAX_PLATE_CHARS = 10
MAX_NAME_CHARS = 200  # a name is a label on a badge, not a file
# How many bad lines a refused CSV names before "and N more": enough to fix a file in one go.
MAX_PROBLEMS_SAID = 12
_NOT_PLATE = re.compile(r"[^A-Z0-9]")
_YES = ("yes", "y", "true", "1", "on")
_NO = ("no", "n", "false", "0", "off", "")


@dataclass(frozen=True)
class WatchEntry:
    """A listed plate: its text as `normalise` leaves it, a name for people, and whether a sighting alerts."""

    plate: str
    name: str = ""
    alert: bool = False


@dataclass(frozen=True)
class WatchMatch:
    """A read that is a listed plate: which entry, what was read, and how far the read was from it."""

    entry: WatchEntry
    read: str  # the read's text, normalised
    edits: int  # characters changed, missed or extra beyond look-alikes
    lookalikes: int  # look-alike swaps (O for 0...), which cost nothing

    @property
    def alert(self) -> bool:
        return self.entry.alert

    @property
    def exact(self) -> bool:
        return self.edits == 0 and self.lookalikes == 0

    def as_json(self) -> dict:
        """The `watchlist` field of a read in every JSON output (docs/api.md)."""
        return {
            "plate": self.entry.plate,
            "name": self.entry.name,
            "alert": self.entry.alert,
            "edits": self.edits,
            "lookalikes": self.lookalikes,
        }


def normalise(text: str) -> str:
    """A plate's text as the list compares it: upper case, letters and digits only ("ab-12 3" -> "AB123")."""
    return _NOT_PLATE.sub("", str(text).upper())


def entry(plate: str, name: str = "", alert: bool = False) -> WatchEntry:
    """A checked entry; raises WatchlistError when the plate or name cannot be listed."""
    problem = _plate_problem(plate) or _name_problem(name)
    if problem:
        raise WatchlistError(problem)
    return WatchEntry(normalise(plate), " ".join(str(name).split()), bool(alert))


def match(text: str, entries: Iterable[WatchEntry], config: WatchlistConfig = DEFAULT.watchlist) -> WatchMatch | None:
    """The listed plate `text` reads as, or None. The closest entry wins (fewest edits, then fewest
    look-alike swaps, then the plate's text, so the answer never depends on the list's order)."""
    read = normalise(text)
    if not read:
        return None
    pairs = _pairs(config.lookalikes)
    best = None
    for listed in entries:
        allowed = config.max_edits if min(len(read), len(listed.plate)) >= config.min_chars_for_edit else 0
        if abs(len(read) - len(listed.plate)) > allowed:
            continue
        cost = _distance(read, listed.plate, pairs, allowed)
        if cost is None:
            continue
        key = (cost[0], cost[1], listed.plate)
        if best is None or key < best[0]:
            best = (key, WatchMatch(listed, read, cost[0], cost[1]))
    return best[1] if best else None


def match_all(texts: Sequence[str], entries: Sequence[WatchEntry], config: WatchlistConfig = DEFAULT.watchlist):
    """`match` for each text, in order (None where a text matches nothing)."""
    return [match(t, entries, config) for t in texts] if entries else [None] * len(texts)


def _pairs(lookalikes: Sequence[str]) -> frozenset[tuple[str, str]]:
    found = set()
    for group in lookalikes:
        chars = normalise(group)
        found |= {(a, b) for a in chars for b in chars if a != b}
    return frozenset(found)


def _distance(a: str, b: str, pairs: frozenset, limit: int) -> tuple[int, int] | None:
    """(edits, look-alike swaps) turning `a` into `b`, edits counted first; None past `limit` edits.
    Levenshtein's table with a look-alike substitution costing no edit."""
    previous = [(j, 0) for j in range(len(b) + 1)]
    for i, ca in enumerate(a, start=1):
        row = [(i, 0)]
        for j, cb in enumerate(b, start=1):
            diagonal = previous[j - 1]
            if ca == cb:
                swap = diagonal
            elif (ca, cb) in pairs:
                swap = (diagonal[0], diagonal[1] + 1)
            else:
                swap = (diagonal[0] + 1, diagonal[1])
            removed = (previous[j][0] + 1, previous[j][1])
            added = (row[j - 1][0] + 1, row[j - 1][1])
            row.append(min(swap, removed, added))
        if min(edits for edits, _ in row) > limit:
            return None
        previous = row
    return previous[-1] if previous[-1][0] <= limit else None


def _plate_problem(plate) -> str | None:
    text = normalise(plate)
    if not text:
        return f"plate {str(plate)!r} has no letters or digits; give the plate's characters, e.g. ABC1234"
    if len(text) > MAX_PLATE_CHARS:
        return f"plate {str(plate)!r} has {len(text)} characters; plates have at most {MAX_PLATE_CHARS}"
    return None


def _name_problem(name) -> str | None:
    if len(str(name)) > MAX_NAME_CHARS:
        return f"the name is {len(str(name))} characters long; keep it under {MAX_NAME_CHARS}"
    return None


def _flag(value: str) -> bool | None:
    text = str(value).strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    return None


# ------------------------------------------------------------------------------------ CSV files


def parse_csv(text: str, source: str = "the CSV") -> list[WatchEntry]:
    """The entries of a watch-list CSV (`plate,name,alert`; name and alert may be left out). Every
    row must be good: otherwise WatchlistError names each bad line and nothing is returned."""
    rows = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = [h.strip().lower() for h in next(rows, [])]
    except csv.Error as exc:
        raise WatchlistError(f"{source} is not a CSV file ({exc}); write it as plate,name,alert") from None
    if "plate" not in header:
        raise WatchlistError(
            f"{source} has no 'plate' column (its first line is {','.join(header) or 'empty'}); "
            "start it with the line plate,name,alert"
        )
    unknown = [h for h in header if h not in CSV_HEADER]
    if unknown:
        raise WatchlistError(
            f"{source} has columns {', '.join(unknown)} that a watch list has not; use plate,name,alert"
        )
    entries, problems, first_line = [], [], {}
    try:
        for row in rows:
            line = rows.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                problems.append(
                    f"line {line}: {len(row)} values under {len(header)} columns (a comma in a name needs quotes)"
                )
                continue
            values = dict(zip(header, row))
            plate, name = values.get("plate", ""), values.get("name", "")
            alert = _flag(values.get("alert", ""))
            problem = _plate_problem(plate) or _name_problem(name)
            if problem is None and alert is None:
                problem = f"alert {values['alert'].strip()!r} is not yes or no"
            if problem is None and normalise(plate) in first_line:
                problem = f"plate {normalise(plate)} is listed again (first on line {first_line[normalise(plate)]})"
            if problem:
                problems.append(f"line {line}: {problem}")
                continue
            first_line[normalise(plate)] = line
            entries.append(WatchEntry(normalise(plate), " ".join(name.split()), alert))
    except csv.Error as exc:
        problems.append(f"line {rows.line_num}: {exc}")
    if problems:
        said = "; ".join(problems[:MAX_PROBLEMS_SAID])
        more = f"; and {len(problems) - MAX_PROBLEMS_SAID} more" if len(problems) > MAX_PROBLEMS_SAID else ""
        raise WatchlistError(
            f"{source} has {len(problems)} bad row{'s' * (len(problems) != 1)}, so nothing was imported: {said}{more}"
        )
    return entries


def to_csv(entries: Iterable[WatchEntry]) -> str:
    """The list as a CSV that `parse_csv` reads back: plate,name,alert with alert yes or no."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for e in entries:
        writer.writerow([e.plate, e.name, "yes" if e.alert else "no"])
    return out.getvalue()
