"""Evaluate: a model's accuracy and speed on a labeled folder, its errors, and two models side by side."""
import logging
from pathlib import Path

import pandas as pd
import streamlit as st

from alpr import figures
from alpr import app as appstate
from alpr.app.flash import flash, pending as pending_flashes
from alpr import evaluate as ev
from alpr.assemble import COUNTRIES
from alpr.data import read_dataset
from alpr.errors import AlprError
from alpr.imageio import encode_png, load_image
from alpr.paths import folder_choices

appstate.require_router("evaluate")

log = logging.getLogger("alpr.app")

STATIC_PLOT = {"displayModeBar": False}
TOPN = 10
DEFAULT_LIMIT = 50
GALLERY_COLUMNS = 4
GALLERY_PAGE = 12
_STATE = "evaluate_state"
_SENT = "evaluate_sent"


st.title("Evaluate")
st.markdown(
    "Measure a model on a labeled folder: how often it finds the plate, reads it exactly (top-1) or among its "
    f"{TOPN} best candidates (top-{TOPN}), which characters it confuses, and how long each stage takes. "
    "Send any error to the **Relabel** queue with one click; compare two models on the same plates."
)


# --- where the labeled plates come from -------------------------------------------------------------

@st.cache_data(ttl=60, show_spinner=False)
def labeled_folders(roots: tuple[str, ...]) -> dict[str, str]:
    """Picker label -> resolved folder, for every labeled folder under the allowed roots."""
    return folder_choices([Path(r) for r in roots], ev.find_labeled_folders)


@st.cache_data(ttl=60, show_spinner="Reading the labels…")
def dataset(folder: str) -> list:
    return read_dataset(folder)


roots = appstate.data_roots()
models = appstate.model_choices()

source_col, settings_col = st.columns([3, 2], gap="large")
folder: Path | None = None
source_name = ""
allowed: list[Path] = []
with source_col:
    source = st.segmented_control(
        "Labeled plates", ["folder", "zip"], default="folder", required=True, key="evaluate_source",
        format_func={"folder": "A labeled folder", "zip": "Upload a zip"}.get,
    )
    if source == "zip":
        upload = st.file_uploader(
            "Zip of a labeled folder", type=["zip"], key="evaluate_zip",
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
                "holding OpenALPR-style benchmarks, or upload a zip.", icon=":material/folder_off:",
            )
        picked = st.selectbox(
            "Folder", list(folders), index=None, key="evaluate_folder", placeholder="Choose a labeled folder…",
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
        "Compare with", ["", *[m for m in models if m != model_label]], key="evaluate_compare",
        format_func=lambda m: m or "No comparison",
        help="Another model read on the same plates, shown side by side (models/ and the data folder's models/).",
    )
    row = st.container(horizontal=True, gap="small", vertical_alignment="bottom")
    codes = ["", *COUNTRIES]
    country = row.selectbox("Country", codes, key="evaluate_country",
                            format_func=lambda c: "By folder name" if not c else f"{COUNTRIES[c].name} ({c})",
                            help="Plate formats used to rank candidates; by default a folder named us, eu or br "
                            "uses that country's, any other us.")
    limit = row.number_input("Plates at most", min_value=1, max_value=100_000, value=DEFAULT_LIMIT, step=10,
                             key="evaluate_limit", help="The first N plates (in path order), so a demo finishes quickly.")
    holdout = st.toggle("Held-out plates only", key="evaluate_holdout",
                        help="Only the files the shipped model never trained on (a fixed fifth, by file-name hash).")

run_clicked = st.button("Run evaluation", type="primary", icon=":material/play_arrow:", key="evaluate_run",
                        disabled=folder is None)


def run_evaluation() -> ev.Evaluation | None:
    items = ev.select(items_all, holdout=holdout, limit=int(limit))
    if not items:
        st.warning("No plates left to read with these options (try without the hold-out filter).",
                   icon=":material/warning:")
        return None
    chosen = [model_label] + ([compare_label] if compare_label else [])
    bar = st.progress(0.0, text="Loading the model…")
    runs = ev.run_models(items, [(label, models[label]) for label in chosen], appstate.load_model, country or None, TOPN,
                         progress=lambda done, text: bar.progress(done, text=text))
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

def _pct(n: float, total: float = 1) -> str:
    """A share as people read it: 100% and 0% without decimals (they are exact), others with one."""
    if not total:
        return "–"
    share = n / total
    return f"{share:.0%}" if share in (0, 1) else f"{share:.1%}"


