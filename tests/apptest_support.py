"""Checks every AppTest of a page makes: no exception, and no traceback in any text on the page."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

TEXT_ELEMENTS = ("markdown", "caption", "error", "warning", "info", "success", "title", "subheader", "toast")


def page_texts(at: AppTest) -> list[str]:
    """Every text an element of the page carries."""
    out = []
    for kind in TEXT_ELEMENTS:
        out += [str(e.value) for e in getattr(at, kind)]
    return out


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not any("Traceback" in t for t in page_texts(at))
