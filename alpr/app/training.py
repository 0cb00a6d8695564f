"""What the Train page asks of the machine and the data folder: the device a run will use, the
ImageNet weights at hand, and the folders a run may add."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from alpr.paths import folder_choices, keras_cache
from alpr.training import jobs


@st.cache_resource(show_spinner=False)
def training_device() -> dict:
    """The device a training run will use, as the Keras backend sees it from this process (the run is
    another process on the same machine, with the same KERAS_BACKEND): {"gpu": bool, "name", "gpus": [...], "line"}."""
    from alpr.framework import devices

    found = devices()
    names = list(found.accelerators)
    cores = os.cpu_count() or 1
    if names:
        parallel = {"jax": "keras.distribution.DataParallel", "tensorflow": "MirroredStrategy"}.get(
            found.backend, "data parallel"
        )
        extra = "mixed precision" + (f", {parallel} over {len(names)} GPUs" if len(names) > 1 else "")
        return {"gpu": True, "name": ", ".join(names), "gpus": names, "line": f"GPU: {', '.join(names)} ({extra})"}
    return {
        "gpu": False,
        "name": "CPU",
        "gpus": [],
        "line": f"CPU: no GPU found · {cores} cores · Keras backend {found.backend}",
    }


def imagenet_weights() -> dict[str, Path]:
    """Backbone -> ImageNet weights file in the Keras cache (~/.keras/models), for those present."""
    cache = keras_cache()
    out = {}
    for backbone in ("mobilenet_v2", "inception_v3"):
        files = sorted(cache.glob(f"{backbone}*notop*.h5")) if cache.is_dir() else []
        if files:
            out[backbone] = files[0]
    return out


@st.cache_data(ttl=30, show_spinner=False)
def training_folders(roots: tuple[str, ...]) -> dict[str, str]:
    """Picker label -> folder, for the exports and labeled plate folders a run may add."""
    return folder_choices([Path(r) for r in roots], lambda root: jobs.training_folders([root]))
