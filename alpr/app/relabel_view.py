"""The Relabel page's widgets: a character's card, a grid of cards, one plate with its whole-plate
box, and the segmentation fixes. Keys come from data ids (characters, plates), never positions, so
a box the person is typing into keeps its key while the page redraws around it: a character's
typing box changes key only when its own Enter was saved.
"""

from __future__ import annotations

import logging
import zlib

import streamlit as st

from alpr import review_figures
from alpr.app.relabel_actions import RelabelActions
from alpr.labels.relabel import advice, choices, display_name, shown_text, status_text
from alpr.errors import AlprError
from alpr.types import ALL_CLASSES, REJECT

STATIC_PLOT = {"displayModeBar": False}
log = logging.getLogger("alpr.app")
CARD_WIDTH = 150  # px: a crop, two short lines and three pills side by side; two cards fit a 390 px phone
# px: the crop, its status, the box and three rows of pills (more scroll inside the card). One height
# for every card, so a label that adds a row of pills never moves the row of cards below under the
# pointer of a person moving on to it; a queue card has its plate's link too.
CARD_HEIGHT = 352
QUEUE_CARD_HEIGHT = 392
FIX_CARD_WIDTH = 96  # px: a crop, its number and two buttons, in "Fix the segmentation"
MERGE_WIDTH = 58  # px: the Merge ↔ button between two crops


def show_messages(pending: list[tuple[str, str]]) -> None:
    """Errors and notes in one container drawn on every run (so a message never moves the widgets
    below and a box being typed into is not redrawn under the keys); successes as toasts."""
    messages = st.container()
    for kind, text in pending:
        if kind == "error":
            messages.error(text, icon=":material/error:")
        elif kind == "info":
            messages.info(text, icon=":material/info:")
        else:
            st.toast(text, icon=":material/check_circle:")


def plate_label(p) -> str:
    # Only what never changes: the picker keeps showing the label it had when the plate was picked.
    return f"#{p.id} · {p.name or 'imported crops'} · read {p.text_read or '—'}"


def char_card(actions: RelabelActions, char, position: str, section: str, plate=None) -> None:
    """The crop, the model's guess, a box to type any class, and pills for its top-k (and look-alikes) and ∅."""
    # The pills' key changes with the label, so a new label (or an undo) redraws them selected right.
    # The typing box's key changes only with its own Enters (RelabelActions.box_key): another box's
    # save never redraws the box a person is typing into (docs/relabel-and-recognize.md).
    token = f"{section}_{char.id}_{char.label or 'none'}_{char.source or 'none'}"
    with st.container(border=True, gap="small", height=CARD_HEIGHT if plate is None else QUEUE_CARD_HEIGHT):
        top = st.container(horizontal=True, gap="small", vertical_alignment="center", wrap=False)
        top.image(review_figures.crop_pixels(char.image, 96), width=52)
        guess = (
            f":gray[model] **{display_name(char.pred_char)}**  \n:gray[{char.pred_conf:.0%}]"
            if char.pred_char
            else ":gray[no model guess]"
        )
        top.markdown(f"**{position}**  \n{guess}")
        if plate is not None:  # a queue card: where the crop comes from, one click away
            st.button(
                f"Plate #{plate.id} · {plate.text_confirmed or plate.text_read or '?'}",
                key=f"relabel_open_{section}_{char.id}",
                on_click=actions.open_plate,
                args=(plate.id,),
                icon=":material/open_in_new:",
                type="tertiary",
                help=f"Open plate #{plate.id} ({plate.name or 'imported crops'}) on the Plates tab",
            )
        st.markdown(status_text(char.label, char.source, char.pred_char))
        # The box above the pills, whose number changes with the label: it stays where it was.
        type_key = actions.box_key(section, char.id)
        st.text_input(
            "Type a class",
            key=type_key,
            max_chars=1,
            placeholder="type ↵",
            label_visibility="collapsed",
            on_change=actions.typed,
            args=(section, char.id, type_key),
            help="Type the character (A-Z, 0-9, _ for not a character) and press Enter",
        )
        probs = dict(char.topk)
        options = choices(char.topk, char.label, char.pred_char)
        current = char.label if char.source in ("person", "import") else None
        key = f"relabel_pick_{token}"
        st.pills(
            "Right class",
            options,
            default=current,
            key=key,
            label_visibility="collapsed",
            format_func=lambda c: f"{display_name(c)} {probs[c]:.0%}" if c in probs else display_name(c),
            on_change=actions.pick,
            args=(char.id, key, current),
            help="Click the right class; ∅ marks a crop that is not a character",
        )


def char_grid(actions: RelabelActions, chars, positions: list[str], section: str, plates: dict | None = None) -> None:
    """Cards side by side, wrapping to the next row; `section` keeps the two tabs' widget keys apart."""
    grid = st.container(horizontal=True, gap="small", wrap=True)
    for char, position in zip(chars, positions):
        with grid.container(width=CARD_WIDTH, gap=None):
            char_card(actions, char, position, section, (plates or {}).get(char.plate_id))


