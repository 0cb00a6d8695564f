"""Train: fine-tune the character model on the corrections, watch it learn, and pick the model that reads plates."""

import logging

import streamlit as st

from alpr import app as appstate
from alpr.training import jobs, registry
from alpr.app.train_setup import base_choices, new_run_form, registry_table, runs_table
from alpr.app.train_view import REFRESH_S, VIEW_KEY, WATCH_S, activate, rollback, run_panel, show_flashes, watch

appstate.require_router("train")

log = logging.getLogger("alpr.app")

st.title("Train")
st.markdown(
    "Fine-tune the character model on the fixes made on the **Relabel** page. A run trains in its own process "
    "(leave the page and come back: it keeps going), shows its curves as it learns, and ends as a new version in "
    "the model registry below. Activate a version to read plates with it on the **Recognize** page."
)

folder = appstate.data_dir().resolve()


# --- where things stand: device, active model, training data ----------------------------------------------

device = appstate.training_device()
store, store_error = appstate.try_store()
stats = store.stats() if store is not None else None
active_name = appstate.active_version_name()
runs = jobs.list_runs(folder)
live = next((r for r in runs if r.live), None)

show_flashes()
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


shown_id = live.id if live else st.session_state.get(VIEW_KEY) or (runs[0].id if runs else None)
if shown_id and not any(r.id == shown_id for r in runs):
    shown_id = runs[0].id if runs else None

st.space("small")
if shown_id:
    with st.container(border=True):
        panel = st.fragment(run_every=REFRESH_S if live else None)(run_panel)
        panel(shown_id, live is not None, live is not None)
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
weights = appstate.imagenet_weights()
bases = base_choices(versions, active_name, weights)
folders = appstate.training_folders(tuple(str(p) for p in appstate.data_roots()))

new_run_form(bases, folders, weights, stats, store is not None, device, live)


# --- the registry -----------------------------------------------------------------------------------------

st.subheader("Model registry", anchor=False)
st.caption(
    "Every finished run is a version; the shipped model is the first. The validation accuracy of each is on its own "
    "held-out crops; *vs active then* compares it with the model that was active when it finished, on the same crops."
)
registry_table(versions, active_name)
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
        "Although rejected",
        key="train_pick_force",
        help="It did not read clearly better than the model active when it finished.",
    )
    if rejected
    else False
)
bar.button(
    "Activate",
    key="train_activate_pick",
    on_click=activate,
    args=(pick, force),
    disabled=pick == active_name or not picked.usable or (rejected and not force),
    icon=":material/rocket_launch:",
    help="Make this version the model the Recognize page and the CLI read with.",
)
bar.button(
    "Roll back",
    key="train_rollback",
    on_click=rollback,
    icon=":material/undo:",
    disabled=len(registry.history(folder)) < 2,
    help="Activate the version that was active before the current one.",
)

if len(runs) > 1 or (runs and runs[0].id != shown_id):
    with st.expander(f"All runs ({len(runs)})", icon=":material/history:"):
        runs_table(runs)
        others = [r.id for r in runs]
        view = st.selectbox(
            "Show run",
            others,
            index=others.index(shown_id) if shown_id in others else 0,
            key="train_show_run",
            disabled=live is not None,
        )
        if view != shown_id and live is None:
            st.session_state[VIEW_KEY] = view
            st.rerun()
