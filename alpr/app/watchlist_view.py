"""The watch list on the pages: the Watch list page's pieces (add, the table, import and export, a
read to try) and the badge Recognize and Video show on a read that matches a listed plate.

Every change runs as a widget callback through the label store, and what it did (or why it could
not) is a one-line message queued with `alpr.app.flash`, never a traceback.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from alpr.app.flash import flash, pending
from alpr.app.store import watch_entries
from alpr.errors import AlprError
from alpr.watchlist import WatchMatch, match, normalise, parse_csv, to_csv

PAGE = "watchlist"
_ADD = "watchlist_add"  # the add form; its fields are watchlist_add_plate, _name, _alert
_TABLE = "watchlist_table"
_REMOVE_PICK = "watchlist_remove_pick"
_UPLOAD = "watchlist_upload"  # + a count of imports: each import empties the box by a new key
_UPLOADS_DONE = "watchlist_uploads_done"
_REPLACE = "watchlist_replace"


def badge(found: WatchMatch | None, where=st) -> None:
    """A read's watch-list badge: red for an alert plate, violet for a listed one, nothing otherwise."""
    if found is None:
        return
    name = found.entry.name or found.entry.plate
    how = "" if found.exact else f" (read {found.read})"
    if found.alert:
        where.badge(f"Watch list alert: {name}{how}", icon=":material/notifications_active:", color="red")
    else:
        where.badge(f"On the watch list: {name}{how}", icon=":material/visibility:", color="violet")


def read_badge(text: str, where=st) -> None:
    """The badge of a plate read as `text`, against the list as it is now."""
    entries = watch_entries()
    badge(match(text, entries) if entries else None, where)


def label(text: str) -> str:
    """A short mark for a table cell: the listed plate's name, "" when the read matches none."""
    entries = watch_entries()
    found = match(text, entries) if entries else None
    if found is None:
        return ""
    return ("🔔 " if found.alert else "") + (found.entry.name or found.entry.plate)


# --- the page's actions (callbacks) ---------------------------------------------------------------


def _act(what: str, action) -> None:
    try:
        action()
    except AlprError as exc:
        flash(PAGE, "error", f"Could not {what}: {exc}")


def _add(store) -> None:
    session = st.session_state.to_dict()  # one read, no hand-over point (see _import)
    plate = session.get(f"{_ADD}_plate", "")
    name = session.get(f"{_ADD}_name", "")
    alert = bool(session.get(f"{_ADD}_alert"))

    def add():
        new = store.watch_add(plate, name, alert)
        flash(PAGE, "success", f"{'Listed' if new else 'Updated'} {normalise(plate)}.")

    _act(f"list {plate!r}", add)


def _remove(store, plates: list[str]) -> None:
    def remove():
        gone = [p for p in plates if store.watch_remove(p)]
        flash(PAGE, "success", f"Removed {', '.join(gone)}." if gone else "Nothing was removed.")
        st.session_state[_REMOVE_PICK] = []

    _act("remove the plates", remove)


def _upload_key() -> str:
    return f"{_UPLOAD}_{st.session_state.get(_UPLOADS_DONE, 0)}"


def _import(store) -> None:
    # The session is read with to_dict() and the import saved before the session is written: a
    # newer interaction stops a callback at its first st.session_state access (see
    # alpr/app/relabel_actions.py), and a file taken as seen but never imported would be lost.
    session = st.session_state.to_dict()
    done_uploads = session.get(_UPLOADS_DONE, 0)
    upload = session.get(f"{_UPLOAD}_{done_uploads}")
    if upload is None:  # the file was taken out of the box: nothing to import
        return
    replace = bool(session.get(_REPLACE))

    def do_import():
        text = upload.getvalue().decode("utf-8", errors="replace")
        done = store.watch_import(parse_csv(text, source=upload.name), replace=replace)
        removed = f", {done.removed} removed" if replace else ""
        flash(
            PAGE,
            "success",
            f"{upload.name}: {done.added} added, {done.updated} updated, {done.unchanged} unchanged{removed}.",
        )

    _act(f"import {upload.name}", do_import)
    # A new box for the next file (importing the same file again changes nothing).
    st.session_state[_UPLOADS_DONE] = done_uploads + 1


# --- the page's pieces ---------------------------------------------------------------------------------


def show_messages() -> None:
    for kind, text in pending(PAGE):
        if kind == "success":
            st.toast(text, icon=":material/check_circle:")
        else:
            st.error(text, icon=":material/error:")


def add_form(store) -> None:
    with st.form(_ADD, clear_on_submit=True, border=True):
        row = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
        row.text_input("Plate", key=f"{_ADD}_plate", placeholder="ABC1234", width=160, max_chars=20)
        row.text_input("Name", key=f"{_ADD}_name", placeholder="Whose car, or why it is listed", width=320)
        row.toggle("Alert", key=f"{_ADD}_alert", help="A read of this plate raises an alert (sent by the webhooks)")
        row.form_submit_button(
            "Add",
            icon=":material/add:",
            type="primary",
            on_click=_add,
            args=(store,),
            help="Adding a listed plate again updates it",
        )


def table(store, entries) -> None:
    if not entries:
        st.info(
            "No plate is listed yet. Add one above, import a CSV below, or use `python -m alpr watchlist add`.",
            icon=":material/info:",
        )
        return
    st.dataframe(
        pd.DataFrame(
            {
                "Plate": [e.plate for e in entries],
                "Name": [e.name for e in entries],
                "Alert": [e.alert for e in entries],
            }
        ),
        key=_TABLE,
        hide_index=True,
        height=min(38 + 35 * len(entries), 420),
        column_config={"Alert": st.column_config.CheckboxColumn(help="A read of this plate raises an alert")},
    )
    row = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
    # Options are the plates themselves: a plate removed meanwhile drops out instead of shifting a pick.
    picked = row.multiselect(
        "Plates to remove",
        [e.plate for e in entries],
        key=_REMOVE_PICK,
        placeholder="Choose plates…",
        width=360,
    )
    row.button(
        "Remove",
        key="watchlist_remove",
        icon=":material/delete:",
        disabled=not picked,
        on_click=_remove,
        args=(store, list(picked)),
    )


def import_export(store, entries) -> None:
    with st.container(border=True):
        st.markdown("**Import and export** · a CSV of `plate,name,alert` (alert yes or no)")
        row = st.container(horizontal=True, vertical_alignment="center", gap="small")
        row.toggle("Replace the whole list", key=_REPLACE, help="Off: the file's plates are added or updated")
        row.download_button(
            "Export",
            to_csv(entries),
            file_name="watchlist.csv",
            mime="text/csv",
            on_click="ignore",
            icon=":material/download:",
            key="watchlist_export",
        )
        # A file is imported as it arrives: a file with a bad row imports nothing and says which lines.
        st.file_uploader(
            "Import a CSV file",
            type=["csv"],
            key=_upload_key(),
            on_change=_import,
            args=(store,),
            help="Imported as soon as it is chosen; a file with a bad row imports nothing",
        )


def try_a_read(entries) -> None:
    text = st.text_input(
        "Try a read",
        key="watchlist_try",
        placeholder="A8C1234",
        width=200,
        help="What a read of this text would match: look-alikes (O/0, I/1, B/8, S/5, Z/2) are free, plus one edit",
    )
    if not text:
        return
    found = match(text, entries)
    if found is None:
        st.caption(f"{normalise(text) or text} matches no listed plate.")
        return
    badge(found)
    st.caption(
        f"{found.read} is {found.entry.plate} with {found.lookalikes} look-alike swap(s) and {found.edits} edit(s)."
    )
