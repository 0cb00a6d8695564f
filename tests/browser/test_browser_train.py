"""The Train page in a real browser: start a tiny run, watch its curves grow, reload, activate.

`streamlit run app.py` with a data folder of its own (a label store of rendered crops, the constant
model of conftest active as v2), driven by Playwright's Chromium. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from train_helpers import seed_store

from alpr.training import jobs, registry
from alpr.classify import metadata_path

from browser_support import CHROMIUM, assert_no_traceback, chromium, open_app, screenshot, streamlit_app  # noqa: E402

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}, which is missing", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

LOAD_MS = 60_000
RUN_MS = 240_000  # a run: TensorFlow's start, rendering glyphs, a few epochs on a shared CPU


@pytest.fixture(scope="module")
def data(tmp_path_factory, constant_model) -> Path:
    folder = tmp_path_factory.mktemp("browser-train") / "data"
    seed_store(folder, 40)
    meta = json.loads(metadata_path(constant_model).read_text())
    registry.register(lambda path: shutil.copyfile(constant_model, path), meta, folder)
    registry.activate("v2", folder, force=True)  # a model any fine-tune of the shipped one beats
    return folder


@pytest.fixture(scope="module")
def app_url(data):
    try:
        with streamlit_app(
            "streamlit-server-train.log", unset=("ALPR_SAMPLES_DIR", "ALPR_DATA_ROOTS"), ALPR_DATA_DIR=str(data)
        ) as url:
            yield url
    finally:
        for run in jobs.list_runs(data):  # never leave a training process behind
            if run.live:
                jobs.cancel(run.id, data)


@pytest.fixture
def page(app_url):
    with chromium() as browser, open_app(browser, app_url, LOAD_MS) as page:
        yield page


def _open_train(page) -> None:
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Train").click()
    page.get_by_text("Model registry", exact=True).wait_for(timeout=LOAD_MS)


def test_a_run_started_in_the_browser_shows_its_curves_and_its_model_can_be_activated(page, data):
    _open_train(page)
    assert page.get_by_text("No training run yet").is_visible()
    assert page.get_by_text(re.compile(r"CPU: no GPU found|GPU: ")).first.is_visible()
    form = page.locator("[data-testid=stForm]")
    form.get_by_role("spinbutton", name="Epochs, features frozen").fill("3")
    form.get_by_role("spinbutton", name="Epochs, top block unfrozen").fill("1")
    form.get_by_role("spinbutton", name="Early stopping after").fill("9")
    form.get_by_role("slider").first.focus()
    page.keyboard.press("Home")  # 4 rendered glyphs per class: a quick run
    form.locator("[data-testid=stSelectbox]").filter(has_text="Start from").locator("input").click()
    page.get_by_role("option", name=re.compile(r"^shipped")).click()
    form.get_by_role("button", name="Start training").click()

    # Live: the panel says so at once, then the curves grow epoch by epoch.
    page.get_by_role("button", name="Cancel run").wait_for(timeout=LOAD_MS)
    heading = page.locator("[data-testid=stHeading]").filter(has_text=re.compile(r"^Run \d")).first.inner_text()
    page.get_by_text(re.compile(r"Epoch \d of \d")).wait_for(timeout=RUN_MS)
    page.locator("[data-testid=stPlotlyChart]").first.wait_for(timeout=RUN_MS)
    screenshot(page, "browser-train-live")
    assert_no_traceback(page)

    # A reload finds the same run (live or just finished), from the files the trainer writes.
    page.reload()
    page.get_by_text("Model registry", exact=True).wait_for(timeout=LOAD_MS)
    assert page.locator("[data-testid=stHeading]").filter(has_text=heading).count() == 1

    page.locator("[data-testid=stAlertContentSuccess]").filter(has_text="v3 registered").wait_for(timeout=RUN_MS)
    page.get_by_role("tab", name="Per-class accuracy").click()
    page.wait_for_timeout(500)
    screenshot(page, "browser-train-done")
    assert_no_traceback(page)
    assert page.locator("[data-testid=stPlotlyChart]").count() >= 2
    run = jobs.list_runs(data)[0]
    assert run.state == "succeeded" and len(run.metrics()) == 4
    assert page.get_by_text("Run " + run.id).count() >= 1

    page.get_by_role("button", name="Activate v3").click()
    page.locator("[data-testid=stAlertContentSuccess]").filter(has_text="v3 is now the active model").wait_for(
        timeout=LOAD_MS
    )
    assert registry.active_name(data) == "v3"
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Recognize").click()
    page.get_by_text("Upload a photo, take one with the camera").wait_for(timeout=LOAD_MS)
    assert "v3" in page.locator("[data-testid=stSidebar]").inner_text()
