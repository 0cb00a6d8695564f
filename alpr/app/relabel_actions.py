"""What the Relabel page's buttons and boxes do: each runs as a widget callback, before the page is
drawn, so every count the page shows afterwards is current. Whatever goes wrong becomes a one-line
message queued for the page, never a traceback.

A callback reads and writes no `st.session_state` item until its change is in the store. Every
access to one is a point where Streamlit gives way to a newer interaction: it raises there, drops
the rest of the callback and starts the newer run, whose request already counts the widget's value
as seen, so the callback never runs again. A person typing into the next box while the last one's
run is still starting lost a label that way (issue 22). So a callback reads the session once with
`to_dict()` (no such point) and changes only objects the page fetched for it: the box counters,
the misfit plates and the message queue (docs/relabel-and-recognize.md).
"""

from __future__ import annotations

import io
import logging

import streamlit as st

from alpr.app.flash import put, queue
from alpr.errors import AlprError
from alpr.labels import history
from alpr.labels.relabel import display_name, label_plate, plate_text, save_label
from alpr.types import REJECT

log = logging.getLogger("alpr.app")

PAGE = "relabel"
PLATE_KEY = "relabel_plate"  # the plate picker's key: the plate shown on the Plates tab
TAB_KEY = "relabel_tab"
TYPE_PREFIX = "relabel_type_"  # a typing box's key: this, its section, its character id, its Enters handled
_ENTERS_KEY = "relabel_enters"  # "section_charid" -> Enters handled in that box this session
_MISFITS_KEY = "relabel_misfits"  # plate id -> (text, segments) of a typed plate that did not fit the cut
_CHANGED = "changed since the page was drawn: nothing was done; look at its crops again."


def _peek(key: str):
    """A session value read without giving way to a newer interaction (see the module's doc)."""
    return st.session_state.to_dict().get(key)


