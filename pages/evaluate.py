"""Evaluate: a model's accuracy and speed on a labeled folder, its errors, and two models side by side."""

import logging
from pathlib import Path

import pandas as pd
import streamlit as st

from alpr import app as appstate
from alpr.app.evaluate_view import STATE_KEY as _STATE
from alpr.app.evaluate_view import (
    TOPN,
    character_tabs,
    dataset,
    error_gallery,
    groups_table,
    kinds_and_confidence,
    labeled_folders,
    model_changes,
    summary_cards,
)
from alpr.app.flash import pending as pending_flashes
from alpr import evaluate as ev
from alpr.assemble import COUNTRIES
from alpr.errors import AlprError

appstate.require_router("evaluate")

log = logging.getLogger("alpr.app")

DEFAULT_LIMIT = 50


st.title("Evaluate")
st.markdown(
    "Measure a model on a labeled folder: how often it finds the plate, reads it exactly (top-1) or among its "
    f"{TOPN} best candidates (top-{TOPN}), which characters it confuses, and how long each stage takes. "
    "Send any error to the **Relabel** queue with one click; compare two models on the same plates."
)


# --- where the labeled plates come from -------------------------------------------------------------

roots = appstate.data_roots()
models = appstate.model_choices()

source_col, settings_col = st.columns([3, 2], gap="large")
folder: Path | None = None
source_name = ""
allowed: list[Path] = []
with source_col:
    source = st.segmented_control(
        "Labeled plates",
        ["folder", "zip"],
        default="folder",
        required=True,
        key="evaluate_source",
        format_func={"folder": "A labeled folder", "zip": "Upload a zip"}.get,
    )
    if source == "zip":
        upload = st.file_uploader(
            "Zip of a labeled folder",
            type=["zip"],
            key="evaluate_zip",
            help="OpenALPR's benchmark layout: NAME.txt (IMAGE, x, y, w, h, PLATE separated by tabs) beside each photo, "
            "or labels.csv (file,plate) beside plate crops; sub-folders are read too.",
        )
        if upload is not None:
            try:
                folder = ev.extract_upload(upload.name, upload.getvalue())
                allowed = [folder]
                source_name = f"upload {upload.name}"
            except AlprError as exc:
                st.error(f"Could not unpack {upload.name}: {exc}", icon=":material/error:")
            except OSError as exc:
                st.error(f"Could not unpack {upload.name}: {exc.strerror or exc}", icon=":material/error:")
    else:
        folders = labeled_folders(tuple(str(r) for r in roots))
        if not folders:
            where = ", ".join(f"`{r}`" for r in roots) or "(none exist)"
            st.info(
                f"No labeled folders under the data folders {where}. Set `{appstate.DATA_ROOTS_ENV}` to folders "
                "holding OpenALPR-style benchmarks, or upload a zip.",
                icon=":material/folder_off:",
            )
        picked = st.selectbox(
            "Folder",
            list(folders),
            index=None,
            key="evaluate_folder",
            placeholder="Choose a labeled folder…",
            help=f"Labeled folders found under {', '.join(str(r) for r in roots) or 'no folder'} "
            f"(set `{appstate.DATA_ROOTS_ENV}` to change them).",
        )
        if picked is not None:
            folder, allowed, source_name = Path(folders[picked]), roots, picked
    items_all: list = []
    if folder is not None:
        try:
            folder = ev.inside_roots(folder, allowed)
            items_all = dataset(str(folder))
            groups = pd.Series([it.group for it in items_all]).value_counts()
            st.caption(f"{len(items_all)} labeled plates · " + ", ".join(f"{g} {n}" for g, n in groups.items()))
        except AlprError as exc:
            st.error(f"Cannot read {source_name}: {exc}", icon=":material/error:")
            folder = None

