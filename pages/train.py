"""Train: fine-tune the character model on the corrections, watch it learn, and pick the model that reads plates."""

import logging
from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from alpr import app as appstate
from alpr.app import flash
from alpr.training import jobs, registry, train_figures
from alpr.training.records import JobConfig
from alpr.errors import AlprError

appstate.require_router("train")

log = logging.getLogger("alpr.app")

STATIC_PLOT = {"displayModeBar": False}
PLOT_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
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
_VIEW = "train_view_run"
_RERUN = "train_rerun_page"

st.title("Train")
st.markdown(
    "Fine-tune the character model on the fixes made on the **Relabel** page. A run trains in its own process "
    "(leave the page and come back: it keeps going), shows its curves as it learns, and ends as a new version in "
    "the model registry below. Activate a version to read plates with it on the **Recognize** page."
)

folder = appstate.data_dir().resolve()


def _flash(kind: str, text: str) -> None:
    flash.flash("train", kind, text)
    # A button of the run panel reruns only its fragment: ask for the whole page, so the message,
    # the cards and the registry show what the action changed.
    st.session_state[_RERUN] = True


def _show_flashes() -> None:
    st.session_state.pop(_RERUN, None)
    flash.show("train")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _when(iso: str | None) -> str:
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


def _start(config: JobConfig) -> None:
    try:
        run = jobs.launch(config, folder)
    except AlprError as exc:
        _flash("error", f"Could not start a run: {exc}")
        return
    st.session_state[_VIEW] = run.id
    _flash(
        "info",
        f"Run {run.id} started. It trains in its own process: this page follows it, and so does any page opened later.",
    )


def _cancel(run_id: str) -> None:
    try:
        _flash("info", jobs.cancel(run_id, folder).capitalize() + ".")
    except AlprError as exc:
        _flash("error", f"Could not cancel: {exc}")


def _resume(run_id: str) -> None:
    try:
        jobs.launch(None, folder, resume=run_id)
    except AlprError as exc:
        _flash("error", f"Could not resume: {exc}")
        return
    st.session_state[_VIEW] = run_id
    _flash("info", f"Run {run_id} resumes from its last checkpoint.")


def _activate(version: str, force: bool = False) -> None:
    try:
        with st.spinner(f"Checking {version} loads…"):
            registry.activate(version, folder, force=force, by="app")
    except AlprError as exc:
        _flash("error", f"Could not activate {version}: {exc}")
        return
    _flash("success", f"{version} is now the active model: the Recognize page reads with it from now on.")


def _rollback() -> None:
    try:
        version = registry.rollback(folder, by="app")
    except AlprError as exc:
        _flash("error", f"Could not roll back: {exc}")
        return
    _flash("success", f"Rolled back: {version.name} is the active model again.")


# --- where things stand: device, active model, training data ----------------------------------------------

device = appstate.training_device()
store, store_error = appstate.try_store()
stats = store.stats() if store is not None else None
active_name = appstate.active_version_name()
runs = jobs.list_runs(folder)
live = next((r for r in runs if r.live), None)

_show_flashes()
cards = st.container(horizontal=True, gap="small")
cards.metric(
    "Training device",
    "GPU" if device["gpu"] else "CPU",
    border=True,
    width=300,
    delta=device["name"] if device["gpu"] else "no GPU found · slower",
    delta_arrow="off",
    delta_color="green" if device["gpu"] else "gray",
    help=device["line"],
)
active_version = registry.active(folder)
cards.metric(
    "Active model",
    active_name,
    border=True,
    width=240,
    delta=f"validation {active_version.val_accuracy:.1%}" if active_version.val_accuracy is not None else None,
    delta_arrow="off",
    delta_color="gray",
    help="The version the Recognize page and the CLI read with.",
)
if stats is not None:
    cards.metric(
        "Labeled characters",
        stats["labeled"],
        border=True,
        width=240,
        delta=f"{stats['pending_training']} new since the last training",
        delta_arrow="off",
        delta_color="blue" if stats["pending_training"] else "gray",
        help="Characters whose label a person gave or an import brought: the training data.",
    )
