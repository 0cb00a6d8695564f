"""A person's first visit, page by page, in a real browser: the end-to-end suite over every page.

A fresh server with an empty data folder (no label store, no registry, no training run yet), the
shipped model, and a data root holding a small labeled folder drawn by `alpr.synth`. The person
arrives through a link to a page deep inside the app, then reads a sample photo on Recognize,
fixes a character on Relabel, measures the model on Evaluate and finds the fix waiting on Train.
Each step leaves a full-page screenshot in test-artifacts/journey-*.png. Starting a training run
from the browser is test_browser_train.py's job (it takes a minute more).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alpr.labels.store import LabelStore

from browser_support import CHROMIUM, assert_no_traceback, choose, chromium, first_char_box, screenshot, streamlit_app  # noqa: E402

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}, which is missing", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

WAIT_MS = 60_000


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, benchmark_dir) -> dict:
    """A server that has answered nobody yet, its empty data folder, and one browser window."""
    data = tmp_path_factory.mktemp("journey-data")
    with (
        streamlit_app(
            "streamlit-server-journey.log", ALPR_DATA_DIR=str(data), ALPR_DATA_ROOTS=str(benchmark_dir)
        ) as url,
        chromium() as browser,
    ):
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        yield {"url": url, "data": data, "roots": benchmark_dir, "page": context.new_page()}
        context.close()


def test_1_a_link_to_a_page_opens_it_with_the_whole_app_on_a_fresh_server(fresh):
    # Must be the server's first request: Streamlit's legacy pages/ handling lasts until then.
    page = fresh["page"]
    page.goto(fresh["url"] + "train?from=mail")
    page.get_by_text("Training device").wait_for(timeout=WAIT_MS)
    nav = page.locator("[data-testid=stSidebarNav]")
    # Each link reads "<icon name>\n\n<title>"; the legacy layout would list app, evaluate, recognize, ...
    titles = [link.inner_text().splitlines()[-1] for link in nav.get_by_role("link").all()]
    assert titles == ["Recognize", "Relabel", "Evaluate", "Train", "Video", "Batch", "Watch list"]
    page.locator("[data-testid=stSidebar]").get_by_text("Plate reader").wait_for(timeout=WAIT_MS)
    assert page.url.endswith("/train?from=mail")
    screenshot(page, "journey-1-deep-link-train")
    assert_no_traceback(page)


def test_2_recognize_reads_a_sample_photo(fresh):
    page = fresh["page"]
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Recognize").click()
    choose(page, "Or try a sample photo", "Synthetic photo 1")
    page.locator("summary").filter(has_text="Show how it decided").wait_for(timeout=WAIT_MS)
    page.get_by_text("What the classifier saw").first.wait_for(timeout=WAIT_MS)
    screenshot(page, "journey-2-recognize")
    assert_no_traceback(page)


def test_3_relabel_takes_a_correction(fresh):
    page = fresh["page"]
    page.get_by_role("link", name="Fix this read").first.click()
    page.get_by_text("Whole plate", exact=True).wait_for(timeout=WAIT_MS)
    with LabelStore.open(fresh["data"]) as store:
        first = store.plate_chars(store.recent_plates(1)[0].id)[0]
    fix = "X" if first.pred_char != "X" else "Y"
    box = first_char_box(page)
    box.fill(fix)
    box.press("Enter")
    page.get_by_text(f"Character 1 labeled {fix}").wait_for(timeout=WAIT_MS)
    screenshot(page, "journey-3-relabel")
    assert_no_traceback(page)
    with LabelStore.open(fresh["data"]) as store:
        assert store.plate_chars(first.plate_id)[0].label == fix


def test_4_evaluate_measures_the_model_on_a_labeled_folder(fresh):
    page = fresh["page"]
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Evaluate").click()
    page.get_by_text("Choose a labeled folder").first.wait_for(timeout=WAIT_MS)
    folder = page.locator("[data-testid=stSelectbox]").filter(has_text="Folder")
    folder.locator("input").click()
    page.get_by_role("option", name=Path(fresh["roots"]).name, exact=True).click()
    page.get_by_role("button", name="Run evaluation").click()
    page.get_by_role("tab", name="Errors").wait_for(timeout=WAIT_MS)
    screenshot(page, "journey-4-evaluate")
    assert_no_traceback(page)


def test_5_train_shows_the_correction_waiting_for_training(fresh):
    page = fresh["page"]
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Train").click()
    page.get_by_text("Training device").wait_for(timeout=WAIT_MS)
    page.get_by_text("1 new since the last training").wait_for(timeout=WAIT_MS)
    page.get_by_role("button", name="Start training").wait_for(timeout=WAIT_MS)
    screenshot(page, "journey-5-train")
    assert_no_traceback(page)
