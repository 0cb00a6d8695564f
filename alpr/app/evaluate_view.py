"""The Evaluate page's pieces: the cached folder list and dataset, a model's headline cards, the
groups table, sending errors to the relabel queue, and the error gallery. The wording of the
numbers is `alpr.evaluate`'s (share_text, read_markdown, why_wrong, ...); this module draws it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import streamlit as st

from alpr import evaluate as ev
from alpr import review_figures, scorecard
from alpr.app import models as app_models
from alpr.app import store as app_store
from alpr.app.flash import flash
from alpr.data import read_dataset
from alpr.errors import AlprError
from alpr.imageio import encode_png, load_image
from alpr.paths import folder_choices

log = logging.getLogger("alpr.app")

TOPN = 10
GALLERY_COLUMNS = 4
GALLERY_PAGE = 12
STATE_KEY = "evaluate_state"  # the last Evaluation, kept across reruns
SENT_KEY = "evaluate_sent"  # path -> (plate id, matched, segments) of the plates sent to the relabel queue
_SAME = {"delta": "no change", "delta_color": "off", "delta_arrow": "off"}


STATIC_PLOT = {"displayModeBar": False}


@st.cache_data(ttl=60, show_spinner=False)
def labeled_folders(roots: tuple[str, ...]) -> dict[str, str]:
    """Picker label -> resolved folder, for every labeled folder under the allowed roots."""
    return folder_choices([Path(r) for r in roots], ev.find_labeled_folders)


@st.cache_data(ttl=60, show_spinner="Reading the labels…")
def dataset(folder: str) -> list:
    return read_dataset(folder)


def summary_cards(run: ev.ModelRun, base: ev.ModelRun | None) -> None:
    """One model's headline numbers; with `base`, each with its difference to the base model."""
    row = ev.summarize(list(run.results))[-1]
    ref = ev.summarize(list(base.results))[-1] if base else None
    n = max(row["photos"], 1)

    def delta(key: str, share: bool = True) -> dict:
        """The metric's delta and its colour: the difference to the base model, grey when none."""
        if ref is None:
            return {}
        if share:
            d = 100 * (row[key] / n - ref[key] / max(ref["photos"], 1))
            text = f"{d:+.1f} pp"
        else:
            d = row[key] - ref[key]
            text = f"{d:+.1f} ms"
        if abs(d) < 0.05:
            return _SAME
        return {"delta": text, "delta_color": "normal" if share else "inverse"}

    pct = ev.share_text
    cards = st.container(horizontal=True, gap="small", wrap=False)
    cards.metric(
        "Plate found",
        pct(row["detected"], n),
        border=True,
        width="stretch",
        **delta("detected"),
        help=f"{row['detected']} of {row['photos']}: a plate was read where the label's box is",
    )
    cards.metric(
        "Top-1",
        pct(row["top1"], n),
        border=True,
        width="stretch",
        **delta("top1"),
        help=f"{row['top1']} of {row['photos']} read exactly",
    )
    cards.metric(
        f"Top-{TOPN}",
        pct(row["topn"], n),
        border=True,
        width="stretch",
        **delta("topn"),
        help=f"{row['topn']} of {row['photos']} with the right plate among the {TOPN} best candidates",
    )
    chars = {}
    if ref is not None:
        d = 100 * (row["char_accuracy"] - ref["char_accuracy"])
        chars = {"delta": f"{d:+.1f} pp", "delta_color": "normal"} if abs(d) >= 0.05 else _SAME
    cards.metric(
        "Characters",
        pct(row["char_accuracy"]),
        border=True,
        width="stretch",
        **chars,
        help="Characters of the labels read right (length minus edit distance)",
    )
    cards.metric(
        "Per photo",
        f"{row['median_ms']:.0f} ms",
        border=True,
        width="stretch",
        **delta("median_ms", share=False),
        help=f"Median time to read one photo; 90th percentile {row['p90_ms']:.0f} ms",
    )