def show_plate(actions: RelabelActions, plate) -> None:
    """The plate in its photo, the whole-plate box with its advice, the segmentation fixes and the cards."""
    store = actions.store
    chars = store.plate_chars(plate.id)
    image, scale = (None, 1.0)
    if plate.photo_id is not None:
        image, scale = store.photo_image(plate.photo_id)
    picture_col, form_col = st.columns([3, 2], gap="large")
    with picture_col:
        st.plotly_chart(
            review_figures.stored_plate_figure(image, scale, plate.box, chars),
            key=f"relabel_figure_{plate.id}",
            config=STATIC_PLOT,
        )
    with form_col:
        current = shown_text([c.label for c in chars], [c.pred_char for c in chars])
        mismatch = actions.misfits.get(plate.id)
        # The ids too: after a merge or split the box shows the text typed before it, ready to submit.
        token = "".join(f"{c.id}{c.label}{c.source}" for c in chars)
        text_key = f"relabel_text_{plate.id}_{zlib.crc32(token.encode())}"
        typed_before = mismatch[0] if mismatch else None
        with st.form(f"relabel_form_{plate.id}", border=False):
            st.text_input(
                "Whole plate",
                value=typed_before or plate.text_confirmed or current or plate.text_read,
                key=text_key,
                placeholder="e.g. ABC1234",
                help="The plate's characters in reading order; spaces and dashes are ignored. "
                "Write _ for a segment that is not a character.",
            )
            st.form_submit_button(
                "Label the plate",
                icon=":material/done_all:",
                type="primary",
                on_click=actions.save_plate,
                args=(plate.id, text_key),
            )
        st.caption(
            f"Cut into **{len(chars)}** segment{'s' if len(chars) != 1 else ''}. Press Enter to label "
            "every character at once."
        )
        if plate.not_a_plate:
            st.info(
                "Marked **not a plate**: its crops are out of the review queue and its box is kept as an example "
                "of what is not a plate.",
                icon=":material/block:",
            )
            st.button(
                "It is a plate",
                key=f"relabel_is_plate_{plate.id}",
                icon=":material/undo:",
                on_click=actions.not_a_plate,
                args=(plate.id, False),
            )
        elif plate.photo_id is not None and plate.box is not None:
            st.button(
                "Not a plate",
                key=f"relabel_not_plate_{plate.id}",
                icon=":material/block:",
                on_click=actions.not_a_plate,
                args=(plate.id, True),
                help="The detector boxed something that is not a plate (grass, a sign, a grille): its crops "
                "leave the review queue and the box is kept as a negative example for a plate check",
            )
        if mismatch:
            typed = mismatch[0]
            # Counted now: a merge, split or added segment since the text was typed changes the advice.
            said = advice(typed, len(chars), plate.photo_id is not None)
            if len(typed) != len(chars):
                st.warning(said.text, icon=":material/warning:")
            else:
                st.info(said.text, icon=":material/check:")
    if not chars:
        why = (
            "No plate was found in this photo"
            if plate.photo_id is not None and plate.box is None
            else "No characters were cut out of this plate"
        )
        st.info(f"{why}, so there is nothing to label on it; its text is kept as typed.", icon=":material/info:")
        return
    # Open by itself while the typed text does not fit the cut; the key changes with that, so the
    # expander is drawn anew (open or closed) exactly when it does.
    unfit = bool(mismatch) and len(chars) != len(mismatch[0])
    with st.expander(
        "Fix the segmentation",
        expanded=unfit,
        icon=":material/content_cut:",
        key=f"relabel_fix_{plate.id}_{int(unfit)}",
    ):
        fix_segmentation(actions, plate, chars)
    char_grid(actions, chars, [str(i) for i in range(1, len(chars) + 1)], "plate")


