"""The Video page in a real browser: upload a rendered clip, see one row per car, pick one and see
the frames that read it. Screenshots (desktop 1440x900 and a 390 px phone) go to test-artifacts/."""

from __future__ import annotations

import pytest
from browser_support import (
    CHROMIUM,
    assert_no_traceback,
    choose,
    chromium,
    screenshot,
    streamlit_app,
)

from alpr.video import synthclip

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}, which is missing", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

PLATES = ("ABC1234", "7XYZ432", "KLM5678")
READ_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    cars = synthclip.traffic(8.0, plates=PLATES)
    path = tmp_path_factory.mktemp("clips") / "three cars.mp4"
    return synthclip.encode(synthclip.render_frames(cars, size=(640, 360), seconds=8.0), path)


def test_upload_a_clip_see_each_car_and_the_frames_of_one(clip):
    with streamlit_app("streamlit-video.log") as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.goto(url + "video")
        page.get_by_text("Upload a clip or use the sample").wait_for(timeout=READ_TIMEOUT_MS)
        page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(clip))
        page.get_by_text("vehicle(s)").first.wait_for(timeout=READ_TIMEOUT_MS)
        main = page.locator("[data-testid=stMain]")
        assert "3 vehicle(s)" in main.locator("[data-testid=stCaptionContainer]").first.inner_text()

        choose(page, "Vehicle", "Vehicle 2 · 7XYZ432")
        page.get_by_text("Frames that read vehicle 2").wait_for(timeout=READ_TIMEOUT_MS)
        assert "voted 7XYZ432" in page.locator("body").inner_text()
        picker = page.locator("[data-testid=stSelectbox]").filter(has_text="Vehicle")
        picker.locator("input").click()
        options = page.get_by_role("option").all_inner_texts()
        page.keyboard.press("Escape")
        assert [o.split(" · ")[1] for o in options] == list(PLATES)
        # The slider starts at the vehicle's best frame: its overlay carries that car's read, not
        # the previous car's (which stays on screen, greyed, until the rerun draws the new frame).
        page.locator(".js-plotly-plot").filter(has_text="7XYZ432").wait_for(timeout=READ_TIMEOUT_MS)
        page.locator("[data-testid=stStatusWidget]").filter(has_text="Running").wait_for(
            state="detached", timeout=READ_TIMEOUT_MS
        )
        assert_no_traceback(page)
        screenshot(page, "video-desktop")

        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(1500)
        assert_no_traceback(page)
        screenshot(page, "video-phone")
        context.close()