def groups_table(runs) -> None:
    percent = st.column_config.NumberColumn(format="%.1f%%")
    st.dataframe(
        pd.DataFrame(ev.group_rows(list(runs), TOPN)),
        hide_index=True,
        key="evaluate_groups",
        column_config={k: percent for k in ("Found", "Top-1", f"Top-{TOPN}", "Characters")},
    )


@st.cache_data(max_entries=256, show_spinner=False)
def thumbnail(path: str, box: tuple | None) -> bytes:
    from alpr.types import Box

    return encode_png(review_figures.error_thumbnail(load_image(path), Box(*box) if box else None))


def send(indices: list[int], run_index: int) -> None:
    """Store the plates with their labeled text (and the model's guesses), for the Relabel page."""
    current: ev.Evaluation = st.session_state[STATE_KEY]
    sent: dict = st.session_state.setdefault(SENT_KEY, {})
    stored, failed = [], []
    try:
        store = app_store.get_store()
        classifier = app_models.load_model(current.runs[run_index].path)
        for plate in ev.send_to_store(store, current, indices, classifier, app_store.author()):
            sent[str(plate.path)] = (plate.plate_id, plate.matched, plate.characters)
            stored.append(plate)
    except AlprError as exc:
        failed.append(("error", f"Could not send to the relabel queue: {exc}"))
    except Exception as exc:  # noqa: BLE001 - no traceback on the page
        log.exception("sending to the relabel queue failed")
        failed.append(("error", f"Could not send to the relabel queue: {type(exc).__name__}: {exc}"))
    for kind, text in ev.fold_messages(ev.sent_messages(stored) + failed):
        flash("evaluate", kind, text)


def error_gallery(evaluation: ev.Evaluation, focus: ev.ModelRun, errors: list) -> None:
    """The plates `focus` read wrong, a page of thumbnails at a time, each one click from the relabel queue."""
    run_index = evaluation.runs.index(focus)
    sent = st.session_state.get(SENT_KEY, {})
    waiting = [i for i, r in errors if r.path not in sent]
    bar = st.container(horizontal=True, vertical_alignment="center", gap="medium")
    bar.button(
        f"Send all {len(waiting)} to the relabel queue",
        key="evaluate_send_all",
        icon=":material/send:",
        disabled=not waiting,
        on_click=send,
        args=(waiting, run_index),
        help="Store each photo with its labeled plate text, so its characters can be fixed on Relabel",
    )
    bar.page_link("pages/relabel.py", label="Open Relabel", icon=":material/edit_note:")
    shown = st.session_state.get("evaluate_shown", GALLERY_PAGE)
    for start in range(0, min(shown, len(errors)), GALLERY_COLUMNS):
        cols = st.columns(GALLERY_COLUMNS, gap="small")
        for col, (i, r) in zip(cols, errors[start : start + GALLERY_COLUMNS]):
            item = evaluation.items[i]
            with col, st.container(border=True, gap="small"):
                try:
                    box = (item.box.x, item.box.y, item.box.w, item.box.h) if item.box else None
                    st.image(thumbnail(str(item.path), box), width="stretch")
                except Exception as exc:  # noqa: BLE001 - a broken file is a caption, not a crash
                    st.caption(f":material/broken_image: {exc}")
                st.markdown(f"Truth **{r.truth}**  \nRead {ev.read_markdown(r.read, r.truth)}")
                why = ev.why_wrong(r, TOPN)
                st.caption(f"{Path(r.path).name} · {r.group}" + (f" · {why}" if why else ""))
                if r.path in sent:
                    plate_id, matched, _ = sent[r.path]
                    st.page_link(
                        "pages/relabel.py",
                        label=f"In the queue: plate #{plate_id}",
                        icon=":material/check:" if matched else ":material/warning:",
                        query_params={"plate": plate_id},
                    )
                else:
                    st.button(
                        "Send to relabel queue",
                        key=f"evaluate_send_{run_index}_{i}",
                        icon=":material/send:",
                        on_click=send,
                        args=([i], run_index),
                        disabled=bool(r.error),
                    )
    if shown < len(errors):
        st.button(
            f"Show more ({len(errors) - shown} left)",
            key="evaluate_more",
            on_click=lambda: st.session_state.update(evaluate_shown=shown + GALLERY_PAGE),
        )


