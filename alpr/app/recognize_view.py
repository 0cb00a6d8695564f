"""The Recognize page's pieces: a plate's card, its evidence, its candidate readings, the detection
regions and the batch table. What they say (certain or not, what the format corrected, the ink in
words) is decided in `alpr.readview`; this module draws it.
"""

from __future__ import annotations

from statistics import median

import pandas as pd
import streamlit as st

from alpr import figures
from alpr.app.watchlist_view import read_badge
from alpr.readview import DEFAULT_VIEW, classifier_reading, corrections, final_chars, plain_binarization, verdict

STATIC_PLOT = {"displayModeBar": False}
# Plotly's toolbar without its logo and the selection tools (nothing here reacts to a selection);
# zoom, pan and the camera button (save as PNG) stay for looking closely at a photo.
PLOT_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def plate_card(plate, country_code: str, index: int, many: bool, plate_ids: list[int], key: str) -> None:
    """The read of one plate, as a presenter says it: the text, whether to trust it, what the
    format changed, and the way to fix it."""
    said = verdict(plate, country_code)
    with st.container(border=True, gap="small"):
        colour = {"certain": "green", "uncertain": "orange", "remembered": "blue"}.get(said.state, "gray")
        st.metric(
            f"Plate {index + 1}" if many else "Plate",
            plate.plate or "?",
            border=False,
            delta=("matches a template" if said.state == "certain" else said.state) + f" · {plate.confidence:.1f}",
            delta_color=colour,
            delta_arrow="off",
            help=said.why[0].upper() + said.why[1:],
        )
        read_badge(plate.plate)
        if said.state == "remembered":
            st.caption(f":blue[Remembered:] {said.why}. The characters alone read {classifier_reading(plate)}.")
        elif said.state != "certain":
            st.caption(f":orange[Uncertain:] {said.why}.")
        fixed = corrections(plate, country_code)
        if fixed:
            st.caption(f"Corrected by the plate format: {fixed}.")
        st.plotly_chart(
            figures.plate_figure(plate, final_chars(plate), shown_width=340), key=f"{key}_crop", config=STATIC_PLOT
        )
        if index < len(plate_ids):
            st.page_link(
                "pages/relabel.py",
                label="Fix this read",
                icon=":material/edit_note:",
                query_params={"plate": plate_ids[index]},
                help="Correct the characters on the Relabel page; the fixes become training data.",
            )


def show_plate_details(plate, key: str) -> None:
    """One plate's evidence: what the classifier saw per crop, and every candidate reading."""
    st.markdown("**What the classifier saw** · each character crop and its most likely classes (∅: not a character)")
    # A card per character in a row that wraps: eight in one line on a desktop, three to a line on
    # a phone, where one wide figure squeezed its labels over each other.
    cards = st.container(horizontal=True, wrap=True, gap="small")
    for i in range(len(plate.chars)):
        cards.plotly_chart(
            figures.topk_figure(plate, only=i),
            key=f"{key}_topk_{i}",
            config=STATIC_PLOT,
            width=figures.TOPK_CARD_WIDTH,
        )
    if not plate.chars:
        st.plotly_chart(figures.topk_figure(plate), key=f"{key}_topk", config=STATIC_PLOT)
    whole_read_panel(plate, key)


def whole_read_panel(plate, key: str) -> None:
    """The whole-plate reader's read beside the character pipeline's, with which won and why."""
    if plate.whole is None:
        return
    agree = plate.whole.text == plate.plate
    st.markdown(
        "**What the whole-plate reader saw** · the plate read without cutting it, "
        + ("the same string as the characters" if agree else ":orange[a different string from the characters]")
    )
    st.plotly_chart(figures.whole_read_figure(plate), key=f"{key}_whole", config=STATIC_PLOT)
    if plate.why:
        st.caption(("Agreed: " if agree else "Chosen: ") + plate.why + ".")


def candidates_table(plate, key: str) -> None:
    ranked = sorted(plate.candidates, key=lambda c: -c.confidence)
    table = pd.DataFrame(
        {
            "Plate": [c.plate for c in ranked],
            "Confidence": [c.confidence for c in ranked],
            "Matches template": [c.matches_template for c in ranked],
        },
        index=pd.RangeIndex(1, len(ranked) + 1, name="#"),
    )
    st.dataframe(
        table,
        key=f"{key}_candidates",
        height=min(36 + 35 * len(table), 300),
        column_config={
            "Plate": st.column_config.TextColumn(width=110),
            "Confidence": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.1f", width=150),
            "Matches template": st.column_config.CheckboxColumn(
                "Template", help="Fits one of the country's plate formats", width=80
            ),
        },
    )


