"""The Watch list page in a real browser, served with a tokens file as on a shared machine: it asks
for a sign-in, then imports a CSV as it is chosen (a file with bad rows imports nothing and names its lines), adds a
plate with the form, exports the list; screenshots at laptop and phone width go to test-artifacts/."""

from __future__ import annotations

import pytest
from browser_support import CHROMIUM, assert_no_traceback, chromium, open_app, screenshot, streamlit_app

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}, which is missing", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

from alpr.labels import LabelStore  # noqa: E402
from alpr.watchlist import WatchEntry  # noqa: E402

WAIT_MS = 60_000
GOOD = 'plate,name,alert\nABC1234,Alice\'s van,yes\nXYZ987,neighbour,no\n7KLM555,"Smith, J (delivery)",no\n'
BAD = "plate,name,alert\nDEF456,fine,no\n,nobody,no\nGHI789,maybe,perhaps\n"


def test_the_watch_list_page_behind_the_sign_in(tmp_path):
    tokens = tmp_path / "app-tokens"
    tokens.write_text("operator-token\n")
    (tmp_path / "good.csv").write_text(GOOD)
    (tmp_path / "bad.csv").write_text(BAD)
    data = tmp_path / "data"
    with (
        streamlit_app(
            "watchlist-browser.log",
            ALPR_APP_TOKENS_FILE=str(tokens),
            ALPR_APP_OPEN_READING="1",
            ALPR_DATA_DIR=str(data),
        ) as url,
        chromium() as browser,
        open_app(browser, url, WAIT_MS) as page,
    ):
        page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Watch list").click()
        page.get_by_text("Sign in to use Watch list").wait_for(timeout=WAIT_MS)
        page.get_by_label("Token").fill("operator-token")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Watch list", exact=True).wait_for(timeout=WAIT_MS)
        page.get_by_text("No plate is listed yet").wait_for(timeout=WAIT_MS)

        # Each import draws a new, empty upload box with a new key (watchlist_upload_<imports done>): a file
        # is chosen in the box of that key, never in the one an import is replacing.
        page.locator(".st-key-watchlist_upload_0 input[type=file]").set_input_files(str(tmp_path / "bad.csv"))
        refused = page.locator("[data-testid=stAlertContentError]").filter(has_text="nothing was imported")
        refused.wait_for(timeout=WAIT_MS)
        assert "line 3:" in refused.inner_text() and "line 4:" in refused.inner_text()
        assert "line 2:" not in refused.inner_text()
        with LabelStore.open(data) as store:
            assert store.watchlist() == ()

        second_box = page.locator(".st-key-watchlist_upload_1 input[type=file]")
        second_box.wait_for(state="attached", timeout=WAIT_MS)
        second_box.set_input_files(str(tmp_path / "good.csv"))
        page.get_by_text("3 listed plates").wait_for(timeout=WAIT_MS)

        page.get_by_role("textbox", name="Plate", exact=True).fill("8ROWN21")
        page.get_by_role("textbox", name="Name").fill("Brown's pickup")
        page.get_by_role("button", name="Add", exact=True).click()
        page.get_by_text("4 listed plates").wait_for(timeout=WAIT_MS)
        page.get_by_role("textbox", name="Try a read").fill("A8C1234")
        page.get_by_role("textbox", name="Try a read").press("Enter")
        page.get_by_text("Watch list alert: Alice's van").wait_for(timeout=WAIT_MS)
        with page.expect_download() as download:
            page.get_by_role("button", name="Export").click()
        exported = download.value.path().read_text()
        assert_no_traceback(page)
        screenshot(page, "watchlist-desktop")
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(1000)
        screenshot(page, "watchlist-phone")

    with LabelStore.open(data) as store:
        assert store.watchlist() == (
            WatchEntry("7KLM555", "Smith, J (delivery)", False),
            WatchEntry("8ROWN21", "Brown's pickup", False),
            WatchEntry("ABC1234", "Alice's van", True),
            WatchEntry("XYZ987", "neighbour", False),
        )
    assert exported.splitlines()[0] == "plate,name,alert" and '7KLM555,"Smith, J (delivery)",no' in exported
