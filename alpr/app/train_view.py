"""The Train page's pieces: the actions its buttons call, and the run panel (live curves while a run
trains, the result and what it learnt when it ends, the details). The page lays them out."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import streamlit as st

from alpr import app as appstate
from alpr.app import flash
from alpr.errors import AlprError
from alpr.training import jobs, registry, train_figures
from alpr.training.records import JobConfig


def data_folder() -> Path:
    """The data folder whose runs and registry the page shows."""
    return appstate.data_dir().resolve()


STATIC_PLOT = {"displayModeBar": False}
PLOT_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
# Under this many held-out labeled crops a comparison is said to be fragile: with 20, one crop
# is 5 points, about the difference the gate and a person act on.
FEW_LABELS = 20
REFRESH_S = 2  # how often the live run's panel re-reads its metrics
WATCH_S = 5  # how often an idle page looks for a run started elsewhere (the CLI, another tab)
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
BATCH_SIZES = (32, 64, 128, 256)
STATE_BADGES = {
    "starting": ("Starting", "blue", ":material/hourglass_top:"),
    "running": ("Running", "blue", ":material/autorenew:"),
    "succeeded": ("Finished", "green", ":material/check_circle:"),
    "rejected": ("Finished · rejected", "orange", ":material/block:"),
    "failed": ("Failed", "red", ":material/error:"),
    "cancelled": ("Cancelled", "gray", ":material/cancel:"),
    "interrupted": ("Interrupted", "orange", ":material/pause_circle:"),
}
PART_NAMES = {
    "store": "Label store (held out)",
    "datasets": "Added folders (held out)",
    "glyphs": "Rendered glyphs",
    "replay": "Unlabeled crops, as the base model read them",
}
VIEW_KEY = "train_view_run"
RERUN_KEY = "train_rerun_page"


def say(kind: str, text: str) -> None:
    flash.flash("train", kind, text)
    # A button of the run panel reruns only its fragment: ask for the whole page, so the message,
    # the cards and the registry show what the action changed.
    st.session_state[RERUN_KEY] = True


def show_flashes() -> None:
    st.session_state.pop(RERUN_KEY, None)
    flash.show("train")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def when(iso: str | None) -> str:
    if not iso:
        return "–"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


# --- actions (widget callbacks: they run before the page is drawn) -----------------------------------


def start(config: JobConfig) -> None:
    try:
        run = jobs.launch(config, data_folder())
    except AlprError as exc:
        say("error", f"Could not start a run: {exc}")
        return
    st.session_state[VIEW_KEY] = run.id
    say(
        "info",
        f"Run {run.id} started. It trains in its own process: this page follows it, and so does any page opened later.",
    )


def cancel(run_id: str) -> None:
    try:
        say("info", jobs.cancel(run_id, data_folder()).capitalize() + ".")
    except AlprError as exc:
        say("error", f"Could not cancel: {exc}")


def resume(run_id: str) -> None:
    try:
        jobs.launch(None, data_folder(), resume=run_id)
    except AlprError as exc:
        say("error", f"Could not resume: {exc}")
        return
    st.session_state[VIEW_KEY] = run_id
    say("info", f"Run {run_id} resumes from its last checkpoint.")


def activate(version: str, force: bool = False) -> None:
    try:
        with st.spinner(f"Checking {version} loads…"):
            registry.activate(version, data_folder(), force=force, by="app")
    except AlprError as exc:
        say("error", f"Could not activate {version}: {exc}")
        return
    say("success", f"{version} is now the active model: the Recognize page reads with it from now on.")


def rollback() -> None:
    try:
        version = registry.rollback(data_folder(), by="app")
    except AlprError as exc:
        say("error", f"Could not roll back: {exc}")
        return
    say("success", f"Rolled back: {version.name} is the active model again.")


# --- the run: live curves while it lasts, the result when it ends ------------------------------------------


def progress_bar(run: jobs.Run, rows: list[dict]) -> None:
    planned = rows[-1].total_epochs if rows else None
    if run.state == "starting" or not rows:
        st.progress(0.0, text="Preparing: loading TensorFlow, the base model and the data…")
        return
    last = rows[-1]
    done = last.global_epoch
    text = f"Epoch {done} of {planned} · stage {last.stage} · {last.samples_per_s:.0f} samples/s" + (
        f" · about {duration(last.eta_s)} left" if last.eta_s else ""
    )
    st.progress(min(1.0, done / max(planned or 1, 1)), text=text)


def metric_cards(rows: list[dict], finished: bool, took_s: float | None = None) -> None:
    last = rows[-1]
    prev = rows[-2] if len(rows) > 1 else None
    kept = [r for r in rows if r.best]
    if finished and kept:  # the registered model is the best epoch's, not the last one's
        last = kept[-1]
        prev = rows[rows.index(last) - 1] if rows.index(last) else None
    line = st.container(horizontal=True, gap="small", wrap=False)
    label = f"Validation accuracy · kept epoch {last.global_epoch}" if finished and kept else "Validation accuracy"
    line.metric(
        label,
        f"{last.val_acc:.1%}",
        border=True,
        delta=f"{(last.val_acc - prev.val_acc) * 100:+.1f} pt" if prev else None,
        help="Held-out crops of the label store and added folders, and rendered glyphs; never trained on.",
    )
    line.metric(
        "Validation loss",
        f"{last.val_loss:.4f}",
        border=True,
        delta=f"{last.val_loss - prev.val_loss:+.4f}" if prev else None,
        delta_color="inverse",
    )
    line.metric("Training loss", f"{last.loss:.4f}", border=True)
    line.metric(
        "Samples / s", f"{last.samples_per_s:,.0f}", border=True, help="Training crops per second in the last epoch."
    )
    if finished and took_s:
        # The whole run (TensorFlow's start, the data, the comparison, registering), not the
        # training time up to the kept epoch, which read 12 s for a run that took 30.
        line.metric("Took", duration(took_s), border=True, help="From the run's start to its version registered.")
    else:
        line.metric("Elapsed", duration(rows[-1].elapsed_s), border=True)


def comparison_table(version: registry.Version) -> None:
    comparison = version.info.get("comparison") or {}
    new, old = comparison.get("new"), comparison.get("active")
    if not new:
        return
    labeled = sum(new["parts"].get(k, {}).get("n", 0) for k in ("store", "datasets"))
    if labeled < FEW_LABELS:
        st.warning(
            f"This comparison rests on {labeled} held-out crop{'s' if labeled != 1 else ''} you labeled"
            + (f": each one moves it by {100 / labeled:.0f} points." if labeled else ".")
            + " Label more plates on the Relabel page before trusting a difference.",
            icon=":material/info:",
        )
    against = comparison.get("against") or "active"
    table = []
    keys = [("all", "All held-out crops")] + [(k, PART_NAMES[k]) for k in PART_NAMES if k in new["parts"]]
    for key, name in keys:
        n = new if key == "all" else new["parts"][key]
        o = (old if key == "all" else (old or {}).get("parts", {}).get(key)) if old else None
        table.append(
            {
                "Validation set": name,
                "Crops": n["n"] if key != "all" else new["n"],
                f"New · {version.name}": n["accuracy"] * 100,
                f"Active then · {against}": o["accuracy"] * 100 if o else None,
                "Change": (n["accuracy"] - o["accuracy"]) * 100 if o else None,
            }
        )
    st.dataframe(
        pd.DataFrame(table),
        hide_index=True,
        key=f"train_compare_{version.name}",
        column_config={
            f"New · {version.name}": st.column_config.NumberColumn(format="%.1f%%"),
            f"Active then · {against}": st.column_config.NumberColumn(format="%.1f%%"),
            "Change": st.column_config.NumberColumn(format="%+.1f pt", help="Percentage points"),
        },
    )


def learnt_table(run: jobs.Run) -> None:
    """The corrected plates, read before (the model active then) and after; fixed ones green."""
    rows = (jobs.read_json(run.dir / "learnt.json", {}) or {}).get("plates") or []
    if not rows:
        return
    fixed = sum(r["fixed"] for r in rows)
    remembered = sum(r.get("remembered", False) for r in rows)
    st.markdown(
        f"**What it learnt**: the network reads {fixed} of {len(rows)} corrected plates right now"
        + (f"; it remembers {remembered} of them whole, so they read right when seen again" if remembered else "")
    )
    frame = pd.DataFrame(
        [
            {
                "Plate": r["plate"],
                "Your label": r["truth"],
                "Read before": r["before"],
                "Read now": r["after"],
                "Trained on": "held out" if r["held_out"] else "yes",
                "Fixed": r["fixed"],
                "Remembered": r.get("remembered", False),
            }
            for r in rows
        ]
    )
    st.dataframe(
        frame.style.apply(lambda row: ["background-color: #d4f4dd" if row["Fixed"] else "" for _ in row], axis=1),
        hide_index=True,
        key=f"train_learnt_{run.id}",
    )


def run_result(run: jobs.Run) -> None:
    status = run.status
    name = status.version
    if not name:
        return
    try:
        version = registry.get(name, data_folder())
    except AlprError as exc:
        st.error(f"The run registered {name}, which cannot be read now: {exc}", icon=":material/error:")
        return
    if run.state == "succeeded":
        st.success(status.message or f"{name} registered.", icon=":material/check_circle:")
    elif registry.active_name(data_folder()) == name:
        st.info(
            f"The gate rejected {name}: it did not read the held-out crops you labeled clearly better than "
            f"{status.compared_with or 'the model active then'}. It was then activated anyway, and it is the active model.",
            icon=":material/warning:",
        )
    else:
        st.warning(
            f"{name} does not read the held-out crops you labeled clearly better than "
            f"{status.compared_with or 'the active model'} (the gate asks for 2 more), so it was registered as "
            "rejected and not activated. Compare below; activate it anyway only if you know why.",
            icon=":material/block:",
        )
    if status.gate:
        st.caption(f"Gate: {status.gate}")
    learnt_table(run)
    comparison_table(version)
    bar = st.container(horizontal=True, vertical_alignment="center", gap="medium")
    if registry.active_name(data_folder()) == name:
        bar.badge(f"{name} is the active model", icon=":material/check:", color="green")
        bar.page_link("pages/recognize.py", label="Read plates with it", icon=":material/search:")
    elif version.status == registry.STATUS_REJECTED:
        force = bar.checkbox("I know it read worse", key=f"train_force_{name}")
        bar.button(
            f"Activate {name} anyway",
            key=f"train_activate_{name}",
            on_click=activate,
            args=(name, True),
            disabled=not force,
            icon=":material/warning:",
        )
    else:
        bar.button(
            f"Activate {name}",
            key=f"train_activate_{name}",
            type="primary",
            on_click=activate,
            args=(name,),
            icon=":material/rocket_launch:",
            help="Make it the model the Recognize page and the CLI read with.",
        )


def run_details(run: jobs.Run, rows: list[dict], key: str) -> None:
    last = rows[-1] if rows else None
    baseline = None
    name = run.status.version
    if name:
        try:
            comparison = registry.get(name, data_folder()).info.get("comparison") or {}
            baseline = (comparison.get("active") or {}).get("per_class")
        except AlprError:
            baseline = None
    confusion_tab, class_tab, parts_tab, speed_tab, log_tab = st.tabs(
        ["Confusion matrix", "Per-class accuracy", "Reader and plate scorer", "Speed and learning rate", "Log"],
        key=f"{key}_tabs",
    )
    with confusion_tab:
        if last and last.confusion:
            hide = st.toggle(
                "Hide the right reads",
                value=True,
                key=f"{key}_hide_correct",
                help="Blank the diagonal so the mistakes set the colour scale.",
            )
            st.plotly_chart(
                train_figures.confusion_figure(last.confusion, hide_correct=hide),
                key=f"{key}_confusion",
                config=STATIC_PLOT,
            )
            st.caption(f"Validation crops of epoch {last.global_epoch}: truth down, read across.")
        else:
            st.caption("The confusion matrix appears after the first epoch.")
    with class_tab:
        if last and last.per_class:
            st.plotly_chart(
                train_figures.per_class_figure(last.per_class, baseline, "active model when it finished"),
                key=f"{key}_per_class",
                config=STATIC_PLOT,
            )
        else:
            st.caption("Per-class accuracy appears after the first epoch.")
    with parts_tab:
        learned_parts(name, key)
    with speed_tab:
        if rows:
            st.plotly_chart(train_figures.throughput_figure(rows), key=f"{key}_speed", config=STATIC_PLOT)
            st.caption(f"TensorBoard logs: `tensorboard --logdir {run.dir / 'tensorboard'}`")
        else:
            st.caption("Throughput appears after the first epoch.")
    with log_tab:
        st.code(run.log_tail(40) or "(nothing logged yet)", language=None, height=320)


def learned_parts(name: str | None, key: str) -> None:
    """The run's other learned parts: the whole-plate reader's fine-tune curve and gate, the plate
    scorer's refit and gate (alpr/training/reader_step.py, rank_step.py)."""
    meta = {}
    if name:
        try:
            meta = registry.get(name, data_folder()).metadata
        except AlprError:
            meta = {}
    reader, scorer = meta.get("plate_reader") or {}, meta.get("plate_scorer") or {}
    if not reader and not scorer:
        st.caption("The whole-plate reader and the plate scorer are trained at the end of the run, after the CNN.")
        return
    if reader.get("epochs"):
        st.plotly_chart(train_figures.reader_figure(reader["epochs"]), key=f"{key}_reader", config=STATIC_PLOT)
    plates = reader.get("store_plates") or {}
    if plates:
        st.caption(
            f"Whole-plate reader: fine-tuned on {plates.get('train', 0)} plates you confirmed "
            f"({plates.get('held_out', 0)} held out to judge it)."
        )
    network = reader.get("network_gate") or {}
    lines = [(part.get("gate"), part.get("kept") in ("new", "refit")) for part in (reader, scorer)]
    lines.append((network.get("line"), network.get("kept") == "new"))
    for line, kept in lines:
        if line:
            st.markdown(f"{':material/check:' if kept else ':material/undo:'} {line}")


