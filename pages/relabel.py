"""Relabel: fix what the model read, crop by crop or a whole plate at once; every fix is kept as training data."""
import io
import logging
import zlib

import pandas as pd
import streamlit as st

from alpr import app as appstate
from alpr import figures
from alpr.app.flash import flash, pending as pending_flashes
from alpr.errors import AlprError
from alpr.labels import history
from alpr.labels.relabel import advice, choices, label_plate, plate_text, save_label
from alpr.types import ALL_CLASSES, REJECT

appstate.require_router("relabel")

log = logging.getLogger("alpr.app")

STATIC_PLOT = {"displayModeBar": False}
RECENT_PLATES = 50  # plates listed in the picker and the recent-reads table
CARD_WIDTH = 150  # px: a crop, two short lines and three pills side by side; two cards fit a 390 px phone
QUEUE_SIZES = (16, 32, 64)
FIX_CARD_WIDTH = 96  # px: a crop, its number and two buttons, in "Fix the segmentation"
MERGE_WIDTH = 58  # px: the Merge ↔ button between two crops
STATUS_NAMES = {"unreviewed": "Not yet reviewed", "corrected": "Corrected", "all": "All"}
_PLATE = "relabel_plate"

st.title("Relabel")
st.markdown(
    "Fix what the model read. Pick the right class under a crop, type any class, mark a crop "
    "**∅ not a character**, or type the whole plate and press Enter. When the plate was cut wrong, "
    "**merge** two crops of one character or **split** a crop of two. Every fix is kept in the label store "
    "and becomes training data for the next training run."
)

store = appstate.get_store()
author = appstate.author()


# --- actions: run as widget callbacks, before the page is drawn, so every count below is current -----

def _flash(kind: str, text: str) -> None:
    flash("relabel", kind, text)


def _name(label: str | None) -> str:
    return "∅" if label == REJECT else (label or "?")


def _act(what: str, action) -> None:
    """Run one store action; whatever goes wrong becomes a one-line message, never a traceback."""
    try:
        action()
    except AlprError as exc:
        _flash("error", f"Could not {what}: {exc}")
    except Exception as exc:  # noqa: BLE001 - the page must survive a failing action
        log.exception("relabel: %s failed", what)
        _flash("error", f"Could not {what}: {type(exc).__name__}: {exc}")


def _where(char_id: int) -> str:
    """The character's place now, as the person sees it: "Character 3" (of the plate shown) or
    "Character 3 of plate #5"; read from the store, since a merge may have moved it."""
    found = history.place(store, char_id)
    if found is None:
        return f"Character {char_id}"
    plate_id, position = found
    return f"Character {position}" + ("" if st.session_state.get(_PLATE) == plate_id else f" of plate #{plate_id}")


def _save(char_id: int, value: str) -> None:
    """Save one label, said in a toast either way: a repeat of the same label writes nothing."""
    def run():
        saved = save_label(store, char_id, value, author)
        if saved.changed:
            _flash("success", f"{_where(char_id)} labeled {_name(saved.label)}")
        else:
            _flash("success", f"{_where(char_id)} is already labeled {_name(saved.label)}")

    _act("save the label", run)


def _pick(char_id: int, key: str, current: str | None) -> None:
    value = st.session_state.get(key)
    if value is None:  # the selected pill clicked again: keep the label, show it selected again
        st.session_state[key] = current
        return
    if value != current:
        _save(char_id, value)


def _typed(char_id: int, key: str) -> None:
    # A chat input's value is delivered once, with its own Enter, and cleared by the browser: a
    # rerun that another box's Enter interrupts or replays can neither lose nor repeat it.
    value = (st.session_state.get(key) or "").strip()
    if value:
        _save(char_id, value)


