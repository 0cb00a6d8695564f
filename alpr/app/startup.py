"""What the app says when it first opens the data folder after a crash (see `alpr.app.recovery`)."""

from __future__ import annotations

import streamlit as st

from alpr.app.console import log
from alpr.app.recovery import recover
from alpr.errors import AlprError
from alpr.paths import data_dir


@st.cache_resource(show_spinner=False, max_entries=4)
def _recover(folder: str) -> tuple[str, ...]:
    notes = tuple(recover(folder))
    for note in notes:
        log.warning("recovered at start: %s", note)
    return notes


def startup_notes() -> tuple[str, ...]:
    """What this process tidied after a crash when it first opened the data folder (once per process)."""
    try:
        return _recover(str(data_dir().resolve()))
    except (OSError, AlprError) as exc:  # a data folder that cannot be read is reported by the pages that need it
        log.warning("could not check the data folder after a crash: %s", exc)
        return ()
