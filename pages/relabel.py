"""Relabel: fix what the model read, crop by crop or a whole plate at once; every fix is kept as training data."""

import logging

import pandas as pd
import streamlit as st

from alpr import app as appstate
from alpr.app.flash import pending as pending_flashes
from alpr.app.relabel_actions import PLATE_KEY as _PLATE
from alpr.app.relabel_actions import RelabelActions
from alpr.app.relabel_view import label_counts, plate_label, review_queue, show_messages, show_plate
from alpr.errors import AlprError
from alpr.labels import history

appstate.require_router("relabel")

log = logging.getLogger("alpr.app")

RECENT_PLATES = 50  # plates listed in the picker and the recent-reads table

st.title("Relabel")
st.markdown(
    "Fix what the model read. Pick the right class under a crop, type any class, mark a crop "
    "**∅ not a character**, or type the whole plate and press Enter. When the plate was cut wrong, "
    "**merge** two crops of one character or **split** a crop of two. Every fix is kept in the label store "
    "and becomes training data for the next training run."
)

store = appstate.get_store()
author = appstate.author()

actions = RelabelActions(store, author)
# Before anything is read or drawn: a typed label whose callback Streamlit stopped early is saved now.
actions.commit_typed()

# --- what the store holds --------------------------------------------------------------------------

# A plate asked for by the Recognize page's "Fix this read" link or the Evaluate page.
if "plate" in st.query_params:
    try:
        st.session_state[_PLATE] = int(st.query_params["plate"])
    except ValueError:
        pass
    del st.query_params["plate"]

try:
    stats = store.stats()
    recent = store.recent_plates(RECENT_PLATES)
    wanted = st.session_state.get(_PLATE)
    if wanted is not None and wanted not in {p.id for p in recent}:
        try:
            recent.insert(0, store.plate(wanted))
        except AlprError:
            st.session_state.pop(_PLATE, None)
except AlprError as exc:
    st.error(f"Could not read the label store: {exc}", icon=":material/error:")
    st.stop()

# One container, drawn on every run: a message in it never moves the widgets below, so a box
# the person is typing into is not redrawn (and emptied) under their keys.
show_messages(pending_flashes("relabel"))

head = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
head.metric(
    "Plates stored",
    stats["plates"],
    border=True,
    width=172,
    help="Every plate read on the Recognize page, sent from Evaluate, or imported",
)
head.metric(
    "Characters labeled",
    stats["labeled"],
    border=True,
    width=172,
    help="Characters whose label came from a person or an import: the training data",
)
head.metric(
    "Corrections",
    stats["corrections"],
    border=True,
    width=172,
    help="Labels given by a person that differ from the model's guess",
)
head.metric(
    "Waiting for training",
    stats["pending_training"],
    border=True,
    width=172,
    help="Training labels newer than the last training run",
)
tools = head.container(horizontal=True, horizontal_alignment="right", vertical_alignment="bottom", gap="small")
try:
    undoable = history.last_action(store)
except AlprError:
    undoable = None
undo_words = undoable.describe() if undoable is not None else ""
tools.button(
    "Undo",
    key="relabel_undo",
    icon=":material/undo:",
    on_click=actions.undo,
    args=(undoable.id if undoable else None, undo_words),
    shortcut="Alt+Z",
    disabled=undoable is None,
    help=(
        f"Take back {undo_words} (Alt+Z). The history is kept with the labels, so Undo works after a reload too."
        if undoable
        else "Nothing to undo in this data folder"
    ),
)
tools.download_button(
    "Export",
    actions.export_zip,
    file_name="alpr-labels.zip",
    mime="application/zip",
    on_click="ignore",
    icon=":material/download:",
    key="relabel_export",
    help="The labeled characters as a zip: a folder per class of PNG crops and labels.csv "
    "(what `python -m alpr labels export --zip` writes)",
)


tab_plates, tab_queue, tab_counts = st.tabs(
    ["Plates", "Review queue", "Counts"],
    key="relabel_tab",
)

with tab_plates:
    if not recent:
        st.info(
            "Nothing to relabel yet. Read a photo on the **Recognize** page, send errors from **Evaluate**, or import "
            "a labeled folder with `python -m alpr labels import`.",
            icon=":material/info:",
        )
    else:
        ids = [p.id for p in recent]
        by_id = {p.id: p for p in recent}
        if st.session_state.get(_PLATE) not in by_id:
            st.session_state[_PLATE] = ids[0]
        picker = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
        picker.selectbox(
            "Plate",
            ids,
            key=_PLATE,
            format_func=lambda i: plate_label(by_id[i]),
            width=620,
            help="Newest first: the reads of the Recognize page, errors sent from Evaluate, imports",
        )
        picker.button(
            "Newer",
            key="relabel_newer",
            icon=":material/arrow_back:",
            on_click=actions.step,
            args=(ids, -1),
            disabled=st.session_state[_PLATE] == ids[0],
            shortcut="Alt+P",
            help="Newer plate (Alt+P)",
        )
        picker.button(
            "Older",
            key="relabel_older",
            icon=":material/arrow_forward:",
            icon_position="right",
            on_click=actions.step,
            args=(ids, 1),
            disabled=st.session_state[_PLATE] == ids[-1],
            shortcut="Alt+N",
            help="Older plate (Alt+N)",
        )
        current = by_id[st.session_state[_PLATE]]
        try:
            with st.container(border=True):
                show_plate(actions, current)
        except AlprError as exc:
            st.error(f"Could not show plate #{current.id}: {exc}", icon=":material/error:")
        except Exception as exc:  # noqa: BLE001 - one broken plate must not take the page down
            log.exception("relabel: showing plate %s failed", current.id)
            st.error(f"Could not show plate #{current.id}: {type(exc).__name__}: {exc}", icon=":material/error:")

        st.markdown("**Recent reads** · click a row to open it")
        table_key = f"relabel_recent_{current.id}"
        st.dataframe(
            pd.DataFrame(
                {
                    "Plate": [f"#{p.id}" for p in recent],
                    "Photo": [p.name or "imported crops" for p in recent],
                    "Read": [p.text_read for p in recent],
                    "Confirmed": [p.text_confirmed or "" for p in recent],
                    "Labeled": [p.labeled / p.characters if p.characters else 0.0 for p in recent],
                    "Segments": [p.characters for p in recent],
                    "Stored": [p.created_at[:19].replace("T", " ") for p in recent],
                }
            ),
            key=table_key,
            on_select=lambda: actions.open_row(table_key, ids),
            selection_mode="single-row",
            hide_index=True,
            height=min(36 + 35 * len(recent), 320),
            column_config={
                "Labeled": st.column_config.ProgressColumn(min_value=0, max_value=1, format="percent", width=120),
            },
        )

with tab_queue:
    review_queue(actions, store, stats)

with tab_counts:
    label_counts(store, stats)
