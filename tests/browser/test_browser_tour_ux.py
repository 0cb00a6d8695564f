"""A screenshot tour of Recognize and Relabel, desktop (1440x900) and phone (390 px wide), for a
person to look at: the read above the fold, the folded "Show how it decided", a plate's crops on
Relabel and the review queue. Saved to test-artifacts/tour-*.png."""

from __future__ import annotations

import pytest
from browser_support import (
    ARTIFACTS,
    CHROMIUM,
    START_TEXT,
    assert_no_traceback,
    choose,
    chromium,
    screenshot,
    streamlit_app,
)

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}, which is missing", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

WAIT_MS = 90_000
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with streamlit_app("streamlit-server-tour.log", ALPR_DATA_DIR=str(tmp_path_factory.mktemp("tour-data"))) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.mark.parametrize("size", list(SIZES))
def test_tour_of_recognize_and_relabel(browser, app_url, size):
    context = browser.new_context(viewport=SIZES[size], device_scale_factor=1)
    page = context.new_page()
    try:
        page.goto(app_url)
        page.get_by_text(START_TEXT).wait_for(timeout=WAIT_MS)
        choose(page, "Or try a sample photo", "Synthetic photo 2")
        card = page.locator("[data-testid=stMetric]").first
        card.wait_for(timeout=WAIT_MS)
        page.locator("summary").filter(has_text="Show how it decided").wait_for(timeout=WAIT_MS)
        page.wait_for_timeout(1500)
        if size == "desktop":
            box = card.bounding_box()
            assert box["y"] + box["height"] < SIZES[size]["height"], "the plate's read is above the fold"
            page.screenshot(path=str(ARTIFACTS / "tour-recognize-desktop-fold.png"))
        screenshot(page, f"tour-recognize-{size}")
        page.locator("summary").filter(has_text="Show how it decided").click()
        page.wait_for_timeout(1500)
        screenshot(page, f"tour-recognize-decided-{size}")
        assert_no_traceback(page)

        page.get_by_role("link", name="Fix this read").first.click()
        page.get_by_text("Whole plate", exact=True).wait_for(timeout=WAIT_MS)
        page.get_by_role("tabpanel", name="Plates").locator("[placeholder='type ↵']").first.wait_for(timeout=WAIT_MS)
        page.wait_for_timeout(1500)
        screenshot(page, f"tour-relabel-{size}")
        page.get_by_role("tab", name="Review queue").click()
        page.get_by_text("least certain guesses first").wait_for(timeout=WAIT_MS)
        page.get_by_role("tabpanel", name="Review queue").locator("[placeholder='type ↵']").first.wait_for(
            timeout=WAIT_MS
        )
        page.wait_for_timeout(1000)
        screenshot(page, f"tour-relabel-queue-{size}")
        assert_no_traceback(page)
    finally:
        context.close()


PAGES = {"evaluate": "Evaluate", "train": "Train", "video": "Video", "batch": "Batch"}


@pytest.mark.parametrize("size", list(SIZES))
def test_tour_of_the_other_pages_fits_the_screen(browser, app_url, size):
    """Evaluate, Train, Video and Batch as a person first opens them: drawn whole, no traceback, and
    nothing wider than the screen (a phone scrolls down, never sideways)."""
    context = browser.new_context(viewport=SIZES[size], device_scale_factor=1)
    page = context.new_page()
    try:
        for path, title in PAGES.items():
            page.goto(app_url.rstrip("/") + "/" + path)
            page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=WAIT_MS)
            page.wait_for_timeout(2000)
            screenshot(page, f"tour-{path}-{size}")
            assert_no_traceback(page)
            overflow = page.evaluate(
                "() => { const main = document.querySelector('[data-testid=stMain]');"
                " return main.scrollWidth - main.clientWidth; }"
            )
            assert overflow <= 1, f"the {title} page is {overflow} px wider than a {size} screen"
    finally:
        context.close()
