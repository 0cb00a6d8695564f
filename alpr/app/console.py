"""The app's logger, with a handler of its own.

Streamlit sets up only its own "streamlit" logger: without a handler here the app's INFO lines (the
model loads, which say whether sessions share one model) would be dropped, and its warnings printed
bare. One handler per process, however often the pages import the package.
"""

from __future__ import annotations

import logging

log = logging.getLogger("alpr.app")
if not log.handlers:
    _console = logging.StreamHandler()  # stderr: the server's console and log
    _console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(_console)
    log.setLevel(logging.INFO)