with settings_col:
    if not models:
        st.error("No models found in models/ or the data folder's models/.", icon=":material/error:")
        st.stop()
    model_label = st.selectbox("Model", list(models), key="evaluate_model")
    compare_label = st.selectbox(
        "Compare with",
        ["", *[m for m in models if m != model_label]],
        key="evaluate_compare",
        format_func=lambda m: m or "No comparison",
        help="Another model read on the same plates, shown side by side (models/ and the data folder's models/).",
    )
    row = st.container(horizontal=True, gap="small", vertical_alignment="bottom")
    codes = ["", *COUNTRIES]
    country = row.selectbox(
        "Country",
        codes,
        key="evaluate_country",
        format_func=lambda c: "By folder name" if not c else f"{COUNTRIES[c].name} ({c})",
        help="Plate formats used to rank candidates; by default a folder named us, eu or br "
        "uses that country's, any other us.",
    )
    limit = row.number_input(
        "Plates at most",
        min_value=1,
        max_value=100_000,
        value=DEFAULT_LIMIT,
        step=10,
        key="evaluate_limit",
        help="The first N plates (in path order), so a demo finishes quickly.",
    )
    holdout = st.toggle(
        "Held-out plates only",
        key="evaluate_holdout",
        help="Only the files the shipped model never trained on (a fixed fifth, by file-name hash).",
    )

run_clicked = st.button(
    "Run evaluation", type="primary", icon=":material/play_arrow:", key="evaluate_run", disabled=folder is None
)


def run_evaluation() -> ev.Evaluation | None:
    items = ev.select(items_all, holdout=holdout, limit=int(limit))
    if not items:
        st.warning(
            "No plates left to read with these options (try without the hold-out filter).", icon=":material/warning:"
        )
        return None
    chosen = [model_label] + ([compare_label] if compare_label else [])
    bar = st.progress(0.0, text="Loading the model…")
    runs = ev.run_models(
        items,
        [(label, models[label]) for label in chosen],
        appstate.load_model,
        country or None,
        TOPN,
        progress=lambda done, text: bar.progress(done, text=text),
    )
    bar.empty()
    return ev.Evaluation(source_name, folder, tuple(items), len(items_all), country or None, holdout, runs)


if run_clicked and folder is not None:
    try:
        evaluation = run_evaluation()
        if evaluation is not None:
            st.session_state[_STATE] = evaluation
    except AlprError as exc:
        st.error(f"The evaluation stopped: {exc}", icon=":material/error:")
    except Exception as exc:  # noqa: BLE001 - no traceback on the page
        log.exception("evaluation failed")
        st.error(f"The evaluation stopped: {type(exc).__name__}: {exc}", icon=":material/error:")

evaluation: ev.Evaluation | None = st.session_state.get(_STATE)
if evaluation is None:
    st.info("Choose a labeled folder (or upload a zip) and press **Run evaluation**.", icon=":material/info:")
    st.stop()

# --- results ---------------------------------------------------------------------------------

runs = evaluation.runs
limited = (
    f" (the first {len(evaluation.items)} of {evaluation.available})"
    if len(evaluation.items) < evaluation.available
    else ""
)
st.subheader("Results", divider="gray")
st.caption(
    f"**{evaluation.source}** · {len(evaluation.items)} plates{limited}"
    + (" · held-out plates only" if evaluation.holdout else "")
    + f" · country {evaluation.country or 'by folder name'} · "
    + " · ".join(f"{r.version} in {r.seconds:.1f} s" for r in runs)
)
for i, run in enumerate(runs):
    line = st.container(horizontal=True, vertical_alignment="center", gap="small")
    with line.container(width=200, gap=None):
        st.markdown(f"**{run.version}**")
        st.caption(f"`{run.label.split(' · ')[0]}`" + ("  \ndifference to the first model" if i else ""))
    with line:
        summary_cards(run, runs[0] if i else None)
model_changes(runs)

groups_table(runs)

focus = runs[0]
if len(runs) == 2:
    picked = st.segmented_control(
        "Details for", [r.version for r in runs], default=runs[0].version, required=True, key="evaluate_focus"
    )
    focus = next((r for r in runs if r.version == picked), runs[0])
errors = [(i, r) for i, r in enumerate(focus.results) if not r.top1]
tab_errors, tab_kinds, tab_confusion, tab_classes, tab_timing = st.tabs(
    [f"Errors ({len(errors)})", "Misses and confidence", "Confusion matrix", "Per class", "Timing"],
    key="evaluate_tab",
)

with tab_errors:
    for kind, text in pending_flashes("evaluate"):
        {"error": st.error, "warning": st.warning}.get(kind, st.success)(text)
    if not errors:
        st.success(f"{focus.version} read every plate right.", icon=":material/check_circle:")
    else:
        error_gallery(evaluation, focus, errors)


# --- characters and time ---------------------------------------------------------------------

kinds_and_confidence(runs, tab_kinds)
character_tabs(focus, runs, tab_confusion, tab_classes, tab_timing)
