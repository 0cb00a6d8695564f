"""The Recognize page driven headless with Streamlit's AppTest: loads, reads, and never shows a traceback.

Expected plate strings come from calling the pipeline on the same bytes in the test, so these tests
check that the page shows what the pipeline read, whatever the current model reads.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from apptest_support import assert_clean
from alpr import appstate
from alpr.imageio import load_image
from alpr.pipeline import recognize

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 60


def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    return at


def _plotly_charts(at: AppTest) -> list:
    return at.get("plotly_chart")


@pytest.fixture(scope="module")
def sample():
    """The first sample photo as the page gets it, and what the pipeline reads in it."""
    photo = appstate.synthetic_samples()[0]
    rec = recognize(load_image(photo.data, name=photo.name), country="us", topn=10)
    return photo, rec


def test_app_loads_and_asks_for_a_photo():
    at = _app()
    assert_clean(at)
    assert at.title[0].value == "Recognize"
    assert any("Upload a photo" in i.value for i in at.info)
    assert at.selectbox(key="recognize_country").value == "us"
    assert at.slider(key="recognize_topn").value == 10
    sidebar = " ".join(str(c.value) for c in at.sidebar.caption)
    assert "Model" in sidebar and "CPU" in sidebar


def test_picking_a_sample_shows_what_the_pipeline_reads(sample):
    photo, rec = sample
    at = _app()
    options = at.selectbox(key="recognize_sample").options
    assert len(options) == appstate.SAMPLE_COUNT
    at.selectbox(key="recognize_sample").select_index(0).run()
    assert_clean(at)
    assert [s.value for s in at.subheader] == [photo.name]
    if rec.plates:
        assert [m.value for m in at.metric] == [p.plate or "?" for p in rec.plates]
        assert len(at.tabs) == len(rec.plates)
        assert len(at.dataframe) >= len(rec.plates)  # candidate tables (+ the detection regions)
    else:
        assert any(f"No plate found in {photo.name}" in i.value for i in at.info)
    # Photo, timings, and per plate: crop and top-k.
    assert len(_plotly_charts(at)) == 2 + 2 * len(rec.plates)
    assert any(photo.expected in c.value for c in at.caption)
    assert at.get("download_button"), "the OpenALPR JSON download is offered"


def test_changing_a_widget_does_not_read_the_photo_again(sample, monkeypatch):
    at = _app()
    at.selectbox(key="recognize_sample").select_index(0).run()
    calls = []
    monkeypatch.setattr(appstate, "recognize", lambda *a, **k: calls.append(1) or recognize(*a, **k))
    at.toggle(key="recognize_0_components").set_value(False).run()
    assert_clean(at)
    assert calls == []  # the cached Recognition was reused
    at.slider(key="recognize_topn").set_value(3).run()
    assert_clean(at)
    assert calls == [1]  # a different top-N is a different read
    for table in at.dataframe[: len(sample[1].plates)]:
        assert len(table.value) <= 3


def test_a_file_that_is_not_an_image_gets_its_own_error_and_the_others_are_still_read(sample):
    photo, rec = sample
    at = _app()
    at.file_uploader(key="recognize_upload").set_value([
        ("notes.jpg", b"meeting notes, definitely not a photo\n", "image/jpeg"),
        ("car.png", photo.data, "image/png"),
    ]).run()
    assert_clean(at)
    assert [s.value for s in at.subheader] == ["notes.jpg", "car.png"]
    assert len(at.error) == 1
    assert at.error[0].value.startswith("notes.jpg is not an image")
    assert [m.value for m in at.metric] == [p.plate or "?" for p in rec.plates]


def test_a_photo_without_a_plate_says_so_and_still_shows_the_photo():
    at = _app()
    grey = np.full((240, 320, 3), 140, np.uint8)
    at.file_uploader(key="recognize_upload").set_value(("empty road.png", _png(grey), "image/png")).run()
    assert_clean(at)
    assert any(i.value.startswith("No plate found in empty road.png") for i in at.info)
    assert not at.metric
    assert len(_plotly_charts(at)) == 2  # the photo with its components, and the timings


def test_an_unexpected_failure_stays_inside_its_photo_section(sample, monkeypatch):
    photo, _ = sample

    def broken(*args, **kwargs):
        raise RuntimeError("the classifier fell over")

    monkeypatch.setattr(appstate, "recognize", broken)
    at = _app()
    at.file_uploader(key="recognize_upload").set_value(("crash.png", photo.data, "image/png")).run()
    assert_clean(at)
    assert [e.value for e in at.error] == ["Could not read crash.png: the classifier fell over"]


def test_a_missing_model_is_explained_not_raised(tmp_path, monkeypatch):
    monkeypatch.setattr(appstate, "DEFAULT_MODEL", tmp_path / "missing.keras")
    at = _app()
    assert_clean(at)
    assert any("no model file" in e.value for e in at.error)
    assert any("no model file" in w.value for w in at.sidebar.warning)
    assert not at.get("file_uploader")  # the page stopped before offering inputs it cannot read


def test_photos_in_the_samples_folder_are_offered_and_read(sample, tmp_path, monkeypatch):
    photo, rec = sample
    (tmp_path / "street corner.png").write_bytes(photo.data)
    (tmp_path / "readme.txt").write_text("not offered: not an image type")
    monkeypatch.setenv(appstate.SAMPLES_DIR_ENV, str(tmp_path))
    at = _app()
    label = f"{tmp_path.name}/street corner.png"
    assert at.selectbox(key="recognize_sample").options[appstate.SAMPLE_COUNT:] == [label]
    at.selectbox(key="recognize_sample").select(label).run()
    assert_clean(at)
    assert [s.value for s in at.subheader] == ["street corner.png"]
    assert [m.value for m in at.metric] == [p.plate or "?" for p in rec.plates]
