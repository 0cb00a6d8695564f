"""The app in a real browser: `streamlit run app.py` driven by Playwright's Chromium.

What AppTest cannot see: the upload widget's real HTTP path, the rendered page text, and how it
looks. Full-page screenshots go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alpr.imageio import encode_png
from alpr.pipeline import recognize
from alpr.synth import random_plate_text, render_scene

from browser_support import CHROMIUM, assert_no_traceback, choose, chromium, open_app, screenshot, streamlit_app  # noqa: E402

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}, which is missing", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

READ_TIMEOUT_MS = 60_000  # the first read of a session traces the model's graph: a few seconds on a CPU


@pytest.fixture(scope="module")
def app_url():
    """A `streamlit run app.py` of this checkout on a free port, stopped after the module's tests."""
    with streamlit_app("streamlit-server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser, app_url):
    """A fresh session of the app at a laptop-sized window, with the start page loaded."""
    with open_app(browser, app_url, READ_TIMEOUT_MS) as page:
        yield page


def _upload(page, *paths: Path) -> None:
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files([str(p) for p in paths])


def _wait_for_section(page, name: str) -> None:
    page.locator("[data-testid=stHeading]").filter(has_text=name).wait_for(timeout=READ_TIMEOUT_MS)
    page.locator("summary").filter(has_text="Show how it decided").wait_for(timeout=READ_TIMEOUT_MS)


def test_uploaded_photo_shows_what_the_pipeline_reads(page, tmp_path):
    image, _ = render_scene("4KXM218", np.random.default_rng(11), "us")
    photo = tmp_path / "street.png"
    photo.write_bytes(encode_png(image))
    rec = recognize(image, country="us", topn=10)

    _upload(page, photo)
    _wait_for_section(page, "street.png")
    page.locator("[data-testid=stPlotlyChart]").first.wait_for(timeout=READ_TIMEOUT_MS)
    screenshot(page, "browser-upload")

    assert_no_traceback(page)
    metrics = page.locator("[data-testid=stMetricValue]")
    if rec.plates:
        best_first = sorted(rec.plates, key=lambda p: -p.confidence)
        assert metrics.all_inner_texts() == [p.plate or "?" for p in best_first]
    else:
        assert page.get_by_text("No plate found in street.png").is_visible()
    assert page.get_by_role("button", name="OpenALPR JSON").is_visible()


def test_text_file_named_jpg_gets_a_clear_error_and_no_traceback(page, tmp_path):
    fake = tmp_path / "notes.jpg"
    fake.write_text("Agenda: 1. plates 2. more plates\n")

    _upload(page, fake)
    error = page.locator("[data-testid=stAlertContentError]")
    error.first.wait_for(timeout=READ_TIMEOUT_MS)
    screenshot(page, "browser-bad-upload")

    assert "notes.jpg is not an image" in error.first.inner_text()
    assert "JPEG, PNG" in error.first.inner_text()  # says what would work
    assert_no_traceback(page)


def test_sample_photo_is_read_and_drawn(page):
    choose(page, "Or try a sample photo", "Synthetic photo 3")
    _wait_for_section(page, "synthetic-3.png")
    page.locator("[data-testid=stPlotlyChart]").first.wait_for(timeout=READ_TIMEOUT_MS)
    screenshot(page, "browser-sample")

    assert_no_traceback(page)
    assert page.get_by_text("This sample was drawn with the plate").is_visible()
    assert page.locator("[data-testid=stPlotlyChart]").count() >= 2


def test_a_batch_of_photos_shows_a_summary_table_and_opens_any_photo_in_full(page, tmp_path):
    paths = []
    for i in range(9):
        rng, style = np.random.default_rng(40 + i), ("us", "eu", "br")[i % 3]
        image, _ = render_scene(random_plate_text(rng, style), rng, style)
        paths.append(tmp_path / f"car {i + 1:02d}.png")
        paths[-1].write_bytes(encode_png(image))
    paths.insert(4, tmp_path / "notes.jpg")
    paths[4].write_text("Agenda: 1. plates 2. more plates\n")

    _upload(page, *paths)
    page.locator("[data-testid=stHeading]").filter(has_text="10 photos").wait_for(timeout=READ_TIMEOUT_MS)
    page.locator("[data-testid=stDataFrame]").wait_for(timeout=READ_TIMEOUT_MS)
    assert page.locator("[data-testid=stMetricValue]").first.inner_text() == "9 of 10"
    # The button is drawn after the table: on a busy CPU the check ran before it (one CI run in four).
    download = page.get_by_role("button", name="Download table as CSV")
    download.wait_for(state="visible", timeout=READ_TIMEOUT_MS)
    assert download.is_visible()

    choose(page, "Open a photo", "2. car 02.png")
    _wait_for_section(page, "car 02.png")
    page.locator("[data-testid=stPlotlyChart]").first.wait_for(timeout=READ_TIMEOUT_MS)
    screenshot(page, "browser-batch")

    assert_no_traceback(page)
    assert page.locator("[data-testid=stHeading]").filter(has_text=".png").all_inner_texts() == ["car 02.png"]
    assert page.get_by_role("button", name="OpenALPR JSON").is_visible()
