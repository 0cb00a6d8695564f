"""The Video page driven headless with AppTest: the rendered sample clip gives one row per car,
picking a car shows the frames that read it, and "Fix this read" stores its best frame."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from apptest_support import assert_clean
from streamlit.testing.v1 import AppTest

from alpr.labels import LabelStore

APP = str(Path(__file__).resolve().parents[2] / "app.py")
SAMPLE_PLATES = ["ABC1234", "7XYZ432", "KLM5678"]  # what alpr.video.app.sample_clip draws


@pytest.fixture(scope="module")
def page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page("pages/video.py").run()
    assert_clean(at)
    assert at.title[0].value == "Video"
    at.toggle(key="video_sample").set_value(True).run()
    return at


def _one(elements, prefix: str):
    """The one widget whose key starts with `prefix` (keys end in the clip's digest and the car)."""
    found = [e for e in elements if (e.key or "").startswith(prefix)]
    assert len(found) == 1, [e.key for e in elements]
    return found[0]


def test_the_page_asks_for_a_clip_and_says_why_there_is_no_live_camera():
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/video.py").run()
    assert_clean(at)
    assert any("Upload a clip" in i.value and "WebRTC" in i.value for i in at.info)


def test_the_sample_clip_shows_one_row_per_car_with_its_plate(page):
    assert_clean(page)
    table = page.dataframe[0].value
    assert list(table["Plate"]) == SAMPLE_PLATES
    assert list(table["Direction"]) == ["right", "left", "right"]
    assert all(table["Frames"] >= 5)


def test_picking_a_car_shows_the_frames_that_read_it(page):
    _one(page.selectbox, "video_pick_").set_value(1).run()
    assert_clean(page)
    reads = page.dataframe[1].value
    # A car half out of the frame reads part of its plate: most frames, not all, read it whole.
    assert len(reads) >= 5 and (reads["Read"] == "7XYZ432").sum() > len(reads) / 2
    assert list(reads["Agrees"]) == list(reads["Read"] == "7XYZ432")
    frame_times = _one(page.select_slider, "video_frame_").value
    assert reads["Time (s)"].min() <= frame_times <= reads["Time (s)"].max()
    assert page.get("plotly_chart")


def test_fix_this_read_stores_the_best_frame_and_links_to_relabel(page):
    _one(page.button, "video_fix_").click().run()
    assert_clean(page)
    links = page.get("page_link")
    assert links and "plate=" in str(links[0].proto)


def test_a_vehicle_on_the_watch_list_is_marked_in_the_table_and_above_its_frames(page):
    data = os.environ["ALPR_DATA_DIR"]  # the session's private data folder, which the page reads
    with LabelStore.open(data) as store:
        store.watch_add("7XYZ432", "the blue van", alert=True)
    try:
        _one(page.selectbox, "video_pick_").set_value(1).run()
        assert_clean(page)
        assert list(page.dataframe[0].value["Watch list"]) == ["", "🔔 the blue van", ""]
        badges = [m.value for m in page.markdown if "-badge[" in m.value]
        assert any(":red-badge[" in b and "the blue van" in b for b in badges)
    finally:
        with LabelStore.open(data) as store:
            store.watch_remove("7XYZ432")
