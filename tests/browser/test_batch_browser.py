"""The Batch page in a real browser: a results folder under the data roots, its counts and charts,
a screenshot at laptop and phone width, and a row opened in full on the Recognize page.

The results are written by the batch writer from hand-made rows (the page only reads them), for
two rendered photos inside the data root and one unusable file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import (
    CHROMIUM,
    assert_no_traceback,
    choose,
    chromium,
    open_app,
    screenshot,
    streamlit_app,
)
from conftest import make_scene
from PIL import Image

from alpr.batch.rows import BoxRow, CandidateRow, PhotoRow, PlateRow
from alpr.batch.writers import open_writer

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}, which is missing", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

LOAD_MS = 60_000


def plate_row(text: str, confidence: float, box) -> PlateRow:
    return PlateRow(text, confidence, BoxRow(box.x, box.y, box.w, box.h), (CandidateRow(text, confidence, True),), ())


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("batch-root")
    (root / "photos").mkdir()
    rows = []
    for name, text, seed, conf in (("car_a.jpg", "ABC1234", 2, 92.5), ("car_b.jpg", "7ABC123", 3, 71.0)):
        scene = make_scene(text, seed)
        Image.fromarray(scene.image).save(root / "photos" / name, quality=92)
        rows.append(PhotoRow(str(root / "photos" / name), 960, 640, (plate_row(text, conf, scene.box),), 410.0))
    rows.append(
        PhotoRow(str(root / "photos" / "notes.jpg"), None, None, (), 3.0, "notes.jpg is not an image Pillow can read")
    )
    with open_writer(root / "batches" / "toll.parquet", resume=False) as writer:
        writer.write(rows)
    return root


def test_the_batch_page_shows_a_results_folder_and_opens_a_row_in_recognize(root):
    with (
        streamlit_app("streamlit-server-batch.log", unset=("ALPR_SAMPLES_DIR",), ALPR_DATA_ROOTS=str(root)) as url,
        chromium() as browser,
        open_app(browser, url, LOAD_MS) as page,
    ):
        page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Batch").click()
        page.get_by_text("Choose a results file or upload one.").wait_for(timeout=LOAD_MS)
        choose(page, "Results in the data folders", f"{root.name}/batches/toll.parquet")
        page.get_by_text("Confidence of every plate read").wait_for(timeout=LOAD_MS)

        metrics = dict(
            zip(
                page.locator("[data-testid=stMetricLabel]").all_inner_texts(),
                page.locator("[data-testid=stMetricValue]").all_inner_texts(),
            )
        )
        assert metrics == {"Photos": "3", "Read": "2", "Unusable": "1", "Plates": "2", "Without a plate": "0"}
        assert_no_traceback(page)
        screenshot(page, "batch-desktop")
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(1000)
        screenshot(page, "batch-phone")
        page.set_viewport_size({"width": 1440, "height": 900})

        choose(page, "Open a photo on the Recognize page", f"{root / 'photos' / 'car_b.jpg'} · 7ABC123")
        page.get_by_role("link", name="Open in Recognize").click()
        page.locator("[data-testid=stHeading]").filter(has_text="car_b.jpg").wait_for(timeout=LOAD_MS)
        assert_no_traceback(page)