def fix_segmentation(actions: RelabelActions, plate, chars) -> None:
    """The plate's crops in a row with Merge ↔ between neighbours, and Split and ∅ under each crop."""
    can_recut = plate.photo_id is not None
    if can_recut:
        st.caption(
            "**Merge ↔** two neighbouring segments that are one character, **Split** a segment that holds "
            "two, **＋ Add** a segment at either end for a character the cut missed, or mark one **∅** (not a "
            "character). A merged or split crop is cut again from the photo "
            "and starts unlabeled; **Undo** takes it back."
        )
    else:
        st.caption(
            "This plate was imported as crops without its photo, so its crops cannot be merged or split: "
            "mark the extra ones **∅** (not a character) or label them one by one."
        )
    row = st.container(horizontal=True, gap="small", wrap=True, vertical_alignment="center")
    adding = {"disabled": not can_recut, "type": "tertiary", "width": MERGE_WIDTH, "wrap": True}
    row.button(
        "＋ Add",
        key=f"relabel_add_first_{plate.id}",
        on_click=actions.add_segment,
        args=(plate.id, True, len(chars)),
        help="Add a segment before the first: for a character the cut missed, e.g. one outside the box",
        **adding,
    )
    for i, char in enumerate(chars):
        position = str(i + 1)
        with row.container(border=True, width=FIX_CARD_WIDTH, gap="small", horizontal_alignment="center"):
            label = char.label if char.label is not None else char.pred_char
            st.image(review_figures.crop_pixels(char.image, 96), width=48)
            st.markdown(f"**{position}** · {display_name(label)}")
            st.button(
                "Split",
                key=f"relabel_split_{char.id}",
                on_click=actions.split,
                args=(plate.id, i, char.id),
                disabled=not can_recut,
                width="stretch",
                help=f"Split segment {position} into two crops of equal width",
            )
            st.button(
                "∅",
                key=f"relabel_drop_{char.id}",
                on_click=actions.drop,
                args=(char.id, position),
                disabled=char.label == REJECT and char.source in ("person", "import"),
                width="stretch",
                help=f"Mark segment {position} as not a character: typing the plate then skips it",
            )
        if i + 1 < len(chars):
            nxt = chars[i + 1]
            same_line = nxt.line == char.line
            # Narrow and borderless: the crops of a 7-character plate fit in one or two rows.
            row.button(
                "Merge ↔",
                key=f"relabel_merge_{char.id}_{nxt.id}",
                on_click=actions.merge,
                args=(plate.id, i, char.id),
                disabled=not can_recut or not same_line,
                type="tertiary",
                width=MERGE_WIDTH,
                wrap=True,
                help=(
                    f"Merge segments {position} and {i + 2} into one crop"
                    if same_line
                    else f"Segments {position} and {i + 2} are on different lines"
                ),
            )
    row.button(
        "＋ Add",
        key=f"relabel_add_last_{plate.id}",
        on_click=actions.add_segment,
        args=(plate.id, False, len(chars)),
        help="Add a segment after the last: for a character the cut missed, e.g. one outside the box",
        **adding,
    )


QUEUE_SIZES = (16, 32, 64)
STATUS_NAMES = {"unreviewed": "Not yet reviewed", "corrected": "Corrected", "all": "All"}


def review_queue(actions: RelabelActions, store, stats: dict) -> None:
    """The review queue tab: filters, then the least certain guesses as crop cards naming their plates."""
    st.markdown(
        "The model's least certain guesses first, across everything read so far. Each card names its "
        "plate: click it to see the crop in its photo, or to mark the whole plate **not a plate**."
    )
    filters = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
    status = filters.segmented_control(
        "Show",
        list(STATUS_NAMES),
        default="unreviewed",
        required=True,
        format_func=STATUS_NAMES.get,
        key="relabel_queue_status",
    )
    # "" rather than None for "any": a None value would show the selectbox's clear button.
    wanted_class = filters.selectbox(
        "Class",
        ["", *ALL_CLASSES],
        key="relabel_queue_class",
        width=170,
        format_func=lambda c: "∅ not a character" if c == REJECT else (c or "Any class"),
    )
    try:
        versions = store.model_versions()
    except AlprError:
        versions = []
    version = filters.selectbox(
        "Model version", ["", *versions], key="relabel_queue_model", width=240, format_func=lambda v: v or "Any model"
    )
    size = filters.selectbox("Crops shown", QUEUE_SIZES, key="relabel_queue_size", width=120)
    junk = filters.toggle(
        "Include not-a-plate boxes",
        key="relabel_queue_junk",
        help="Crops of boxes marked not a plate are hidden from the queue; show them too",
    )
    try:
        queue = store.review_queue(
            limit=size,
            class_filter=wanted_class or None,
            model_version=version or None,
            status=status or "unreviewed",
            include_not_plates=junk,
        )
        sources = {pid: store.plate(pid) for pid in {c.plate_id for c in queue}}
    except AlprError as exc:
        st.error(f"Could not read the review queue: {exc}", icon=":material/error:")
        queue, sources = [], {}
    if not queue:
        st.info(
            "No characters match these filters."
            if stats["characters"]
            else "No characters stored yet: read a photo on the Recognize page first.",
            icon=":material/check:",
        )
    else:
        try:
            char_grid(actions, queue, [str(c.idx + 1) for c in queue], "queue", sources)
        except Exception as exc:  # noqa: BLE001
            log.exception("relabel: review queue failed")
            st.error(f"Could not show the review queue: {type(exc).__name__}: {exc}", icon=":material/error:")


def label_counts(store, stats: dict) -> None:
    """The counts tab: labels per class, trained and waiting, and when a run last used them."""
    try:
        pending = store.pending_per_class()
    except AlprError:
        pending = {}
    st.plotly_chart(
        review_figures.label_counts_figure(stats["per_class"], pending), key="relabel_counts", config=STATIC_PLOT
    )
    last = stats["last_training"]
    st.caption(
        (
            f"Last training run: model {last['model_version']} at {last['trained_at'][:19].replace('T', ' ')}. "
            if last
            else "No training run has used these labels yet. "
        )
        + f"Labels are kept in `{store.path}`; `python -m alpr labels stats` prints these counts."
    )
