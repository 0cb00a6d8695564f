"""Deep links on a fresh server.

Streamlit keeps its legacy handling of a `pages/` folder until the first run of app.py calls
st.navigation: so the very first request of a fresh server for /train runs pages/train.py on its
own, with none of app.py's sidebar. A page seeing that sends the session through app.py once and
app.py sends it on to the page asked for, query parameters included.
"""

from __future__ import annotations

import streamlit as st

from alpr.paths import REPO_ROOT

_ROUTED_KEY = "_alpr_routed"
_DEEP_LINK_KEY = "_alpr_deep_link"


def route(pages: list) -> None:
    """Called by app.py after st.navigation: this session has a router; finish a pending deep link."""
    st.session_state[_ROUTED_KEY] = True
    pending = st.session_state.pop(_DEEP_LINK_KEY, None)
    if pending:
        url_path, params = pending
        for page in pages:
            if page.url_path == url_path:
                st.switch_page(page, query_params=params or None)


def require_router(url_path: str) -> None:
    """First line of every page: when app.py did not run first, go through it to this page."""
    if not st.session_state.get(_ROUTED_KEY):
        st.session_state[_DEEP_LINK_KEY] = (url_path, st.query_params.to_dict())
        st.switch_page(str(REPO_ROOT / "app.py"))