_SAME = {"delta": "no change", "delta_color": "off", "delta_arrow": "off"}


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

    cards = st.container(horizontal=True, gap="small", wrap=False)
    cards.metric("Plate found", _pct(row["detected"], n), border=True, width="stretch", **delta("detected"),
                 help=f"{row['detected']} of {row['photos']}: a plate was read where the label's box is")
    cards.metric("Top-1", _pct(row["top1"], n), border=True, width="stretch", **delta("top1"),
                 help=f"{row['top1']} of {row['photos']} read exactly")
    cards.metric(f"Top-{TOPN}", _pct(row["topn"], n), border=True, width="stretch", **delta("topn"),
                 help=f"{row['topn']} of {row['photos']} with the right plate among the {TOPN} best candidates")
    chars = {}
    if ref is not None:
        d = 100 * (row["char_accuracy"] - ref["char_accuracy"])
        chars = {"delta": f"{d:+.1f} pp", "delta_color": "normal"} if abs(d) >= 0.05 else _SAME
    cards.metric("Characters", _pct(row["char_accuracy"]), border=True, width="stretch", **chars,
                 help="Characters of the labels read right (length minus edit distance)")
    cards.metric("Per photo", f"{row['median_ms']:.0f} ms", border=True, width="stretch",
                 **delta("median_ms", share=False),
                 help=f"Median time to read one photo; 90th percentile {row['p90_ms']:.0f} ms")


def group_table(runs) -> pd.DataFrame:
    rows = []
    for run in runs:
        for r in ev.summarize(list(run.results)):
            n = max(r["photos"], 1)
            rows.append({
                "Model": run.version, "Group": r["group"], "Plates": r["photos"], "Found": 100 * r["detected"] / n,
                "Top-1": 100 * r["top1"] / n, f"Top-{TOPN}": 100 * r["topn"] / n, "Characters": 100 * r["char_accuracy"],
                "Median ms": r["median_ms"], "p90 ms": r["p90_ms"], "Unreadable files": r["errors"],
            })
    return pd.DataFrame(rows)


runs = evaluation.runs
limited = f" (the first {len(evaluation.items)} of {evaluation.available})" if len(evaluation.items) < evaluation.available else ""
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
if len(runs) == 2:
    changes = ev.compare_results(list(runs[0].results), list(runs[1].results))
    st.markdown(
        f"**{runs[1].version}** reads **{len(changes['fixed'])}** plates right that {runs[0].version} got wrong, "
        f"and gets **{len(changes['broken'])}** wrong that it read right."
    )
    if changes["fixed"] or changes["broken"]:
        by_path = {r.path: (a, r) for a, r in zip(runs[0].results, runs[1].results)}
        with st.expander("Plates read differently", icon=":material/compare_arrows:"):
            st.dataframe(pd.DataFrame([
                {"Plate": Path(p).name, "Truth": by_path[p][0].truth, runs[0].version: by_path[p][0].read,
                 runs[1].version: by_path[p][1].read, "Change": kind}
                for kind, paths in (("fixed", changes["fixed"]), ("broken", changes["broken"])) for p in paths
            ]), hide_index=True, key="evaluate_changes")

percent = st.column_config.NumberColumn(format="%.1f%%")
st.dataframe(group_table(runs), hide_index=True, key="evaluate_groups",
             column_config={k: percent for k in ("Found", "Top-1", f"Top-{TOPN}", "Characters")})

focus = runs[0]
if len(runs) == 2:
    picked = st.segmented_control("Details for", [r.version for r in runs], default=runs[0].version, required=True,
                                  key="evaluate_focus")
    focus = next((r for r in runs if r.version == picked), runs[0])
errors = [(i, r) for i, r in enumerate(focus.results) if not r.top1]
tab_errors, tab_confusion, tab_classes, tab_timing = st.tabs(
    [f"Errors ({len(errors)})", "Confusion matrix", "Per class", "Timing"], key="evaluate_tab")


# --- error gallery ---------------------------------------------------------------------------

@st.cache_data(max_entries=256, show_spinner=False)
def thumbnail(path: str, box: tuple | None) -> bytes:
    from alpr.types import Box

    return encode_png(figures.error_thumbnail(load_image(path), Box(*box) if box else None))


def _send(indices: list[int], run_index: int) -> None:
    """Store the plates with their labeled text (and the model's guesses), for the Relabel page."""
    current: ev.Evaluation = st.session_state[_STATE]
    sent: dict = st.session_state.setdefault(_SENT, {})
    messages = []
    try:
        store = appstate.get_store()
        classifier = appstate.load_model(current.runs[run_index].path)
        for plate in ev.send_to_store(store, current, indices, classifier, appstate.author()):
            sent[str(plate.path)] = (plate.plate_id, plate.matched, plate.characters)
            if plate.matched:
                messages.append(("success", f"{plate.name} is plate #{plate.plate_id} in the relabel queue: "
                                            f"{plate.characters} characters labeled from its truth"))
            else:
                messages.append(("warning", f"{plate.name} is plate #{plate.plate_id} in the relabel queue, but it was "
                                            f"cut into {plate.characters} segments for {plate.expected} characters: "
                                            "fix it on the Relabel page"))
    except AlprError as exc:
        messages.append(("error", f"Could not send to the relabel queue: {exc}"))
    except Exception as exc:  # noqa: BLE001 - no traceback on the page
        log.exception("sending to the relabel queue failed")
        messages.append(("error", f"Could not send to the relabel queue: {type(exc).__name__}: {exc}"))
    if len(messages) > 3:
        kinds = [k for k, _ in messages]
        messages = [("success", f"Sent {kinds.count('success') + kinds.count('warning')} plates to the relabel queue "
                                f"({kinds.count('warning')} need their segmentation fixed)")] + [
            m for m in messages if m[0] == "error"]
    for kind, text in messages:
        flash("evaluate", kind, text)