def run_panel(run_id: str, was_live: bool, busy: bool = False) -> None:
    """The run's panel: its state, the live curves or the result, and the details. BUSY: another
    run is live (Resume waits for it)."""
    try:
        run = jobs.get_run(run_id, data_folder())
    except AlprError as exc:
        st.info(str(exc), icon=":material/info:")
        return
    if (was_live and not run.live) or st.session_state.pop(RERUN_KEY, False):
        st.rerun()  # the run ended, or a button here changed the page: redraw all of it
    rows = run.metrics()
    cfg = run.job if run.config.get("job") else None
    label, colour, icon = STATE_BADGES.get(run.state, (run.state, "gray", ":material/help:"))
    head = st.container(horizontal=True, vertical_alignment="center", gap="small")
    head.subheader(f"Run {run.id}", anchor=False)
    head.badge(label, color=colour, icon=icon)
    details = [f"started {when(run.status.started or run.status.launched)}"]
    if cfg:
        details.append(f"base {cfg.base}")
        details.append(f"{cfg.epochs} + {cfg.unfreeze_epochs} epochs")
        details.append(f"batch {cfg.batch_size}, lr {cfg.lr:g}")
        data = (["label store"] if cfg.use_store else []) + [f"{len(cfg.datasets)} folder(s)"] * bool(cfg.datasets)
        data.append(f"{cfg.glyphs_per_class} glyphs/class")
        details.append(" + ".join(data))
    st.caption(" · ".join(details))

    if run.live:
        progress_bar(run, rows)
        st.button(
            "Cancel run",
            key="train_cancel",
            on_click=cancel,
            args=(run.id,),
            icon=":material/stop_circle:",
            help="Stops after the current batch; nothing is registered and the active model stays.",
        )
    elif run.state == "interrupted":
        done = rows[-1].global_epoch if rows else 0
        st.warning(
            f"This run stopped without finishing (the process was killed, or the machine restarted) after {done} "
            "epoch(s). Nothing was registered and the active model is unchanged. Resume it from its last checkpoint, "
            "or discard it.",
            icon=":material/pause_circle:",
        )
        bar = st.container(horizontal=True, gap="small")
        bar.button(
            "Resume",
            key="train_resume",
            type="primary",
            on_click=resume,
            args=(run.id,),
            icon=":material/play_arrow:",
            disabled=not run.resumable or busy,
        )
        bar.button("Discard", key="train_discard", on_click=cancel, args=(run.id,), icon=":material/delete:")
    elif run.state == "failed":
        st.error(
            f"The run failed: {run.status.message or 'see the log below'}. Nothing was registered and "
            "the active model is unchanged.",
            icon=":material/error:",
        )
    elif run.state == "cancelled":
        st.info("Cancelled: nothing was registered and the active model is unchanged.", icon=":material/cancel:")
    elif run.state in ("succeeded", "rejected"):
        run_result(run)

    if rows:
        metric_cards(rows, run.state in ("succeeded", "rejected"), run.status.duration_s)
        comparison_acc = run.status.active_val_accuracy
        st.plotly_chart(
            train_figures.curves_figure(rows, rows[-1].total_epochs, comparison_acc),
            key="train_curves",
            config=PLOT_CONFIG,
        )
    elif run.live:
        st.caption("The loss and accuracy curves appear here after the first epoch.")
    run_details(run, rows, "train_run")


def watch(shown: tuple[str, str] | None) -> None:
    """An idle page notices a run started elsewhere (the CLI, another browser tab) and redraws."""
    now = jobs.current(data_folder())
    if now is not None and now.live and (shown is None or shown != (now.id, now.state)):
        st.rerun()