def _save_plate(plate_id: int, key: str) -> None:
    text = plate_text(st.session_state.get(key))
    mismatch_key = f"relabel_mismatch_{plate_id}"
    if not text:
        _flash("error", "Type the plate's characters first, e.g. ABC1234.")
        return

    def run():
        result = label_plate(store, plate_id, text, author)
        if result.matched:
            st.session_state.pop(mismatch_key, None)
            dropped = result.text.count(REJECT)
            extra = f" ({dropped} segment{'s' if dropped > 1 else ''} kept as not a character)" if dropped else ""
            _flash("success", f"Plate #{plate_id} labeled {result.text.replace(REJECT, '')}: "
                              f"{result.characters} characters{extra}")
        else:
            st.session_state[mismatch_key] = (text, result.characters)

    _act("label the plate", run)


def _still_at(plate_id: int, idx: int, char_id: int) -> bool:
    """Whether the crop a button was drawn for is still at that place: another tab (or a second
    click) may have merged or split the plate since, and the position would then name another crop."""
    chars = store.plate_chars(plate_id)
    if idx < len(chars) and chars[idx].id == char_id:
        return True
    _flash("info", f"Plate #{plate_id} changed since the page was drawn: nothing was done; look at its crops again.")
    return False


def _merge(plate_id: int, first_idx: int, char_id: int) -> None:
    def run():
        if _still_at(plate_id, first_idx, char_id):
            store.merge_chars(plate_id, first_idx, author=author)
            _flash("success", f"Merged segments {first_idx + 1} and {first_idx + 2} of plate #{plate_id} into one")

    _act("merge the segments", run)


def _split(plate_id: int, idx: int, char_id: int) -> None:
    def run():
        if _still_at(plate_id, idx, char_id):
            store.split_char(plate_id, idx, author=author)
            _flash("success", f"Split segment {idx + 1} of plate #{plate_id} in two")

    _act("split the segment", run)


def _add_segment(plate_id: int, at_start: bool, count: int) -> None:
    def run():
        if len(store.plate_chars(plate_id)) != count:
            _flash("info", f"Plate #{plate_id} changed since the page was drawn: nothing was done; look at its crops again.")
            return
        store.add_segment(plate_id, at_start, author=author)
        _flash("success", f"Added a segment {'before the first' if at_start else 'after the last'} of plate #{plate_id}: "
                          "label it, or Undo")

    _act("add the segment", run)


def _not_a_plate(plate_id: int, flag: bool) -> None:
    def run():
        store.mark_not_a_plate(plate_id, flag)
        _flash("success", f"Plate #{plate_id} marked not a plate: its crops left the review queue" if flag
               else f"Plate #{plate_id} is a plate again: its crops are back in the review queue")

    _act("mark the plate", run)


def _drop(char_id: int, position: str) -> None:
    def run():
        store.set_label(char_id, REJECT, author=author)
        _flash("success", f"Segment {position} marked ∅ not a character")

    _act("mark the segment", run)


def _undo(action_id: int | None, shown: str) -> None:
    """Take back exactly the action the button named (`shown`), never a newer one saved since."""
    def run():
        undone = None if action_id is None else history.undo(store, action_id)
        if undone is None:
            _flash("info", "Nothing to undo: no label in this data folder is left to take back.")
            return
        _flash("success", f"Undid {shown}")
        if undone.plate_id is not None:
            st.session_state[_PLATE] = undone.plate_id

    _act("undo", run)


def _open_plate(plate_id: int) -> None:
    """From a queue card to its plate: the Plates tab, showing that plate."""
    st.session_state[_PLATE] = plate_id
    st.session_state["relabel_tab"] = "Plates"


def _step(ids: list[int], delta: int) -> None:
    current = st.session_state.get(_PLATE)
    i = ids.index(current) if current in ids else 0
    st.session_state[_PLATE] = ids[max(0, min(len(ids) - 1, i + delta))]


def _open_row(table_key: str, ids: list[int]) -> None:
    rows = st.session_state[table_key].selection.rows
    if rows and rows[0] < len(ids):
        st.session_state[_PLATE] = ids[rows[0]]


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
messages = st.container()
for kind, text in pending_flashes("relabel"):
    if kind == "error":
        messages.error(text, icon=":material/error:")
    elif kind == "info":
        messages.info(text, icon=":material/info:")
    else:
        st.toast(text, icon=":material/check_circle:")

head = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
head.metric("Plates stored", stats["plates"], border=True, width=172,
            help="Every plate read on the Recognize page, sent from Evaluate, or imported")
head.metric("Characters labeled", stats["labeled"], border=True, width=172,
            help="Characters whose label came from a person or an import: the training data")
head.metric("Corrections", stats["corrections"], border=True, width=172,
            help="Labels given by a person that differ from the model's guess")
head.metric("Waiting for training", stats["pending_training"], border=True, width=172,
            help="Training labels newer than the last training run")
actions = head.container(horizontal=True, horizontal_alignment="right", vertical_alignment="bottom", gap="small")
try:
    undoable = history.last_action(store)
except AlprError:
    undoable = None
undo_words = undoable.describe() if undoable is not None else ""
actions.button("Undo", key="relabel_undo", icon=":material/undo:", on_click=_undo,
               args=(undoable.id if undoable else None, undo_words), shortcut="Alt+Z", disabled=undoable is None,
               help=(f"Take back {undo_words} (Alt+Z). The history is kept with the labels, so Undo works after a "
                     "reload too." if undoable else "Nothing to undo in this data folder"))
actions.download_button(
    "Export", lambda: _export_zip(), file_name="alpr-labels.zip", mime="application/zip", on_click="ignore",
    icon=":material/download:", key="relabel_export",
    help="The labeled characters as a zip: a folder per class of PNG crops and labels.csv "
    "(what `python -m alpr labels export --zip` writes)",
)


def _export_zip() -> bytes:
    buffer = io.BytesIO()
    store.export_zip(buffer)
    return buffer.getvalue()


# --- one character: its crop, the model's guess, and the ways to fix it ------------------------

def _status(char) -> str:
    if char.source == "person":
        if char.pred_char is not None and char.label != char.pred_char:
            return f":orange[**{_name(char.label)}** · corrected]"
        return f":green[**{_name(char.label)}** · confirmed]"
    if char.source == "import":
        return f":green[**{_name(char.label)}** · imported]"
    return ":gray[not reviewed]"


def char_card(char, position: str, section: str, plate=None) -> None:
    """The crop, the model's guess, pills for its top-k (and look-alikes) and ∅, and a box to type any class."""
    # The pills' key changes with the label, so a new label (or an undo) redraws them selected
    # right; the typing box's key is the character's id alone, so it is never redrawn under the keys.
    token = f"{section}_{char.id}_{char.label or 'none'}_{char.source or 'none'}"
    with st.container(border=True, gap="small"):
        top = st.container(horizontal=True, gap="small", vertical_alignment="center", wrap=False)
        top.image(figures.crop_pixels(char.image, 96), width=52)
        guess = (f":gray[model] **{_name(char.pred_char)}**  \n:gray[{char.pred_conf:.0%}]" if char.pred_char
                 else ":gray[no model guess]")
        top.markdown(f"**{position}**  \n{guess}")
        if plate is not None:  # a queue card: where the crop comes from, one click away
            st.button(f"Plate #{plate.id} · {plate.text_confirmed or plate.text_read or '?'}",
                      key=f"relabel_open_{section}_{char.id}", on_click=_open_plate, args=(plate.id,),
                      icon=":material/open_in_new:", type="tertiary",
                      help=f"Open plate #{plate.id} ({plate.name or 'imported crops'}) on the Plates tab")
        st.markdown(_status(char))
        probs = dict(char.topk)
        options = choices(char.topk, char.label, char.pred_char)
        current = char.label if char.source in ("person", "import") else None
        key = f"relabel_pick_{token}"
        st.pills(
            "Right class", options, default=current, key=key, label_visibility="collapsed",
            format_func=lambda c: f"{_name(c)} {probs[c]:.0%}" if c in probs else _name(c),
            on_change=_pick, args=(char.id, key, current),
            help="Click the right class; ∅ marks a crop that is not a character",
        )
        type_key = f"relabel_type_{section}_{char.id}"
        st.chat_input("type ↵", key=type_key, max_chars=1, on_submit=_typed, args=(char.id, type_key))