def regions_table(rec, key: str) -> None:
    """Every region the detector considered, kept or not, and why."""
    st.markdown(f"**Detection regions** ({len(rec.plate_candidates)})")
    st.dataframe(
        pd.DataFrame(
            {
                "Kept": [c.kept for c in rec.plate_candidates],
                # What ranks them, beside the verdict: the rest of the row is scrolled to.
                "Looks like a plate": [f"{c.likelihood:.0%}" for c in rec.plate_candidates],
                "Reason": [c.reason for c in rec.plate_candidates],
                "Found as": [c.source for c in rec.plate_candidates],
                "Ink": [plain_binarization(c.binarization) for c in rec.plate_candidates],
                "Characters": [c.char_count for c in rec.plate_candidates],
                "Box (x, y, w, h)": [f"{c.box.x}, {c.box.y}, {c.box.w}, {c.box.h}" for c in rec.plate_candidates],
            }
        ),
        hide_index=True,
        key=f"{key}_regions",
        height=260,
    )


def unreported_table(rec, key: str) -> None:
    """The reads the plate verifier said are no plate (a timestamp, a grille, a state's name), and why."""
    if not rec.rejected:
        return
    st.markdown(f"**Reads not reported** ({len(rec.rejected)})")
    st.dataframe(
        pd.DataFrame(
            {
                "Read": [read.plate for read, _ in rec.rejected],
                "Confidence": [f"{read.confidence:.0f}%" for read, _ in rec.rejected],
                "Why not a plate": [why for _, why in rec.rejected],
                "Box (x, y, w, h)": [f"{r.box.x}, {r.box.y}, {r.box.w}, {r.box.h}" for r, _ in rec.rejected],
            }
        ),
        hide_index=True,
        key=f"{key}_unreported",
    )


def batch_metrics(rows) -> None:
    """The batch's headline: photos read, plates found, the median time, unusable files."""
    read = [r for r in rows if r.error is None]
    cards = st.container(horizontal=True, gap="small")
    cards.metric("Photos read", f"{len(read)} of {len(rows)}", border=True, width=210)
    cards.metric("Plates found", sum(r.plates for r in rows), border=True, width=210)
    if read:
        cards.metric("Median time per photo", f"{median(r.ms for r in read):.0f} ms", border=True, width=210)
    if len(read) < len(rows):
        cards.metric("Unusable files", len(rows) - len(read), border=True, width=210)


def batch_table(table: pd.DataFrame) -> None:
    st.dataframe(
        table,
        key="recognize_batch_table",
        height=min(38 + 35 * len(table), 460),
        column_config={
            "File": st.column_config.TextColumn(width=200),
            "Plate #": st.column_config.NumberColumn(help="Plates of one photo, best reading first", width=60),
            "Plate": st.column_config.TextColumn(width=100),
            "Confidence": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.1f", width=140),
            "Matches template": st.column_config.CheckboxColumn(
                "Template", help="The reading fits one of the country's plate formats", width=80
            ),
            "Read": st.column_config.TextColumn(
                help=f"Uncertain: confidence under {DEFAULT_VIEW.certain_plate_confidence:.0f} or no plate format "
                "fits; check it before trusting it",
                width=90,
            ),
            "Plates found": st.column_config.NumberColumn("Plates", width=70),
            "ms": st.column_config.NumberColumn("ms", help="Time the pipeline took on the photo", width=70),
            "Error": st.column_config.TextColumn(help="Why the file could not be read", width="large"),
        },
    )


def decision_panel(rec, order: list, key: str) -> None:
    """Folded under the read: the photo with the detector's components and candidates, each
    plate's candidate readings, the time per stage and the regions table."""
    with st.expander("Show how it decided", icon=":material/manage_search:"):
        st.caption(
            "The detector looks at connected blobs of ink (components) and regions that might hold a plate "
            "(candidates); hover over a box to see why it was kept or rejected."
        )
        toggles = st.container(horizontal=True, gap="medium")
        components = toggles.toggle(
            "Components",
            value=True,
            key=f"{key}_components",
            help="Connected components: green kept as character- or plate-like, red rejected.",
        )
        candidates = toggles.toggle(
            "Plate candidates",
            value=True,
            key=f"{key}_candidates_on",
            help="Regions that might hold a plate: blue kept, orange rejected.",
        )
        numbers = toggles.toggle(
            "Component labels",
            value=False,
            key=f"{key}_labels",
            disabled=not components,
            help="Write each component's label number on it.",
        )
        st.plotly_chart(
            figures.photo_figure(rec, components, candidates, numbers), key=f"{key}_photo_decided", config=PLOT_CONFIG
        )
        for index, plate in order:
            st.markdown(
                f"**Candidate readings of plate {index + 1}** · found on the {plain_binarization(plate.binarization)}"
            )
            candidates_table(plate, f"{key}_plate{index}")
        timings_col, regions_col = st.columns([2, 3], gap="large")
        with timings_col:
            st.plotly_chart(figures.timings_figure(rec), key=f"{key}_timings", config=STATIC_PLOT)
        with regions_col:
            regions_table(rec, key)
        unreported_table(rec, key)
