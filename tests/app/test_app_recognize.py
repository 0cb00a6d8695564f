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
from alpr import synth
from alpr import app as appstate
from alpr.app import models as app_models
from alpr.app import reads as app_reads
from alpr.readview import verdict
from alpr.imageio import encode_png, load_image
from alpr.pipeline import recognize

APP = str(Path(__file__).resolve().parents[2] / "app.py")
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
        best = sorted(rec.plates, key=lambda p: -p.confidence)
        assert [m.value for m in at.metric] == [p.plate or "?" for p in best]  # best first
        assert len(at.dataframe) >= len(rec.plates)  # candidate tables (+ the detection regions)
        said = verdict(best[0], "us")
        assert (best[0].plate in at.metric[0].value) and (
            said.state in at.metric[0].proto.delta or "matches a template" in at.metric[0].proto.delta
        )
    else:
        assert any(f"No plate found in {photo.name}" in i.value for i in at.info)
    # The read (a picture of the photo with its plates outlined), per plate its crop strip and a
    # top-k card per character; then, folded, the photo with the detector's boxes and the timings.
    assert at.image, "the photo with its plates outlined"
    # ... and, with the whole-plate reader shipped, its read of each plate.
    assert len(_plotly_charts(at)) == 2 + sum(1 + max(1, len(p.chars)) + (p.whole is not None) for p in rec.plates)
    folded = next(e for e in at.expander if e.label == "Show how it decided")
    assert not folded.proto.expanded
    assert not next(e for e in at.expander if e.label == "Photos and settings").proto.expanded
    assert any(photo.expected in c.value for c in at.caption)
    assert at.get("download_button"), "the OpenALPR JSON download is offered"


def test_the_whole_plate_readers_read_is_shown_beside_the_characters_and_says_which_won(sample, monkeypatch):
    from alpr.plate_reader import DEFAULT_MODEL

    if not DEFAULT_MODEL.is_file():
        pytest.skip("no whole-plate reader is shipped in models/")
    monkeypatch.setenv("ALPR_PLATE_READER", str(DEFAULT_MODEL))
    photo = sample[0]
    rec = recognize(load_image(photo.data, name=photo.name), country="us", topn=10)
    read = next(p for p in rec.plates if p.whole is not None)
    at = _app()
    at.selectbox(key="recognize_sample").select_index(0).run()
    assert_clean(at)
    assert any(m.value.startswith("**What the whole-plate reader saw**") for m in at.markdown)
    titles = [c.proto.spec for c in _plotly_charts(at)]
    assert any(f"Whole-plate reader: {read.whole.text}" in t for t in titles)
    assert any(read.why in c.value for c in at.caption)  # which string won, and why


def test_changing_a_widget_does_not_read_the_photo_again(sample, monkeypatch):
    at = _app()
    at.selectbox(key="recognize_sample").select_index(0).run()
    calls = []
    monkeypatch.setattr(app_reads, "recognize", lambda *a, **k: calls.append(1) or recognize(*a, **k))
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
    at.file_uploader(key="recognize_upload").set_value(
        [
            ("notes.jpg", b"meeting notes, definitely not a photo\n", "image/jpeg"),
            ("car.png", photo.data, "image/png"),
        ]
    ).run()
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
    assert len(_plotly_charts(at)) == 2  # the photo with its components (folded), the timings


def test_a_close_up_shows_its_second_look_and_the_state_name_it_did_not_report():
    # A plate 500 px wide filling an 800x600 photo: the first look reads only the state's name.
    from conftest import make_plate

    plate = make_plate("ABC123", seed=6, height=250).image
    photo = np.full((600, 800, 3), 90, np.uint8)
    photo[170:420, 150:650] = plate
    at = _app()
    at.file_uploader(key="recognize_upload").set_value(("close.png", _png(photo), "image/png")).run()
    assert_clean(at)
    assert [m.value for m in at.metric] == ["ABC123"]
    tables = [df.value for df in at.dataframe]
    regions = next(t for t in tables if "Looks like a plate" in t.columns)
    assert regions["Reason"].str.startswith("close-up pass").any()
    unreported = next(t for t in tables if "Why not a plate" in t.columns)
    assert list(unreported["Read"]).count("GEORGIA") == 1  # read by both looks, listed once


def test_an_unexpected_failure_stays_inside_its_photo_section(sample, monkeypatch):
    photo, _ = sample

    def broken(*args, **kwargs):
        raise RuntimeError("the classifier fell over")

    monkeypatch.setattr(app_reads, "recognize", broken)
    at = _app()
    at.file_uploader(key="recognize_upload").set_value(("crash.png", photo.data, "image/png")).run()
    assert_clean(at)
    assert [e.value for e in at.error] == ["Could not read crash.png: the classifier fell over"]


def test_a_missing_model_is_explained_not_raised(tmp_path, monkeypatch):
    monkeypatch.setattr(app_models, "DEFAULT_MODEL", tmp_path / "missing.keras")
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
    assert at.selectbox(key="recognize_sample").options[appstate.SAMPLE_COUNT :] == [label]
    at.selectbox(key="recognize_sample").select(label).run()
    assert_clean(at)
    assert [s.value for s in at.subheader] == ["street corner.png"]
    assert [m.value for m in at.metric] == [p.plate or "?" for p in rec.plates]


