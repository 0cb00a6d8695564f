"""The Train page's set-up and records: the form that starts a run (what it may start from) and the
tables of the registry's versions and of the runs. The run panel is in `alpr.app.train_view`."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from alpr import app as appstate
from alpr.app.train_view import BATCH_SIZES, LEARNING_RATES, duration, say, start, when
from alpr.training import registry
from alpr.training.records import JobConfig


# --- the registry and the runs, as tables -------------------------------------------------------------------


def base_choices(versions, active_name: str, weights: dict) -> dict[str, str]:
    """What a run may start from, label -> the JobConfig's base: the active model, every usable
    version, a network pretrained on rendered glyphs, and the ImageNet backbones with local weights."""
    bases = {f"Active model ({active_name})": "active"}
    for v in reversed(versions):
        if v.usable:
            acc = f" · validation {v.val_accuracy:.1%}" if v.val_accuracy is not None else ""
            bases[f"{v.name}{' (rejected)' if v.status == registry.STATUS_REJECTED else ''}{acc}"] = v.name
    bases["New network pretrained on rendered glyphs"] = "glyphs"
    for backbone, path in weights.items():
        bases[f"ImageNet {backbone} ({path.name})"] = f"imagenet:{backbone}"
    return bases


def registry_table(versions, active_name: str) -> None:
    """Every version, newest first: status, validation, how it compared, parent, data, device, time."""
    table = []
    for v in reversed(versions):
        s = v.summary(active_name)
        comparison = s.get("comparison") or {}
        trained = registry.trained_on(s.get("data"), missing="–")
        versus = None
        if comparison.get("active"):
            versus = f"{comparison['new']['accuracy']:.1%} vs {comparison['active']['accuracy']:.1%} ({comparison['against']})"
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
                "Created": when(s["created"]),
                "Trained on": trained,
                "Device": s["device"] or "–",
                "Took": duration(s["duration_s"]),
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


def runs_table(runs) -> None:
    """Every run of the data folder, newest first."""
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Run": r.id,
                    "State": r.state,
                    "Version": r.status.version or "–",
                    "Started": when(r.status.started or r.status.launched),
                    "Took": duration(r.status.duration_s),
                    "Message": r.status.message or "",
                }
                for r in runs
            ]
        ),
        hide_index=True,
        key="train_runs",
    )


def new_run_form(
    bases: dict, folders: dict, weights: dict, stats: dict | None, has_store: bool, device: dict, live
) -> None:
    """The form that starts a run: the data (label store, folders, glyphs), the base model and the
    schedule. Submitting builds the run's JobConfig and launches it; one run at a time (LIVE)."""
    with st.form("train_form", border=True):
        data_col, model_col = st.columns(2, gap="large")
        with data_col:
            st.markdown("**Data**")
            labeled = stats["labeled"] if stats else 0
            use_store = st.checkbox(
                f"Label store · {labeled} labeled characters" + (f", {stats['pending_training']} new" if stats else ""),
                value=has_store,
                key="train_use_store",
                disabled=not has_store,
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
            activate_after = st.checkbox(
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
        st.caption(
            f"Run {live.id} is {live.state}: one run at a time per data folder. Cancel it above to start another."
        )
    if submitted:
        base = bases[base_label]
        config = JobConfig(
            epochs=int(epochs),
            unfreeze_epochs=int(unfreeze),
            batch_size=int(batch),
            patience=int(patience),
            glyphs_per_class=int(glyphs),
            use_store=bool(use_store),
            activate=bool(activate_after),
            datasets=[folders[label] for label in chosen_folders],
        )
        config.set_lr(lr)
        if base.startswith("imagenet:"):
            config.base, config.backbone = "imagenet", base.split(":", 1)[1]
            config.weights = str(weights[config.backbone])
        else:
            config.base = base
        if not use_store and not chosen_folders:
            say("warning", "No labeled data chosen: this run learns rendered glyphs only.")
        start(config)
        st.rerun()