class RelabelActions:
    """The callbacks of one Relabel page run, bound to its store and author."""

    def __init__(self, store, author: str | None):
        self.store = store
        self.author = author
        # Fetched here, in the page's body: the callbacks change these objects in place, so they
        # never write to st.session_state before (or after) their change is in the store.
        self.enters: dict[str, int] = st.session_state.setdefault(_ENTERS_KEY, {})
        self.misfits: dict[int, tuple[str, int]] = st.session_state.setdefault(_MISFITS_KEY, {})
        self.messages = queue(PAGE)

    def flash(self, kind: str, text: str) -> None:
        put(self.messages, kind, text)

    def act(self, what: str, action):
        """Run one store action and return what it returns; whatever goes wrong becomes a one-line
        message, never a traceback, and None."""
        try:
            return action()
        except AlprError as exc:
            self.flash("error", f"Could not {what}: {exc}")
        except Exception as exc:  # noqa: BLE001 - the page must survive a failing action
            log.exception("relabel: %s failed", what)
            self.flash("error", f"Could not {what}: {type(exc).__name__}: {exc}")

    def where(self, char_id: int) -> str:
        """The character's place now, as the person sees it: "Character 3" (of the plate shown) or
        "Character 3 of plate #5"; read from the store, since a merge may have moved it."""
        found = history.place(self.store, char_id)
        if found is None:
            return f"Character {char_id}"
        plate_id, position = found
        shown = _peek(PLATE_KEY) == plate_id
        return f"Character {position}" + ("" if shown else f" of plate #{plate_id}")

    def save(self, char_id: int, value: str) -> bool:
        """Save one label, said in a toast either way: a repeat of the same label writes nothing.
        True when the label changed."""

        def run():
            saved = save_label(self.store, char_id, value, self.author)
            if saved.changed:
                self.flash("success", f"{self.where(char_id)} labeled {display_name(saved.label)}")
            else:
                self.flash("success", f"{self.where(char_id)} is already labeled {display_name(saved.label)}")
            return saved.changed

        return self.act("save the label", run) is True

    def pick(self, char_id: int, key: str, current: str | None) -> None:
        value = _peek(key)
        if value is None:  # the selected pill clicked again: keep the label, show it selected again
            st.session_state[key] = current
            return
        if value != current:
            self.save(char_id, value)

    def box_key(self, section: str, char_id: int) -> str:
        """The key of a character's typing box: from its section and character id, and how many of
        its Enters were handled. Only its own Enter gives it a new key (drawn empty), and a value
        the browser sends again under the old key reaches a box that is no longer drawn."""
        return f"{TYPE_PREFIX}{section}_{char_id}_{self.enters.get(f'{section}_{char_id}', 0)}"

    def typed(self, section: str, char_id: int, key: str) -> None:
        """Save what was typed in a character's box, then give the box a new key. Both happen
        without a point where Streamlit could give way (module doc), so a box's value is saved
        exactly once: either it still has its key and its value waits for `commit_typed`, or it
        is saved and its box is drawn anew."""
        value = (_peek(key) or "").strip()
        if not value or key != self.box_key(section, char_id):
            return
        self.save(char_id, value)  # the same label twice is one save (save_label)
        slot = f"{section}_{char_id}"
        self.enters[slot] = self.enters.get(slot, 0) + 1

    def commit_typed(self) -> None:
        """Save every box's value whose callback never finished, before the page draws anything.

        A safety net: if Streamlit still stopped a callback early, the box keeps its key and its
        value, which the browser sends with every later interaction, so the next run saves it here.
        """
        for key, value in st.session_state.to_dict().items():
            if key.startswith(TYPE_PREFIX) and isinstance(value, str) and value.strip():
                section, char_id, _ = key.removeprefix(TYPE_PREFIX).rsplit("_", 2)
                if char_id.isdigit() and key == self.box_key(section, int(char_id)):
                    self.typed(section, int(char_id), key)

    def save_plate(self, plate_id: int, key: str) -> None:
        text = plate_text(_peek(key))
        if not text:
            self.flash("error", "Type the plate's characters first, e.g. ABC1234.")
            return

        def run():
            result = label_plate(self.store, plate_id, text, self.author)
            if result.matched:
                self.misfits.pop(plate_id, None)
                dropped = result.text.count(REJECT)
                extra = f" ({dropped} segment{'s' if dropped > 1 else ''} kept as not a character)" if dropped else ""
                self.flash(
                    "success",
                    f"Plate #{plate_id} labeled {result.text.replace(REJECT, '')}: "
                    f"{result.characters} characters{extra}",
                )
            else:
                self.misfits[plate_id] = (text, result.characters)

        self.act("label the plate", run)

    def still_at(self, plate_id: int, idx: int, char_id: int) -> bool:
        """Whether the crop a button was drawn for is still at that place: another tab (or a second
        click) may have merged or split the plate since, and the position would then name another crop."""
        chars = self.store.plate_chars(plate_id)
        if idx < len(chars) and chars[idx].id == char_id:
            return True
        self.flash("info", f"Plate #{plate_id} {_CHANGED}")
        return False

    def merge(self, plate_id: int, first_idx: int, char_id: int) -> None:
        def run():
            if self.still_at(plate_id, first_idx, char_id):
                self.store.merge_chars(plate_id, first_idx, author=self.author)
                self.flash(
                    "success", f"Merged segments {first_idx + 1} and {first_idx + 2} of plate #{plate_id} into one"
                )

        self.act("merge the segments", run)

    def split(self, plate_id: int, idx: int, char_id: int) -> None:
        def run():
            if self.still_at(plate_id, idx, char_id):
                self.store.split_char(plate_id, idx, author=self.author)
                self.flash("success", f"Split segment {idx + 1} of plate #{plate_id} in two")

        self.act("split the segment", run)

    def add_segment(self, plate_id: int, at_start: bool, count: int) -> None:
        def run():
            if len(self.store.plate_chars(plate_id)) != count:
                self.flash("info", f"Plate #{plate_id} {_CHANGED}")
                return
            self.store.add_segment(plate_id, at_start, author=self.author)
            self.flash(
                "success",
                f"Added a segment {'before the first' if at_start else 'after the last'} of plate "
                f"#{plate_id}: label it, or Undo",
            )

        self.act("add the segment", run)

    def not_a_plate(self, plate_id: int, flag: bool) -> None:
        def run():
            self.store.mark_not_a_plate(plate_id, flag)
            self.flash(
                "success",
                f"Plate #{plate_id} marked not a plate: its crops left the review queue"
                if flag
                else f"Plate #{plate_id} is a plate again: its crops are back in the review queue",
            )

        self.act("mark the plate", run)

    def drop(self, char_id: int, position: str) -> None:
        def run():
            self.store.set_label(char_id, REJECT, author=self.author)
            self.flash("success", f"Segment {position} marked ∅ not a character")

        self.act("mark the segment", run)

    def undo(self, action_id: int | None, shown: str) -> None:
        """Take back exactly the action the button named (`shown`), never a newer one saved since."""

        def run():
            undone = None if action_id is None else history.undo(self.store, action_id)
            if undone is None:
                self.flash("info", "Nothing to undo: no label in this data folder is left to take back.")
                return
            self.flash("success", f"Undid {shown}")
            if undone.plate_id is not None:
                st.session_state[PLATE_KEY] = undone.plate_id

        self.act("undo", run)

    @staticmethod
    def open_plate(plate_id: int) -> None:
        """From a queue card to its plate: the Plates tab, showing that plate."""
        st.session_state[PLATE_KEY] = plate_id
        st.session_state[TAB_KEY] = "Plates"

    @staticmethod
    def step(ids: list[int], delta: int) -> None:
        current = _peek(PLATE_KEY)
        i = ids.index(current) if current in ids else 0
        st.session_state[PLATE_KEY] = ids[max(0, min(len(ids) - 1, i + delta))]

    @staticmethod
    def open_row(table_key: str, ids: list[int]) -> None:
        rows = _peek(table_key).selection.rows
        if rows and rows[0] < len(ids):
            st.session_state[PLATE_KEY] = ids[rows[0]]

    def export_zip(self) -> bytes:
        buffer = io.BytesIO()
        self.store.export_zip(buffer)
        return buffer.getvalue()
