"""Who may call the API, and who may write in the Streamlit app.

Tokens come from $ALPR_API_TOKENS (comma- or space-separated) or a file named by
$ALPR_API_TOKENS_FILE (or `serve --tokens-file`): one token a line, `#` starts a comment. The app
reads $ALPR_APP_TOKENS_FILE, else the API's tokens, so one file can serve both faces.

The rule is the same for both: served on a loopback address with no tokens configured, nothing is
asked (one person on their own machine); with tokens configured they are always required; served on
any other address, tokens are required (the API refuses to start without them, the app keeps writes
locked until the operator sets a file).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from alpr.api.settings import is_loopback
from alpr.errors import AlprError

TOKENS_ENV = "ALPR_API_TOKENS"
TOKENS_FILE_ENV = "ALPR_API_TOKENS_FILE"
APP_TOKENS_FILE_ENV = "ALPR_APP_TOKENS_FILE"
# Set to 1 to let people who have not signed in use the reading pages (Recognize, Evaluate) of an
# app that asks for a sign-in; Relabel, Train, model activation and every write still ask.
APP_OPEN_READING_ENV = "ALPR_APP_OPEN_READING"
# The app's pages that change something: the label store (Relabel, Watch list) and the models (Train, activation).
WRITE_PAGES = frozenset({"relabel", "train", "watchlist"})
_SIGNED_IN_KEY = "_alpr_signed_in"


class AuthError(AlprError):
    """A token source the operator set cannot be used (unreadable file, no token in it)."""


def read_tokens_file(path: str | os.PathLike) -> frozenset[str]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise AuthError(
            f"cannot read the tokens file {path}: {exc.strerror or exc}; create it with one token per line"
        ) from None
    tokens = frozenset(line.split("#", 1)[0].strip() for line in text.splitlines()) - {""}
    if not tokens:
        raise AuthError(f"the tokens file {path} holds no token; put one token per line")
    return tokens


def api_tokens(tokens_file: str | None = None) -> frozenset[str]:
    """The API's tokens: the file given, else $ALPR_API_TOKENS_FILE, plus $ALPR_API_TOKENS."""
    tokens = frozenset(t for t in os.environ.get(TOKENS_ENV, "").replace(",", " ").split() if t)
    path = tokens_file or os.environ.get(TOKENS_FILE_ENV)
    if path:
        tokens |= read_tokens_file(path)
    return tokens


def token_matches(given: str | None, tokens: frozenset[str]) -> bool:
    """Whether `given` is one of `tokens`, in time that does not depend on where they differ."""
    if not given:
        return False
    digest = hashlib.sha256(given.encode()).digest()
    found = False
    for token in tokens:  # every token is compared, so the time says nothing about which matched
        found |= hmac.compare_digest(digest, hashlib.sha256(token.encode()).digest())
    return found


def header_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Token T` header (Plate Recognizer's form; `Bearer T` too)."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() in ("token", "bearer") and value.strip() else None


# ---------------------------------------------------------------------------------- the app


def app_tokens() -> frozenset[str]:
    """The app's sign-in tokens: $ALPR_APP_TOKENS_FILE, else the API's; empty when none is set.
    An unreadable file gives no tokens, so writes stay locked rather than open."""
    try:
        path = os.environ.get(APP_TOKENS_FILE_ENV)
        return read_tokens_file(path) if path else api_tokens()
    except AuthError:
        return frozenset()


def _app_sign_in_configured() -> bool:
    return bool(os.environ.get(APP_TOKENS_FILE_ENV) or os.environ.get(TOKENS_FILE_ENV) or os.environ.get(TOKENS_ENV))


def app_sign_in_required(address: str | None) -> bool:
    """The app asks for a sign-in when tokens are configured, or when served beyond this machine."""
    return _app_sign_in_configured() or not is_loopback(address)


def _address() -> str | None:
    import streamlit as st

    return st.get_option("server.address")


def may_write() -> bool:
    """Whether this browser session may change anything (label store, models)."""
    import streamlit as st

    return not app_sign_in_required(_address()) or bool(st.session_state.get(_SIGNED_IN_KEY))


def guard(page) -> None:
    """Called by app.py after st.navigation: a page that writes (or any page, unless the operator
    opened reading) shows a sign-in form instead of itself until this session has signed in."""
    import streamlit as st

    if may_write():
        return
    writes = page.url_path in WRITE_PAGES
    if not writes and os.environ.get(APP_OPEN_READING_ENV) == "1":
        return
    _sign_in_form(st, page.title)
    st.stop()


def _sign_in_form(st, title: str) -> None:
    st.title(f"Sign in to use {title}")
    tokens = app_tokens()
    if not tokens:
        st.error(
            f"This app is served on {_address() or 'every address'}, where anyone who reaches it could change the "
            f"labels and models, and no sign-in is set up: the operator sets {APP_TOKENS_FILE_ENV} to a file of "
            "tokens (one a line) and restarts it.",
            icon=":material/lock:",
        )
        return
    st.markdown(
        "Relabeling, training and activating models change what the reader learns: sign in with a token the operator gave you."
    )
    with st.form("alpr_sign_in"):
        token = st.text_input("Token", type="password", key="alpr_sign_in_token")
        if st.form_submit_button("Sign in", type="primary"):
            if token_matches(token.strip(), tokens):
                st.session_state[_SIGNED_IN_KEY] = True
                st.rerun()
            st.error("That token is not one of this app's tokens.", icon=":material/lock:")