def char_grid(chars, positions: list[str], section: str, plates: dict | None = None) -> None:
    """Cards side by side, wrapping to the next row; `section` keeps the two tabs' widget keys apart."""
    grid = st.container(horizontal=True, gap="small", wrap=True)
    for char, position in zip(chars, positions):
        with grid.container(width=CARD_WIDTH, gap=None):
            char_card(char, position, section, (plates or {}).get(char.plate_id))


# --- one plate ---------------------------------------------------------------------------------

def plate_label(p) -> str:
    # Only what never changes: the picker keeps showing the label it had when the plate was picked.
    return f"#{p.id} · {p.name or 'imported crops'} · read {p.text_read or '—'}"


def show_plate(plate) -> None:
    chars = store.plate_chars(plate.id)
    image, scale = (None, 1.0)
    if plate.photo_id is not None:
        image, scale = store.photo_image(plate.photo_id)
    picture_col, form_col = st.columns([3, 2], gap="large")
    with picture_col:
        st.plotly_chart(figures.stored_plate_figure(image, scale, plate.box, chars), key=f"relabel_figure_{plate.id}",
                        config=STATIC_PLOT)
    with form_col:
        current = "".join(_name(c.label if c.label is not None else c.pred_char) for c in chars).replace("∅", "")
        mismatch = st.session_state.get(f"relabel_mismatch_{plate.id}")
        # The ids too: after a merge or split the box shows the text typed before it, ready to submit.
        token = "".join(f"{c.id}{c.label}{c.source}" for c in chars)
        text_key = f"relabel_text_{plate.id}_{zlib.crc32(token.encode())}"
        typed_before = mismatch[0] if mismatch else None
        with st.form(f"relabel_form_{plate.id}", border=False):
            st.text_input(
                "Whole plate", value=typed_before or plate.text_confirmed or current or plate.text_read, key=text_key,
                placeholder="e.g. ABC1234",
                help="The plate's characters in reading order; spaces and dashes are ignored. "
                "Write _ for a segment that is not a character.",
            )
            st.form_submit_button("Label the plate", icon=":material/done_all:", type="primary",
                                  on_click=_save_plate, args=(plate.id, text_key))
        st.caption(f"Cut into **{len(chars)}** segment{'s' if len(chars) != 1 else ''}. Press Enter to label "
                   "every character at once.")
        if plate.not_a_plate:
            st.info("Marked **not a plate**: its crops are out of the review queue and its box is kept as an example "
                    "of what is not a plate.", icon=":material/block:")
            st.button("It is a plate", key=f"relabel_is_plate_{plate.id}", icon=":material/undo:",
                      on_click=_not_a_plate, args=(plate.id, False))
        elif plate.photo_id is not None and plate.box is not None:
            st.button("Not a plate", key=f"relabel_not_plate_{plate.id}", icon=":material/block:",
                      on_click=_not_a_plate, args=(plate.id, True),
                      help="The detector boxed something that is not a plate (grass, a sign, a grille): its crops "
                      "leave the review queue and the box is kept as a negative example for a plate check")
        if mismatch:
            typed = mismatch[0]
            # Counted now: a merge, split or added segment since the text was typed changes the advice.
            said = advice(typed, len(chars), plate.photo_id is not None)
            if len(typed) != len(chars):
                st.warning(said.text, icon=":material/warning:")
            else:
                st.info(said.text, icon=":material/check:")
    if not chars:
        why = ("No plate was found in this photo" if plate.photo_id is not None and plate.box is None
               else "No characters were cut out of this plate")
        st.info(f"{why}, so there is nothing to label on it; its text is kept as typed.", icon=":material/info:")
        return
    # Open by itself while the typed text does not fit the cut; the key changes with that, so the
    # expander is drawn anew (open or closed) exactly when it does.
    unfit = bool(mismatch) and len(chars) != len(mismatch[0])
    with st.expander("Fix the segmentation", expanded=unfit, icon=":material/content_cut:",
                     key=f"relabel_fix_{plate.id}_{int(unfit)}"):
        fix_segmentation(plate, chars)
    char_grid(chars, [str(i) for i in range(1, len(chars) + 1)], "plate")


