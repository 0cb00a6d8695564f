"""Relabeling in a real browser: read a photo, fix a character on the Relabel page, and find the fix
in `python -m alpr labels stats`; then evaluate a labeled folder and send an error to the queue.

`streamlit run app.py` with its own label store and data root in temporary folders, driven by
Playwright's Chromium. Full-page screenshots go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alpr.labels.store import LabelStore

from browser_support import (
    CHROMIUM,
    ROOT,
    assert_no_traceback,
    choose,
    chromium,
    first_char_box,
    open_app,
    screenshot,
    streamlit_app,
)  # noqa: E402

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}, which is missing", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

WAIT_MS = 60_000


@pytest.fixture(scope="module")
def folders(tmp_path_factory, benchmark_dir, constant_model) -> dict[str, Path]:
    """The label store's folder (with the constant model in its models/, so evaluation has errors
    to send whatever the shipped model reads) and the data root holding the benchmark folder."""
    import shutil

    data = tmp_path_factory.mktemp("browser-data")
    (data / "models").mkdir()
    for suffix in (".keras", ".json"):
        shutil.copy(constant_model.with_suffix(suffix), data / "models" / f"constant{suffix}")
    return {"data": data, "roots": benchmark_dir}


@pytest.fixture(scope="module")
def app_url(folders):
    """The app on a free port, with ALPR_DATA_DIR and ALPR_DATA_ROOTS in temporary folders."""
    with streamlit_app(
        "streamlit-server-relabel.log", ALPR_DATA_DIR=str(folders["data"]), ALPR_DATA_ROOTS=str(folders["roots"])
    ) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser, app_url):
    with open_app(browser, app_url, WAIT_MS) as page:
        yield page


def _labels_stats(data_dir: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "alpr", "labels", "stats", "--json", "--data-dir", str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)


def test_a_character_corrected_in_the_browser_is_counted_by_labels_stats(page, folders):
    choose(page, "Or try a sample photo", "Synthetic photo 1")
    page.locator("summary").filter(has_text="Show how it decided").wait_for(timeout=WAIT_MS)
    link = page.get_by_role("link", name="Fix this read").first
    link.wait_for(timeout=WAIT_MS)
    link.click()  # click 1: from the read to its crops
    page.get_by_text("Whole plate", exact=True).wait_for(timeout=WAIT_MS)
    page.locator("[data-testid=stPlotlyChart]").first.wait_for(timeout=WAIT_MS)
    assert_no_traceback(page)

    with LabelStore.open(folders["data"]) as store:
        plate = store.recent_plates(1)[0]
        first = store.plate_chars(plate.id)[0]
    assert first.label == first.pred_char and first.source == "model"
    fix = "X" if first.pred_char != "X" else "Y"
    box = first_char_box(page)
    box.fill(fix)
    box.press("Enter")  # then type the right class and press Enter
    page.get_by_text(f"Character 1 labeled {fix}").wait_for(timeout=WAIT_MS)
    page.get_by_text("corrected").first.wait_for(timeout=WAIT_MS)
    screenshot(page, "browser-relabel")
    assert_no_traceback(page)

    stats = _labels_stats(folders["data"])
    assert stats["labeled"] >= 1
    assert stats["per_class"][fix] == 1
    assert stats["corrections"] == 1 and stats["pending_training"] >= 1

    page.get_by_role("tab", name="Review queue").click()
    page.get_by_text("least certain guesses first").wait_for(timeout=WAIT_MS)
    screenshot(page, "browser-relabel-queue")
    page.get_by_role("tab", name="Counts").click()
    page.get_by_text("waiting for training").first.wait_for(timeout=WAIT_MS)
    screenshot(page, "browser-relabel-counts")
    assert_no_traceback(page)


def test_an_evaluation_error_is_sent_to_the_relabel_queue(page, app_url, folders):
    page.goto(app_url + "evaluate")
    page.get_by_text("Choose a labeled folder").first.wait_for(timeout=WAIT_MS)
    folder = page.locator("[data-testid=stSelectbox]").filter(has_text="Folder")
    folder.locator("input").click()
    page.get_by_role("option", name=folders["roots"].name, exact=True).click()
    compare = page.locator("[data-testid=stSelectbox]").filter(has_text="Compare with")
    compare.locator("input").click()
    page.get_by_role("option", name="constant.keras", exact=False).click()
    page.get_by_role("button", name="Run evaluation").click()
    page.get_by_role("tab", name="Errors").wait_for(timeout=WAIT_MS)
    screenshot(page, "browser-evaluate")
    assert_no_traceback(page)

    page.get_by_role("tab", name="Confusion matrix").click()
    page.wait_for_timeout(500)
    screenshot(page, "browser-evaluate-confusion")
    page.locator("[data-testid=stButtonGroup]").get_by_text("constant-A").click()
    page.get_by_role("tab", name="Errors").click()
    sends = page.get_by_role("button", name="Send to relabel queue")
    sends.first.wait_for(timeout=WAIT_MS)
    screenshot(page, "browser-evaluate-errors")
    before = _labels_stats(folders["data"])["plates"]
    sends.first.click()
    page.get_by_role("link", name="In the queue: plate").first.wait_for(timeout=WAIT_MS)
    assert_no_traceback(page)
    assert _labels_stats(folders["data"])["plates"] == before + 1