# --- a batch: more photos than a full section each can show ------------------------------------

NOT_A_PHOTO = ("notes.jpg", b"meeting notes, definitely not a photo\n")


@pytest.fixture(scope="module")
def batch():
    """Eight uploads, one more than the threshold: seven small street photos (small, to keep the
    reads fast) with a text file named .jpg fourth, and what the pipeline reads in each photo."""
    files = []
    for i in range(7):
        rng, style = np.random.default_rng(i), ("us", "eu", "br")[i % 3]
        image, _ = synth.render_scene(synth.random_plate_text(rng, style), rng, style, size=(480, 320))
        files.append((f"car {i + 1}.png", encode_png(image)))
    files.insert(3, NOT_A_PHOTO)
    assert len(files) > appstate.BATCH_THRESHOLD
    reads = {name: recognize(load_image(data), country="us", topn=10) for name, data in files if name != NOT_A_PHOTO[0]}
    return files, reads


def _upload_batch(files) -> AppTest:
    at = _app()
    at.file_uploader(key="recognize_upload").set_value([(name, data, "image/png") for name, data in files]).run()
    return at


def test_more_photos_than_the_threshold_show_a_row_per_plate_best_first(batch):
    files, reads = batch
    at = _upload_batch(files)
    assert_clean(at)
    assert [s.value for s in at.subheader] == ["8 photos"]  # no full section per photo
    table = at.dataframe[0].value

    def plates_of(name):
        found = reads[name].plates if name in reads else ()
        return [p.plate for p in sorted(found, key=lambda p: -p.confidence)] or [""]

    expected = [(name, text) for name, _ in files for text in plates_of(name)]
    assert list(zip(table["File"], table["Plate"])) == expected
    assert len(table) > len(files) or all(len(plates_of(n)) == 1 for n, _ in files)
    first_rows = table.groupby("File", sort=False).head(1)
    assert list(first_rows["Plates found"]) == [len(reads[n].plates) if n in reads else 0 for n, _ in files]
    assert [bool(e) for e in first_rows["Error"]] == [name == "notes.jpg" for name, _ in files]


def test_an_unusable_file_in_a_batch_gets_its_error_in_its_row(batch):
    at = _upload_batch(batch[0])
    table = at.dataframe[0].value
    row = table[table["File"] == "notes.jpg"].iloc[0]
    assert row["File"] == "notes.jpg"
    assert row["Error"].startswith("notes.jpg is not an image")
    assert (row["Plate"], row["Plates found"]) == ("", 0)
    assert not at.error  # the error is in its row, not a red box


def test_a_batch_says_how_many_photos_were_read_and_plates_found(batch):
    files, reads = batch
    at = _upload_batch(files)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Photos read"] == "7 of 8"
    assert metrics["Plates found"] == str(sum(len(r.plates) for r in reads.values()))
    assert metrics["Unusable files"] == "1"
    assert metrics["Median time per photo"].endswith(" ms")


def test_a_batch_offers_its_table_as_csv(batch):
    at = _upload_batch(batch[0])
    assert [b.label for b in at.get("download_button")] == ["Download table as CSV"]


def test_opening_a_photo_of_a_batch_shows_its_full_view_without_reading_again(batch, monkeypatch):
    files, reads = batch
    at = _upload_batch(files)
    calls = []
    monkeypatch.setattr(app_reads, "recognize", lambda *a, **k: calls.append(1) or recognize(*a, **k))
    picker = at.selectbox(key="recognize_batch_open")
    assert len(picker.options) == 8
    assert picker.options[3] == "4. notes.jpg · unusable file"
    picker.select_index(4).run()
    assert_clean(at)
    assert [s.value for s in at.subheader] == ["8 photos", "car 4.png"]
    assert [m.value for m in at.metric][-len(reads["car 4.png"].plates) :] == [
        p.plate or "?" for p in reads["car 4.png"].plates
    ]
    assert calls == []  # neither the rows nor this photo's read were computed again


def test_read_batch_reports_progress_for_each_photo_it_reads_and_none_for_remembered_ones(constant_classifier):
    photos = [appstate.Photo(f"p{i}.png", encode_png(np.full((60, 120, 3), 200 + i, np.uint8))) for i in range(3)]
    seen = []
    first = appstate.read_batch(photos, "eu", 3, constant_classifier, lambda *a: seen.append(a))
    assert seen == [(0, 3, "p0.png"), (1, 3, "p1.png"), (2, 3, "p2.png")]
    seen.clear()
    again = appstate.read_batch(photos, "eu", 3, constant_classifier, lambda *a: seen.append(a))
    assert (again, seen) == (first, [])
    assert [(r.file, r.plates, r.error) for r in first] == [
        ("p0.png", 0, None),
        ("p1.png", 0, None),
        ("p2.png", 0, None),
    ]