st.caption(
    f"**Device** {device['line']}. "
    + (
        "Training uses mixed precision and a prefetched tf.data pipeline on the GPU."
        if device["gpu"]
        else "Training runs on the CPU with the same code, slower: a few minutes for the defaults."
    )
    + f" Data folder `{folder}`."
)
if store is None:
    st.warning(
        f"The label store cannot be opened ({store_error}); a run can still train on rendered glyphs and added folders.",
        icon=":material/warning:",
    )


# --- the run: live curves while it lasts, the result when it ends ------------------------------------------


def _progress(run: jobs.Run, rows: list[dict]) -> None:
    planned = rows[-1].total_epochs if rows else None
    if run.state == "starting" or not rows:
        st.progress(0.0, text="Preparing: loading TensorFlow, the base model and the data…")
        return
    last = rows[-1]
    done = last.global_epoch
    text = f"Epoch {done} of {planned} · stage {last.stage} · {last.samples_per_s:.0f} samples/s" + (
        f" · about {_duration(last.eta_s)} left" if last.eta_s else ""
    )
    st.progress(min(1.0, done / max(planned or 1, 1)), text=text)


def _metric_cards(rows: list[dict], finished: bool) -> None:
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
    line.metric("Elapsed", _duration(last.elapsed_s), border=True)


def _comparison(version: registry.Version) -> None:
    comparison = version.info.get("comparison") or {}
    new, old = comparison.get("new"), comparison.get("active")
    if not new:
        return
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


def _learnt(run: jobs.Run) -> None:
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


def _result(run: jobs.Run) -> None:
    status = run.status
    name = status.version
    if not name:
        return
    try:
        version = registry.get(name, folder)
    except AlprError as exc:
        st.error(f"The run registered {name}, which cannot be read now: {exc}", icon=":material/error:")
        return
    if run.state == "succeeded":
        st.success(status.message or f"{name} registered.", icon=":material/check_circle:")
    else:
        st.warning(
            f"{name} reads the held-out crops you labeled worse than {status.compared_with or 'the active model'}, so it was "
            "registered as rejected and not activated. Compare below; activate it anyway only if you know why.",
            icon=":material/block:",
        )
    if status.gate:
        st.caption(f"Gate: {status.gate}")
    _learnt(run)
    _comparison(version)
    bar = st.container(horizontal=True, vertical_alignment="center", gap="medium")
    if registry.active_name(folder) == name:
        bar.badge(f"{name} is the active model", icon=":material/check:", color="green")
        bar.page_link("pages/recognize.py", label="Read plates with it", icon=":material/search:")
    elif version.status == registry.STATUS_REJECTED:
        force = bar.checkbox("I know it read worse", key=f"train_force_{name}")
        bar.button(
            f"Activate {name} anyway",
            key=f"train_activate_{name}",
            on_click=_activate,
            args=(name, True),
            disabled=not force,
            icon=":material/warning:",
        )
    else:
        bar.button(
            f"Activate {name}",
            key=f"train_activate_{name}",
            type="primary",
            on_click=_activate,
            args=(name,),
            icon=":material/rocket_launch:",
            help="Make it the model the Recognize page and the CLI read with.",
        )