def _diff(read: str, truth: str) -> str:
    """The read in Markdown, its characters that differ from the truth in red."""
    if not read:
        return ":red[nothing]"
    if len(read) != len(truth):
        return f":red[**{read}**]"
    return "".join(f"**{a}**" if a == b else f":red[**{a}**]" for a, b in zip(read, truth))


with tab_errors:
    for kind, text in pending_flashes("evaluate"):
        {"error": st.error, "warning": st.warning}.get(kind, st.success)(text)
    if not errors:
        st.success(f"{focus.version} read every plate right.", icon=":material/check_circle:")
    else:
        run_index = runs.index(focus)
        sent = st.session_state.get(_SENT, {})
        waiting = [i for i, r in errors if r.path not in sent]
        bar = st.container(horizontal=True, vertical_alignment="center", gap="medium")
        bar.button(f"Send all {len(waiting)} to the relabel queue", key="evaluate_send_all", icon=":material/send:",
                   disabled=not waiting, on_click=_send, args=(waiting, run_index),
                   help="Store each photo with its labeled plate text, so its characters can be fixed on Relabel")
        bar.page_link("pages/relabel.py", label="Open Relabel", icon=":material/edit_note:")
        shown = st.session_state.get("evaluate_shown", GALLERY_PAGE)
        for start in range(0, min(shown, len(errors)), GALLERY_COLUMNS):
            cols = st.columns(GALLERY_COLUMNS, gap="small")
            for col, (i, r) in zip(cols, errors[start:start + GALLERY_COLUMNS]):
                item = evaluation.items[i]
                with col, st.container(border=True, gap="small"):
                    try:
                        st.image(thumbnail(str(item.path), (item.box.x, item.box.y, item.box.w, item.box.h) if item.box else None),
                                 width="stretch")
                    except Exception as exc:  # noqa: BLE001 - a broken file is a caption, not a crash
                        st.caption(f":material/broken_image: {exc}")
                    st.markdown(f"Truth **{r.truth}**  \nRead {_diff(r.read, r.truth)}")
                    why = r.error or ("" if r.detected else "no plate found at the labeled box")
                    if not why and r.truth in r.candidates:
                        why = f"right plate among the top {TOPN}"
                    st.caption(f"{Path(r.path).name} · {r.group}" + (f" · {why}" if why else ""))
                    if r.path in sent:
                        plate_id, matched, _ = sent[r.path]
                        st.page_link("pages/relabel.py", label=f"In the queue: plate #{plate_id}",
                                     icon=":material/check:" if matched else ":material/warning:",
                                     query_params={"plate": plate_id})
                    else:
                        st.button("Send to relabel queue", key=f"evaluate_send_{run_index}_{i}",
                                  icon=":material/send:", on_click=_send, args=([i], run_index), disabled=bool(r.error))
        if shown < len(errors):
            st.button(f"Show more ({len(errors) - shown} left)", key="evaluate_more",
                      on_click=lambda: st.session_state.update(evaluate_shown=shown + GALLERY_PAGE))


# --- characters and time ---------------------------------------------------------------------

counts, used, total = ev.char_confusion(list(focus.results))
with tab_confusion:
    show_right = st.toggle("Show right reads (the diagonal)", key="evaluate_diagonal",
                           help="Off, the colours are set by the errors alone; the right reads would dwarf them.")
    st.plotly_chart(figures.confusion_figure(counts, hide_correct=not show_right), key="evaluate_confusion",
                    config=STATIC_PLOT)
    st.caption(
        f"Characters of the {used} of {total} plates read with as many characters as their label: a missed or "
        "extra character shifts every pair after it, so those plates are left out. ∅: not a character."
    )
with tab_classes:
    st.plotly_chart(figures.class_accuracy_figure(ev.class_accuracy(counts)), key="evaluate_classes",
                    config=STATIC_PLOT)
    st.caption(f"Share of each labeled character read right, over the same {used} plates as the confusion matrix.")
with tab_timing:
    stage_rows = {r.version: ev.summarize(list(r.results))[-1]["stage_median_ms"] for r in runs}
    st.plotly_chart(figures.stage_times_figure(stage_rows), key="evaluate_timing", config=STATIC_PLOT)
    st.caption("Median milliseconds per photo in each stage, on " + appstate.device_line() + ".")
