"""What the Relabel page's buttons and boxes do: each runs as a widget callback, before the page is
drawn, so every count the page shows afterwards is current. Whatever goes wrong becomes a one-line
message queued with `alpr.app.flash`, never a traceback.
"""

from __future__ import annotations

import io
import logging

import streamlit as st

from alpr.app.flash import flash
from alpr.errors import AlprError
from alpr.labels import history
from alpr.labels.relabel import display_name, label_plate, plate_text, save_label
from alpr.types import REJECT

log = logging.getLogger("alpr.app")

PAGE = "relabel"
PLATE_KEY = "relabel_plate"  # the plate picker's key: the plate shown on the Plates tab
TAB_KEY = "relabel_tab"
_UNCHANGED_KEY = "relabel_typed_unchanged"  # char id -> typed Enters that left the label as it was
_CHANGED = "changed since the page was drawn: nothing was done; look at its crops again."


def type_box_key(token: str, char_id: int) -> str:
    """A character's typing box key: its card's token (section, id, label, source) and how many of
    its Enters changed nothing. Either changing draws a new, empty box; a replay of the old box's
    value then reaches a widget that no longer exists, never a save."""
    return f"relabel_type_{token}_{st.session_state.get(_UNCHANGED_KEY, {}).get(char_id, 0)}"


def mismatch_key(plate_id: int) -> str:
    """Where a typed plate that did not fit the cut is kept: (text, segments) until it fits."""
    return f"relabel_mismatch_{plate_id}"


class RelabelActions:
    """The callbacks of one Relabel page run, bound to its store and author."""

    def __init__(self, store, author: str | None):
        self.store = store
        self.author = author

    def flash(self, kind: str, text: str) -> None:
        flash(PAGE, kind, text)

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
        shown = st.session_state.get(PLATE_KEY) == plate_id
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
        value = st.session_state.get(key)
        if value is None:  # the selected pill clicked again: keep the label, show it selected again
            st.session_state[key] = current
            return
        if value != current:
            self.save(char_id, value)

    def typed(self, char_id: int, key: str) -> None:
        # A text box's value is state, not an event: the browser sends it with every later
        # interaction, so when Streamlit drops the run of this Enter (another box's Enter came
        # first, see docs/relabel-and-recognize.md) the next run still finds it changed and saves
        # it. Saving it again is a no-op (save_label). The box is emptied by a new key, never by
        # writing its value: a value the server wrote and the browser had not yet received would
        # come back as a change and be saved again (type_box_key).
        value = (st.session_state.get(key) or "").strip()
        if value and not self.save(char_id, value):
            unchanged = st.session_state.setdefault(_UNCHANGED_KEY, {})
            unchanged[char_id] = unchanged.get(char_id, 0) + 1

    def save_plate(self, plate_id: int, key: str) -> None:
        text = plate_text(st.session_state.get(key))
        if not text:
            self.flash("error", "Type the plate's characters first, e.g. ABC1234.")
            return

        def run():
            result = label_plate(self.store, plate_id, text, self.author)
            if result.matched:
                st.session_state.pop(mismatch_key(plate_id), None)
                dropped = result.text.count(REJECT)
                extra = f" ({dropped} segment{'s' if dropped > 1 else ''} kept as not a character)" if dropped else ""
                self.flash(
                    "success",
                    f"Plate #{plate_id} labeled {result.text.replace(REJECT, '')}: "
                    f"{result.characters} characters{extra}",
                )
            else:
                st.session_state[mismatch_key(plate_id)] = (text, result.characters)

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
        current = st.session_state.get(PLATE_KEY)
        i = ids.index(current) if current in ids else 0
        st.session_state[PLATE_KEY] = ids[max(0, min(len(ids) - 1, i + delta))]

    @staticmethod
    def open_row(table_key: str, ids: list[int]) -> None:
        rows = st.session_state[table_key].selection.rows
        if rows and rows[0] < len(ids):
            st.session_state[PLATE_KEY] = ids[rows[0]]

    def export_zip(self) -> bytes:
        buffer = io.BytesIO()
        self.store.export_zip(buffer)
        return buffer.getvalue()
