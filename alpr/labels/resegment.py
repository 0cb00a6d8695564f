"""Fixing a plate's segmentation in the label store: two boxes merged into one, one box split
into several, each new crop cut again from the stored photo, and undo of either."""

from __future__ import annotations

import json
import sqlite3
from typing import Sequence

import numpy as np

from alpr.errors import StoreError
from alpr.labels.rows import decode_crop, encode_crop, utc_now
from alpr.types import Box

# A box the segmentation ran several glyphs into is split into at most this many.
MAX_SPLIT_PARTS = 8


class SegmentFixes:
    """The merge and split methods of `LabelStore` (a mixin: it uses the store's transactions)."""

    def merge_chars(self, plate_id: int, first_idx: int, author: str | None = None) -> int:
        """Merge the character at reading position `first_idx` (0-based) with the next one.

        For a glyph the segmentation cut in two. The new character's box is the union of both
        boxes and its crop is cut again from the stored photo; it has no label and no model guess
        (the old labels were about the halves). Characters after it move up one place. The two old
        rows are retired, not deleted, so their labels stay in the history and `undo_last` brings
        them back. One transaction; returns the new character's id.
        """
        plate_id, first_idx = int(plate_id), int(first_idx)
        grey, scale = self._plate_grey(plate_id, "merged")
        with self._write() as conn:
            live = self._live_rows(conn, plate_id)
            if not 0 <= first_idx < len(live) - 1:
                raise StoreError(
                    f"cannot merge characters {first_idx} and {first_idx + 1} of plate {plate_id}: it has "
                    f"{len(live)} character{'s' if len(live) != 1 else ''} (reading positions 0 to {len(live) - 1})"
                )
            a, b = live[first_idx], live[first_idx + 1]
            if a["line"] != b["line"]:
                raise StoreError(
                    f"cannot merge characters {first_idx} and {first_idx + 1} of plate {plate_id}: they are on "
                    "different lines of the plate"
                )
            x0, y0 = min(a["x"], b["x"]), min(a["y"], b["y"])
            x1, y1 = max(a["x"] + a["w"], b["x"] + b["w"]), max(a["y"] + a["h"], b["y"] + b["h"])
            box = Box(x0, y0, x1 - x0, y1 - y0)
            return self._resegment(
                conn, plate_id, live, first_idx, 2, [(a["line"], box)], grey, scale, "merge", author
            )[0]

    def split_char(self, plate_id: int, idx: int, parts: int = 2, author: str | None = None) -> list[int]:
        """Split the character at reading position `idx` (0-based) into `parts` equal-width boxes.

        For glyphs the segmentation ran together. Each new box is cut again from the stored photo
        and has no label and no model guess; characters after it move down. The old row is retired,
        not deleted, so `undo_last` brings it back with its labels. One transaction; returns the new
        characters' ids in reading order.
        """
        plate_id, idx, parts = int(plate_id), int(idx), int(parts)
        if not 2 <= parts <= MAX_SPLIT_PARTS:
            raise StoreError(f"a character is split into 2 to {MAX_SPLIT_PARTS} parts, not {parts}")
        grey, scale = self._plate_grey(plate_id, "split")
        with self._write() as conn:
            live = self._live_rows(conn, plate_id)
            if not 0 <= idx < len(live):
                raise StoreError(
                    f"cannot split character {idx} of plate {plate_id}: it has {len(live)} "
                    f"character{'s' if len(live) != 1 else ''} (reading positions 0 to {len(live) - 1})"
                )
            row = live[idx]
            if row["w"] < parts:
                raise StoreError(
                    f"character {idx} of plate {plate_id} is {row['w']} px wide: too narrow to split into {parts}"
                )
            edges = [row["x"] + int(round(k * row["w"] / parts)) for k in range(parts + 1)]
            boxes = [(row["line"], Box(edges[k], row["y"], edges[k + 1] - edges[k], row["h"])) for k in range(parts)]
            return self._resegment(conn, plate_id, live, idx, 1, boxes, grey, scale, "split", author)

    def add_segment(self, plate_id: int, at_start: bool, author: str | None = None) -> int:
        """Add a box before the first character (or after the last), for a character the segmentation
        missed, typically one outside the detected plate box. It is as wide and tall as the plate's
        median character, one median gap away, cut from the stored photo and unlabeled. Recorded as a
        split (the only kinds undo knows), so `undo_last` takes it back. Returns the new character's id.
        """
        plate_id = int(plate_id)
        grey, scale = self._plate_grey(plate_id, "given a new segment")
        with self._write() as conn:
            live = self._live_rows(conn, plate_id)
            if not live:
                raise StoreError(f"plate {plate_id} has no segments to add one beside")
            edge = live[0] if at_start else live[-1]
            row = [r for r in live if r["line"] == edge["line"]]
            w = int(np.median([r["w"] for r in row]))
            gaps = [b["x"] - (a["x"] + a["w"]) for a, b in zip(row, row[1:])]
            gap = max(1, int(np.median(gaps))) if gaps else max(1, w // 5)
            x = edge["x"] - gap - w if at_start else edge["x"] + edge["w"] + gap
            width = int(round(grey.shape[1] / scale))
            x = min(max(0, x), max(0, width - w))
            box = Box(x, edge["y"], w, edge["h"])
            start = 0 if at_start else len(live)
            return self._resegment(conn, plate_id, live, start, 0, [(edge["line"], box)], grey, scale, "split", author)[
                0
            ]

    def _plate_grey(self, plate_id: int, what: str) -> tuple[np.ndarray, float]:
        """The plate's stored photo as grey floats in [0, 1], and its pixels per original pixel.

        Read before the write lock is taken: photos never change once stored.
        """
        from alpr.detect import to_grey

        with self._read() as conn:
            row = conn.execute("SELECT photo_id FROM plates WHERE id = ?", (plate_id,)).fetchone()
        if row is None:
            raise StoreError(f"no plate with id {plate_id} in {self.path}")
        if row["photo_id"] is None:
            raise StoreError(
                f"plate {plate_id} was imported as character crops without its photo, so its boxes cannot be "
                f"{what} and cut again; label its crops one by one (∅ for a crop that is not a character)"
            )
        rgb, scale = self.photo_image(row["photo_id"])
        return to_grey(rgb), scale

    def _live_rows(self, conn, plate_id: int) -> list[sqlite3.Row]:
        return conn.execute(
            "SELECT id, idx, line, x, y, w, h, crop FROM chars WHERE plate_id = ? AND retired_by_action IS NULL ORDER BY idx",
            (plate_id,),
        ).fetchall()

    def _resegment(self, conn, plate_id, live, start, count, boxes, grey, scale, kind, author) -> list[int]:
        """Replace live[start:start + count] by new characters at `boxes` ((line, photo-pixel box)s),
        renumbering the reading order; recorded as one `kind` action that undo_last takes back."""
        replaced = live[start : start + count]
        size = decode_crop(live[start]["crop"] if count else live[0]["crop"], None).shape[0]
        if ink_is_light(grey, scale, replaced or live):
            grey = 1.0 - grey
        pngs = [encode_crop(recut(grey, scale, box, size)) for _, box in boxes]
        before = [int(r["id"]) for r in live]
        action_id = self._action(conn, kind, plate_id, author, detail={"before": before})
        conn.executemany(
            "UPDATE chars SET retired_by_action = ? WHERE id = ?", [(action_id, int(r["id"])) for r in replaced]
        )
        # Reading positions are unique among live rows: park the kept ones out of the way first.
        conn.execute("UPDATE chars SET idx = -1 - idx WHERE plate_id = ? AND retired_by_action IS NULL", (plate_id,))
        now, new_ids = utc_now(), []
        for k, ((line, box), png) in enumerate(zip(boxes, pngs)):
            cur = conn.execute(
                "INSERT INTO chars (plate_id, idx, line, x, y, w, h, crop, created_at, added_by_action) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (plate_id, start + k, line, box.x, box.y, box.w, box.h, png, now, action_id),
            )
            new_ids.append(int(cur.lastrowid))
        order = before[:start] + new_ids + before[start + count :]
        conn.executemany("UPDATE chars SET idx = ? WHERE id = ?", [(i, cid) for i, cid in enumerate(order)])
        return new_ids

    def _undo_resegment(self, conn, action: sqlite3.Row) -> tuple[int, ...]:
        """Take back a merge or split: its new rows retired, the rows it replaced live again, and
        every live character back at its old reading position. Returns the live ids in order."""
        action_id, plate_id = action["id"], action["plate_id"]
        later = conn.execute(
            "SELECT id, kind, author FROM actions WHERE plate_id = ? AND kind IN ('merge', 'split') "
            "AND undone_at IS NULL AND id > ? ORDER BY id LIMIT 1",
            (plate_id, action_id),
        ).fetchone()
        if later is not None:
            who = f" by {later['author']}" if later["author"] else ""
            raise StoreError(
                f"cannot undo the {action['kind']} on plate {plate_id}: its boxes were {later['kind']} again since{who}; "
                "undo that first"
            )
        before = [int(i) for i in json.loads(action["detail"])["before"]]
        # A row the action cut and its undo retired is marked retired by the action itself.
        conn.execute(
            "UPDATE chars SET retired_by_action = ? WHERE added_by_action = ? AND retired_by_action IS NULL",
            (action_id, action_id),
        )
        conn.execute("UPDATE chars SET idx = -1 - idx WHERE plate_id = ? AND retired_by_action IS NULL", (plate_id,))
        conn.execute(
            "UPDATE chars SET retired_by_action = NULL WHERE retired_by_action = ? AND added_by_action IS NOT ?",
            (action_id, action_id),
        )
        conn.executemany("UPDATE chars SET idx = ? WHERE id = ?", [(i, cid) for i, cid in enumerate(before)])
        live = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM chars WHERE plate_id = ? AND retired_by_action IS NULL ORDER BY idx", (plate_id,)
            )
        ]
        if live != before:
            raise StoreError(
                f"cannot undo the {action['kind']} on plate {plate_id}: its characters are no longer the ones it left"
            )
        return tuple(live)


def recut(grey: np.ndarray, scale: float, box: Box, size: int) -> np.ndarray:
    """The classifier's input for `box` (original photo pixels) cut from the stored grey photo."""
    from alpr.segment import normalize_crop

    x0, y0 = int(np.floor(box.x * scale)), int(np.floor(box.y * scale))
    x1, y1 = int(np.ceil(box.x2 * scale)), int(np.ceil(box.y2 * scale))
    return normalize_crop(grey, Box(x0, y0, max(1, x1 - x0), max(1, y1 - y0)), size)


def ink_is_light(grey: np.ndarray, scale: float, rows: Sequence[sqlite3.Row]) -> bool:
    """Whether the plate's glyphs are lighter than its background.

    Stored crops are dark glyphs on light whichever way the plate is printed (the segmentation
    inverts light-on-dark plates): cut the replaced rows' own boxes again and see which way round
    they match their stored crops.
    """
    score = 0.0
    for r in rows:
        stored = decode_crop(r["crop"], None)
        again = recut(grey, scale, Box(r["x"], r["y"], r["w"], r["h"]), stored.shape[0]).ravel()
        a, b = stored.ravel() - stored.mean(), again - again.mean()
        score += float(a @ b)
    return score < 0