def fix_segmentation(plate, chars) -> None:
    """The plate's crops in a row with Merge ↔ between neighbours, and Split and ∅ under each crop."""
    can_recut = plate.photo_id is not None
    if can_recut:
        st.caption("**Merge ↔** two neighbouring segments that are one character, **Split** a segment that holds "
                   "two, **＋ Add** a segment at either end for a character the cut missed, or mark one **∅** (not a "
                   "character). A merged or split crop is cut again from the photo "
                   "and starts unlabeled; **Undo** takes it back.")
    else:
        st.caption("This plate was imported as crops without its photo, so its crops cannot be merged or split: "
                   "mark the extra ones **∅** (not a character) or label them one by one.")
    row = st.container(horizontal=True, gap="small", wrap=True, vertical_alignment="center")
    adding = {"disabled": not can_recut, "type": "tertiary", "width": MERGE_WIDTH, "wrap": True}
    row.button("＋ Add", key=f"relabel_add_first_{plate.id}", on_click=_add_segment, args=(plate.id, True, len(chars)),
               help="Add a segment before the first: for a character the cut missed, e.g. one outside the box", **adding)
    for i, char in enumerate(chars):
        position = str(i + 1)
        with row.container(border=True, width=FIX_CARD_WIDTH, gap="small", horizontal_alignment="center"):
            label = char.label if char.label is not None else char.pred_char
            st.image(figures.crop_pixels(char.image, 96), width=48)
            st.markdown(f"**{position}** · {_name(label)}")
            st.button("Split", key=f"relabel_split_{char.id}", on_click=_split, args=(plate.id, i, char.id),
                      disabled=not can_recut, width="stretch",
                      help=f"Split segment {position} into two crops of equal width")
            st.button("∅", key=f"relabel_drop_{char.id}", on_click=_drop, args=(char.id, position),
                      disabled=char.label == REJECT and char.source in ("person", "import"), width="stretch",
                      help=f"Mark segment {position} as not a character: typing the plate then skips it")
        if i + 1 < len(chars):
            nxt = chars[i + 1]
            same_line = nxt.line == char.line
            # Narrow and borderless: the crops of a 7-character plate fit in one or two rows.
            row.button("Merge ↔", key=f"relabel_merge_{char.id}_{nxt.id}", on_click=_merge,
                       args=(plate.id, i, char.id), disabled=not can_recut or not same_line, type="tertiary",
                       width=MERGE_WIDTH, wrap=True,
                       help=(f"Merge segments {position} and {i + 2} into one crop" if same_line
                             else f"Segments {position} and {i + 2} are on different lines"))
    row.button("＋ Add", key=f"relabel_add_last_{plate.id}", on_click=_add_segment, args=(plate.id, False, len(chars)),
               help="Add a segment after the last: for a character the cut missed, e.g. one outside the box", **adding)