def model_changes(runs) -> None:
    """With two models: how many plates the second fixes and breaks, and which, in a folded table."""
    if len(runs) != 2:
        return
    changes = ev.compare_results(list(runs[0].results), list(runs[1].results))
    st.markdown(
        f"**{runs[1].version}** reads **{len(changes['fixed'])}** plates right that {runs[0].version} got wrong, "
        f"and gets **{len(changes['broken'])}** wrong that it read right."
    )
    if changes["fixed"] or changes["broken"]:
        by_path = {r.path: (a, r) for a, r in zip(runs[0].results, runs[1].results)}
        with st.expander("Plates read differently", icon=":material/compare_arrows:"):
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "Plate": Path(p).name,
                            "Truth": by_path[p][0].truth,
                            runs[0].version: by_path[p][0].read,
                            runs[1].version: by_path[p][1].read,
                            "Change": kind,
                        }
                        for kind, paths in (("fixed", changes["fixed"]), ("broken", changes["broken"]))
                        for p in paths
                    ]
                ),
                hide_index=True,
                key="evaluate_changes",
            )


def kinds_and_confidence(runs, tab) -> None:
    """Every file by how it went, and whether the confidence shown means what it says, per model."""
    with tab:
        kinds = {r.version: ev.summarize(list(r.results))[-1]["kinds"] for r in runs}
        st.plotly_chart(
            review_figures.miss_kinds_figure(kinds, ev.ERROR_KINDS), key="evaluate_kinds", config=STATIC_PLOT
        )
        bands = {r.version: scorecard.confidence_bands(list(r.results)) for r in runs}
        st.plotly_chart(review_figures.confidence_figure(bands), key="evaluate_confidence", config=STATIC_PLOT)
        st.caption(
            "The plate read at each labeled plate (or a crop's plate), grouped by the confidence the page shows for it: "
            "an honest confidence puts each bar inside its band (about 95% right at 90-100%)."
        )


def character_tabs(focus: ev.ModelRun, runs, tab_confusion, tab_classes, tab_timing) -> None:
    """The confusion matrix and per-class accuracy of FOCUS, and every model's time per stage."""
    counts, used, total = ev.char_confusion(list(focus.results))
    with tab_confusion:
        show_right = st.toggle(
            "Show right reads (the diagonal)",
            key="evaluate_diagonal",
            help="Off, the colours are set by the errors alone; the right reads would dwarf them.",
        )
        st.plotly_chart(
            review_figures.confusion_figure(counts, hide_correct=not show_right),
            key="evaluate_confusion",
            config=STATIC_PLOT,
        )
        st.caption(
            f"Characters of the {used} of {total} plates read with as many characters as their label: a missed or "
            "extra character shifts every pair after it, so those plates are left out. ∅: not a character."
        )
    with tab_classes:
        st.plotly_chart(
            review_figures.class_accuracy_figure(ev.class_accuracy(counts)), key="evaluate_classes", config=STATIC_PLOT
        )
        st.caption(f"Share of each labeled character read right, over the same {used} plates as the confusion matrix.")
    with tab_timing:
        stage_rows = {r.version: ev.summarize(list(r.results))[-1]["stage_median_ms"] for r in runs}
        st.plotly_chart(review_figures.stage_times_figure(stage_rows), key="evaluate_timing", config=STATIC_PLOT)
        st.caption("Median milliseconds per photo in each stage, on " + app_models.device_line() + ".")