def _details(run: jobs.Run, rows: list[dict], key: str) -> None:
    last = rows[-1] if rows else None
    baseline = None
    name = run.status.version
    if name:
        try:
            comparison = registry.get(name, folder).info.get("comparison") or {}
            baseline = (comparison.get("active") or {}).get("per_class")
        except AlprError:
            baseline = None
    confusion_tab, class_tab, speed_tab, log_tab = st.tabs(
        ["Confusion matrix", "Per-class accuracy", "Speed and learning rate", "Log"], key=f"{key}_tabs"
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
    with speed_tab:
        if rows:
            st.plotly_chart(train_figures.throughput_figure(rows), key=f"{key}_speed", config=STATIC_PLOT)
            st.caption(f"TensorBoard logs: `tensorboard --logdir {run.dir / 'tensorboard'}`")
        else:
            st.caption("Throughput appears after the first epoch.")
    with log_tab:
        st.code(run.log_tail(40) or "(nothing logged yet)", language=None, height=320)


def run_panel(run_id: str, was_live: bool) -> None:
    try:
        run = jobs.get_run(run_id, folder)
    except AlprError as exc:
        st.info(str(exc), icon=":material/info:")
        return
    if (was_live and not run.live) or st.session_state.pop(_RERUN, False):
        st.rerun()  # the run ended, or a button here changed the page: redraw all of it
    rows = run.metrics()
    cfg = run.job if run.config.get("job") else None
    label, colour, icon = STATE_BADGES.get(run.state, (run.state, "gray", ":material/help:"))
    head = st.container(horizontal=True, vertical_alignment="center", gap="small")
    head.subheader(f"Run {run.id}", anchor=False)
    head.badge(label, color=colour, icon=icon)
    details = [f"started {_when(run.status.started or run.status.launched)}"]
    if cfg:
        details.append(f"base {cfg.base}")
        details.append(f"{cfg.epochs} + {cfg.unfreeze_epochs} epochs")
        details.append(f"batch {cfg.batch_size}, lr {cfg.lr:g}")
        data = (["label store"] if cfg.use_store else []) + [f"{len(cfg.datasets)} folder(s)"] * bool(cfg.datasets)
        data.append(f"{cfg.glyphs_per_class} glyphs/class")
        details.append(" + ".join(data))
    st.caption(" · ".join(details))

    if run.live:
        _progress(run, rows)
        st.button(
            "Cancel run",
            key="train_cancel",
            on_click=_cancel,
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
            on_click=_resume,
            args=(run.id,),
            icon=":material/play_arrow:",
            disabled=not run.resumable or live is not None,
        )
        bar.button("Discard", key="train_discard", on_click=_cancel, args=(run.id,), icon=":material/delete:")
    elif run.state == "failed":
        st.error(
            f"The run failed: {run.status.message or 'see the log below'}. Nothing was registered and "
            "the active model is unchanged.",
            icon=":material/error:",
        )
    elif run.state == "cancelled":
        st.info("Cancelled: nothing was registered and the active model is unchanged.", icon=":material/cancel:")
    elif run.state in ("succeeded", "rejected"):
        _result(run)

    if rows:
        _metric_cards(rows, run.state in ("succeeded", "rejected"))
        comparison_acc = run.status.active_val_accuracy
        st.plotly_chart(
            train_figures.curves_figure(rows, rows[-1].total_epochs, comparison_acc),
            key="train_curves",
            config=PLOT_CONFIG,
        )
    elif run.live:
        st.caption("The loss and accuracy curves appear here after the first epoch.")
    _details(run, rows, "train_run")


def watch(shown: tuple[str, str] | None) -> None:
    """An idle page notices a run started elsewhere (the CLI, another browser tab) and redraws."""
    now = jobs.current(folder)
    if now is not None and now.live and (shown is None or shown != (now.id, now.state)):
        st.rerun()


shown_id = live.id if live else st.session_state.get(_VIEW) or (runs[0].id if runs else None)
if shown_id and not any(r.id == shown_id for r in runs):
    shown_id = runs[0].id if runs else None

st.space("small")
if shown_id:
    with st.container(border=True):
        panel = st.fragment(run_every=REFRESH_S if live else None)(run_panel)
        panel(shown_id, live is not None)
else:
    st.info(
        "No training run yet. Choose the data and the base model below and press **Start training**.",
        icon=":material/model_training:",
    )
if not live:
    shown_run = next((r for r in runs if r.id == shown_id), None)
    st.fragment(run_every=WATCH_S)(watch)((shown_run.id, shown_run.state) if shown_run else None)


# --- a new run -----------------------------------------------------------------------------------------------

st.subheader("New run", anchor=False)
versions = registry.versions(folder)
bases = {f"Active model ({active_name})": "active"}
for v in reversed(versions):
    if v.usable:
        acc = f" · validation {v.val_accuracy:.1%}" if v.val_accuracy is not None else ""
        bases[f"{v.name}{' (rejected)' if v.status == registry.STATUS_REJECTED else ''}{acc}"] = v.name
bases["New network pretrained on rendered glyphs"] = "glyphs"
weights = appstate.imagenet_weights()
for backbone, path in weights.items():
    bases[f"ImageNet {backbone} ({path.name})"] = f"imagenet:{backbone}"
folders = appstate.training_folders(tuple(str(p) for p in appstate.data_roots()))

with st.form("train_form", border=True):
    data_col, model_col = st.columns(2, gap="large")
    with data_col:
        st.markdown("**Data**")
        labeled = stats["labeled"] if stats else 0
        use_store = st.checkbox(
            f"Label store · {labeled} labeled characters" + (f", {stats['pending_training']} new" if stats else ""),
            value=store is not None,
            key="train_use_store",
            disabled=store is None,
            help="Characters a person labeled (Relabel page) or an import brought. One in five, chosen by a hash of "
            "its pixels, is held out for validation and never trains.",
        )
        chosen_folders = st.multiselect(
            "Also train on",
            list(folders),
            key="train_datasets",
            placeholder="Exports or labeled plate folders…",
            help="Folders under the data roots: `alpr labels export` folders (a folder per class) and labeled plate "
            f"folders (OpenALPR layout). Set `{appstate.DATA_ROOTS_ENV}` to offer others.",
        )
        glyphs = st.slider(
            "Rendered glyphs per class",
            min_value=4,
            max_value=200,
            value=40,
            step=4,
            key="train_glyphs",
            help="Mixed in so that classes nobody corrected are not forgotten; a quarter as many more validate.",
        )
        activate = st.checkbox(
            "Activate the new version if it reads the validation set at least as well as the active model",
            value=False,
            key="train_activate",
        )
    with model_col:
        st.markdown("**Model**")
        base_label = st.selectbox(
            "Start from",
            list(bases),
            index=0,
            key="train_base",
            help="Transfer learning: the feature layers of this model are frozen first and its "
            "head retrained; then the last block is unfrozen at a lower learning rate.",
        )
        epoch_col, unfreeze_col = st.columns(2)
        epochs = epoch_col.number_input(
            "Epochs, features frozen", min_value=1, max_value=100, value=4, key="train_epochs"
        )
        unfreeze = unfreeze_col.number_input(
            "Epochs, top block unfrozen",
            min_value=0,
            max_value=100,
            value=2,
            key="train_unfreeze",
            help="0 skips this stage.",
        )
        lr_col, batch_col, patience_col = st.columns(3)
        lr = lr_col.select_slider(
            "Learning rate",
            options=LEARNING_RATES,
            value=3e-4,
            key="train_lr",
            format_func=lambda v: f"{v:g}",
            help="Of the frozen stage; the unfrozen stage uses a tenth.",
        )
        batch = batch_col.selectbox(
            "Batch size", BATCH_SIZES, index=BATCH_SIZES.index(256 if device["gpu"] else 64), key="train_batch"
        )
        patience = patience_col.number_input(
            "Early stopping after",
            min_value=1,
            max_value=20,
            value=3,
            key="train_patience",
            help="Epochs without a better validation loss before a stage stops.",
        )
    submitted = st.form_submit_button(
        "Start training",
        type="primary",
        icon=":material/play_arrow:",
        disabled=live is not None,
        help="One run at a time per data folder." if live is None else f"Run {live.id} is still going.",
    )

if live is not None:
    st.caption(f"Run {live.id} is {live.state}: one run at a time per data folder. Cancel it above to start another.")
if submitted:
    base = bases[base_label]
    config = JobConfig(
        epochs=int(epochs),
        unfreeze_epochs=int(unfreeze),
        batch_size=int(batch),
        patience=int(patience),
        glyphs_per_class=int(glyphs),
        use_store=bool(use_store),
        activate=bool(activate),
        datasets=[folders[label] for label in chosen_folders],
    )
    config.set_lr(lr)
    if base.startswith("imagenet:"):
        config.base, config.backbone = "imagenet", base.split(":", 1)[1]
        config.weights = str(weights[config.backbone])
    else:
        config.base = base
    if not use_store and not chosen_folders:
        _flash("warning", "No labeled data chosen: this run learns rendered glyphs only.")
    _start(config)
    st.rerun()


# --- the registry -----------------------------------------------------------------------------------------

st.subheader("Model registry", anchor=False)
st.caption(
    "Every finished run is a version; the shipped model is the first. The validation accuracy of each is on its own "
    "held-out crops; *vs active then* compares it with the model that was active when it finished, on the same crops."
)
table = []
for v in reversed(versions):
    s = v.summary(active_name)
    comparison = s.get("comparison") or {}
    trained = registry.trained_on(s.get("data"), missing="–")
    versus = None
    if comparison.get("active"):
        versus = (
            f"{comparison['new']['accuracy']:.1%} vs {comparison['active']['accuracy']:.1%} ({comparison['against']})"
        )
    versus = versus or "–"
    table.append(
        {
            "Active": s["active"],
            "Version": v.name,
            "Status": s["status"] if v.usable else f"unusable: {v.problem}",
            "Validation": f"{s['metrics']['val_accuracy']:.1%}"
            if s["metrics"].get("val_accuracy") is not None
            else "–",
            "vs active then": versus,
            "Parent": s["parent"] or "–",
            "Created": _when(s["created"]),
            "Trained on": trained,
            "Device": s["device"] or "–",
            "Took": _duration(s["duration_s"]),
        }
    )
st.dataframe(
    pd.DataFrame(table),
    hide_index=True,
    key="train_registry",
    column_config={
        "Active": st.column_config.CheckboxColumn(width=60),
        "Validation": st.column_config.TextColumn(width=90, help="On the version's own held-out crops."),
        "vs active then": st.column_config.TextColumn(
            width=190, help="This version and the model active when it finished, on the same held-out crops."
        ),
        "Status": st.column_config.TextColumn(width=100),
    },
)
broken = active_version.problem
if broken:
    st.warning(
        f"The active model {active_name} cannot be used: {broken}. The app reads with the last good version; "
        "activate another or roll back.",
        icon=":material/warning:",
    )
bar = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
names = [v.name for v in reversed(versions)]
pick = bar.selectbox(
    "Version", names, index=names.index(active_name) if active_name in names else 0, key="train_pick_version", width=200
)
picked = next(v for v in versions if v.name == pick)
rejected = picked.status == registry.STATUS_REJECTED and pick != active_name
force = (
    bar.checkbox(
        "Although rejected", key="train_pick_force", help="It read worse than the model active when it finished."
    )
    if rejected
    else False
)
bar.button(
    "Activate",
    key="train_activate_pick",
    on_click=_activate,
    args=(pick, force),
    disabled=pick == active_name or not picked.usable or (rejected and not force),
    icon=":material/rocket_launch:",
    help="Make this version the model the Recognize page and the CLI read with.",
)
bar.button(
    "Roll back",
    key="train_rollback",
    on_click=_rollback,
    icon=":material/undo:",
    disabled=len(registry.history(folder)) < 2,
    help="Activate the version that was active before the current one.",
)

if len(runs) > 1 or (runs and runs[0].id != shown_id):
    with st.expander(f"All runs ({len(runs)})", icon=":material/history:"):
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Run": r.id,
                        "State": r.state,
                        "Version": r.status.version or "–",
                        "Started": _when(r.status.started or r.status.launched),
                        "Took": _duration(r.status.duration_s),
                        "Message": r.status.message or "",
                    }
                    for r in runs
                ]
            ),
            hide_index=True,
            key="train_runs",
        )
        others = [r.id for r in runs]
        view = st.selectbox(
            "Show run",
            others,
            index=others.index(shown_id) if shown_id in others else 0,
            key="train_show_run",
            disabled=live is not None,
        )
        if view != shown_id and live is None:
            st.session_state[_VIEW] = view
            st.rerun()
