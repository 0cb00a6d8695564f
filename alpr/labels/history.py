"""The label store's history as the Relabel page shows it: what Undo will take back, said in words.

The history lives in the store (its actions table), one per data folder, so Undo survives a page
reload and a server restart, and always names what it takes back before it is clicked.
"""

from __future__ import annotations

from dataclasses import dataclass

from alpr.types import REJECT

UNDOABLE = ("label", "plate", "merge", "split")


@dataclass(frozen=True)
class Action:
    """One person action not yet undone: what the Undo button would take back."""

    id: int
    kind: str  # 'label', 'plate', 'merge' or 'split'
    plate_id: int | None
    positions: tuple[int, ...]  # 1-based reading positions of the characters it labeled
    labels: tuple[str, ...]  # the labels it gave, in reading order; () for merge/split
    text: str | None  # a 'plate' action: the text typed
    added: bool = False  # a 'split' that replaced nothing: a segment added beside the others

    def describe(self) -> str:
        """The action in a few words: "character 3 of plate #1 labeled Z"."""
        plate = f"plate #{self.plate_id}"
        if self.kind == "label" and self.labels:
            label = "∅ (not a character)" if self.labels[0] == REJECT else self.labels[0]
            return f"character {self.positions[0]} of {plate} labeled {label}"
        if self.kind == "plate":
            return f"{plate} typed as {self.text or ''.join(self.labels).replace(REJECT, '')}"
        if self.kind == "merge":
            return f"the merge of two segments on {plate}"
        if self.kind == "split" and self.added:
            return f"the segment added to {plate}"
        if self.kind == "split":
            return f"the split of a segment on {plate}"
        return f"the {self.kind} on {plate}"


class HistoryQueries:
    """The history queries of `LabelStore` (a mixin: it uses the store's read transactions)."""

    def last_action(self) -> Action | None:
        """The latest person action in the store's folder that Undo can take back; None when none is left."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT id, kind, plate_id, new_text FROM actions WHERE kind IN ({','.join('?' * len(UNDOABLE))}) "
                "AND undone_at IS NULL ORDER BY id DESC LIMIT 1",
                UNDOABLE,
            ).fetchone()
            if row is None:
                return None
            labels = conn.execute(
                "SELECT c.idx, l.label FROM labels l JOIN chars c ON c.id = l.char_id WHERE l.action_id = ? ORDER BY c.idx",
                (row["id"],),
            ).fetchall()
            replaced = conn.execute(
                "SELECT COUNT(*) FROM chars WHERE retired_by_action = ? AND added_by_action IS NOT ?",
                (row["id"], row["id"]),
            ).fetchone()[0]
        return Action(
            row["id"],
            row["kind"],
            row["plate_id"],
            tuple(r["idx"] + 1 for r in labels),
            tuple(r["label"] for r in labels),
            row["new_text"],
            row["kind"] == "split" and not replaced,
        )

    def char_place(self, char_id: int) -> tuple[int, int] | None:
        """(plate id, 1-based reading position) of a live character; None when it is gone or retired."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT plate_id, idx FROM chars WHERE id = ? AND retired_by_action IS NULL", (int(char_id),)
            ).fetchone()
        return None if row is None else (row["plate_id"], row["idx"] + 1)

    def current_label(self, char_id: int) -> tuple[str, str] | None:
        """(label, source) of a character's effective label; None when it has none."""
        with self._read() as conn:
            row = conn.execute("SELECT label, source FROM current_labels WHERE char_id = ?", (int(char_id),)).fetchone()
        return None if row is None else (row["label"], row["source"])


def last_action(store) -> Action | None:
    """The latest person action in the store's folder that Undo can take back; None when none is left."""
    return store.last_action()


def undo(store, action_id: int):
    """Take back exactly the action shown; StoreError when another action came after it since."""
    return store.undo_last(action_id=action_id)


def place(store, char_id: int) -> tuple[int, int] | None:
    """(plate id, 1-based reading position) of a live character; None when it is gone or retired."""
    return store.char_place(char_id)


def current_label(store, char_id: int) -> tuple[str, str] | None:
    """(label, source) of a character's effective label; None when it has none."""
    return store.current_label(char_id)
