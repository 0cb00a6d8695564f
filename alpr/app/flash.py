"""One-line messages that an action (a widget callback) leaves for the page's next draw.

A callback runs before the page is drawn, so what it says is queued in the session and shown where
the page calls `show`. Each page has its own queue, so a message never shows on another page.
"""

from __future__ import annotations

import streamlit as st

from alpr.errors import InputError

ICONS = {
    "success": ":material/check_circle:",
    "error": ":material/error:",
    "info": ":material/info:",
    "warning": ":material/warning:",
}


def _key(page: str) -> str:
    return f"{page}_flash"


def queue(page: str) -> list[tuple[str, str]]:
    """The queue of `page` itself, kept for the whole session: a callback handed it by the page
    appends to it without touching st.session_state (alpr/app/relabel_actions.py says why)."""
    return st.session_state.setdefault(_key(page), [])


def put(messages: list[tuple[str, str]], kind: str, text: str) -> None:
    """Add `text` to a queue got from `queue`; `kind` is one of success, error, info, warning."""
    if kind not in ICONS:
        raise InputError(f"flash kind {kind!r} is not one of {', '.join(ICONS)}")
    messages.append((kind, text))


def flash(page: str, kind: str, text: str) -> None:
    """Queue `text` for `page`; `kind` is one of success, error, info, warning."""
    put(queue(page), kind, text)


def pending(page: str) -> list[tuple[str, str]]:
    """The queued (kind, text) messages of `page`, removed from the queue (emptied in place, so a
    callback holding the queue still adds to the one the page reads)."""
    messages = queue(page)
    taken = list(messages)
    messages.clear()
    return taken


def show(page: str) -> None:
    """Draw and clear the messages queued for `page`, in order."""
    for kind, text in pending(page):
        getattr(st, kind)(text, icon=ICONS[kind])
