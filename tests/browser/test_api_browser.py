"""Who may write, in a real browser: the app served with a tokens file opens its reading pages to
everyone (ALPR_APP_OPEN_READING=1) and asks for a sign-in before Relabel."""

from __future__ import annotations

import pytest
from browser_support import (
    CHROMIUM,
    assert_no_traceback,
    chromium,
    open_app,
    streamlit_app,
)

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}, which is missing", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

WAIT_MS = 60_000


def test_relabel_asks_for_a_sign_in_and_opens_with_the_right_token(tmp_path):
    tokens = tmp_path / "app-tokens"
    tokens.write_text("operator-token\n")
    with (
        streamlit_app(
            "api-sign-in.log",
            ALPR_APP_TOKENS_FILE=str(tokens),
            ALPR_APP_OPEN_READING="1",
            ALPR_DATA_DIR=str(tmp_path / "data"),
        ) as url,
        chromium() as browser,
    ):
        with open_app(browser, url, WAIT_MS) as page:  # Recognize, a reading page, opens without a sign-in
            page.get_by_role("link", name="Relabel").click()
            page.get_by_text("Sign in to use Relabel").wait_for(timeout=WAIT_MS)
            box = page.get_by_label("Token")
            box.fill("not-the-token")
            page.get_by_role("button", name="Sign in").click()
            page.get_by_text("That token is not one of this app's tokens").wait_for(timeout=WAIT_MS)
            box.fill("operator-token")
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Relabel", exact=True).wait_for(timeout=WAIT_MS)
            page.get_by_text("Sign in to use Relabel").wait_for(state="detached", timeout=WAIT_MS)
            assert_no_traceback(page)
