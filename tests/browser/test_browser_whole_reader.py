"""The whole-plate reader's panel in a real browser: its read and per-character confidence beside
the character pipeline's, and which string won and why. A screenshot goes to test-artifacts/."""

from __future__ import annotations

import numpy as np
import pytest

from alpr.imageio import encode_png
from alpr.pipeline import recognize
from alpr.plate_reader import DEFAULT_MODEL
from alpr.synth import render_scene

from browser_support import CHROMIUM, assert_no_traceback, chromium, open_app, screenshot, streamlit_app  # noqa: E402

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}, which is missing", allow_module_level=True)
if not DEFAULT_MODEL.is_file():
    pytest.skip("no whole-plate reader is shipped in models/", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

READ_TIMEOUT_MS = 60_000


def test_the_recognize_page_shows_the_whole_plate_readers_read_and_why(tmp_path, monkeypatch):
    monkeypatch.setenv("ALPR_PLATE_READER", str(DEFAULT_MODEL))  # tests read without it otherwise
    image, _ = render_scene("4KXM218", np.random.default_rng(11), "us")
    photo = tmp_path / "street.png"
    photo.write_bytes(encode_png(image))
    read = recognize(image, country="us", topn=10).plates[0]
    assert read.whole is not None

    with (
        streamlit_app("streamlit-whole-reader.log", ALPR_PLATE_READER=str(DEFAULT_MODEL)) as url,
        chromium() as browser,
    ):
        with open_app(browser, url, READ_TIMEOUT_MS) as page:
            page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files([str(photo)])
            heading = page.get_by_text("What the whole-plate reader saw")
            heading.wait_for(timeout=READ_TIMEOUT_MS)
            heading.scroll_into_view_if_needed()
            page.get_by_text(f"Whole-plate reader: {read.whole.text}").first.wait_for(timeout=READ_TIMEOUT_MS)
            assert page.get_by_text(read.why).is_visible()
            assert_no_traceback(page)
            screenshot(page, "whole-plate-reader")