tab_plates, tab_queue, tab_counts = st.tabs(
    ["Plates", "Review queue", "Counts"], key="relabel_tab",
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
        picker.selectbox("Plate", ids, key=_PLATE, format_func=lambda i: plate_label(by_id[i]), width=620,
                         help="Newest first: the reads of the Recognize page, errors sent from Evaluate, imports")
        picker.button("Newer", key="relabel_newer", icon=":material/arrow_back:", on_click=_step, args=(ids, -1),
                      disabled=st.session_state[_PLATE] == ids[0], shortcut="Alt+P", help="Newer plate (Alt+P)")
        picker.button("Older", key="relabel_older", icon=":material/arrow_forward:", icon_position="right",
                      on_click=_step, args=(ids, 1), disabled=st.session_state[_PLATE] == ids[-1], shortcut="Alt+N",
                      help="Older plate (Alt+N)")
        current = by_id[st.session_state[_PLATE]]
        try:
            with st.container(border=True):
                show_plate(current)
        except AlprError as exc:
            st.error(f"Could not show plate #{current.id}: {exc}", icon=":material/error:")
        except Exception as exc:  # noqa: BLE001 - one broken plate must not take the page down
            log.exception("relabel: showing plate %s failed", current.id)
            st.error(f"Could not show plate #{current.id}: {type(exc).__name__}: {exc}", icon=":material/error:")

        st.markdown("**Recent reads** · click a row to open it")
        table_key = f"relabel_recent_{current.id}"
        st.dataframe(
            pd.DataFrame({
                "Plate": [f"#{p.id}" for p in recent],
                "Photo": [p.name or "imported crops" for p in recent],
                "Read": [p.text_read for p in recent],
                "Confirmed": [p.text_confirmed or "" for p in recent],
                "Labeled": [p.labeled / p.characters if p.characters else 0.0 for p in recent],
                "Segments": [p.characters for p in recent],
                "Stored": [p.created_at[:19].replace("T", " ") for p in recent],
            }),
            key=table_key, on_select=lambda: _open_row(table_key, ids), selection_mode="single-row", hide_index=True,
            height=min(36 + 35 * len(recent), 320),
            column_config={
                "Labeled": st.column_config.ProgressColumn(min_value=0, max_value=1, format="percent", width=120),
            },
        )

with tab_queue:
    st.markdown("The model's least certain guesses first, across everything read so far. Each card names its "
                "plate: click it to see the crop in its photo, or to mark the whole plate **not a plate**.")
    filters = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
    status = filters.segmented_control("Show", list(STATUS_NAMES), default="unreviewed", required=True,
                                       format_func=STATUS_NAMES.get, key="relabel_queue_status")
    # "" rather than None for "any": a None value would show the selectbox's clear button.
    wanted_class = filters.selectbox("Class", ["", *ALL_CLASSES], key="relabel_queue_class", width=170,
                                     format_func=lambda c: "∅ not a character" if c == REJECT else (c or "Any class"))
    try:
        versions = store.model_versions()
    except AlprError:
        versions = []
    version = filters.selectbox("Model version", ["", *versions], key="relabel_queue_model", width=240,
                                format_func=lambda v: v or "Any model")
    size = filters.selectbox("Crops shown", QUEUE_SIZES, key="relabel_queue_size", width=120)
    junk = filters.toggle("Include not-a-plate boxes", key="relabel_queue_junk",
                          help="Crops of boxes marked not a plate are hidden from the queue; show them too")
    try:
        queue = store.review_queue(limit=size, class_filter=wanted_class or None, model_version=version or None,
                                   status=status or "unreviewed", include_not_plates=junk)
        sources = {pid: store.plate(pid) for pid in {c.plate_id for c in queue}}
    except AlprError as exc:
        st.error(f"Could not read the review queue: {exc}", icon=":material/error:")
        queue, sources = [], {}
    if not queue:
        st.info("No characters match these filters." if stats["characters"] else
                "No characters stored yet: read a photo on the Recognize page first.", icon=":material/check:")
    else:
        try:
            char_grid(queue, [str(c.idx + 1) for c in queue], "queue", sources)
        except Exception as exc:  # noqa: BLE001
            log.exception("relabel: review queue failed")
            st.error(f"Could not show the review queue: {type(exc).__name__}: {exc}", icon=":material/error:")

with tab_counts:
    try:
        pending = store.pending_per_class()
    except AlprError:
        pending = {}
    st.plotly_chart(figures.label_counts_figure(stats["per_class"], pending), key="relabel_counts",
                    config=STATIC_PLOT)
    last = stats["last_training"]
    st.caption(
        (f"Last training run: model {last['model_version']} at {last['trained_at'][:19].replace('T', ' ')}. "
         if last else "No training run has used these labels yet. ")
        + f"Labels are kept in `{store.path}`; `python -m alpr labels stats` prints these counts."
    )
