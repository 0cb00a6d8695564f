"""The Evaluate page driven headless with AppTest, and the evaluation helpers it uses.

The labeled folder is the conftest benchmark (synthetic photos and plate crops in a temporary
folder) offered through ALPR_DATA_ROOTS; the model is the conftest's constant model, which reads
every plate of n segments as "A" * n, so the numbers the page shows can be checked exactly.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from apptest_support import assert_clean, page_texts
from alpr import app as appstate
from alpr import evaluate as ev
from alpr.errors import AlprError, DatasetError
from alpr.evaluate import PhotoResult
from alpr.labels import LabelStore
from alpr.paths import DATA_DIR_ENV

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 90
CONSTANT = "data/models/constant.keras · constant-A"


def _array(value) -> np.ndarray:
    """A figure array as it reaches the browser: a list, or plotly's base64 typed array."""
    if isinstance(value, dict) and "bdata" in value:
        shape = tuple(int(n) for n in str(value["shape"]).split(","))
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.array(value, dtype=float)


def _result(truth: str, read: str, path: str = "p.jpg") -> PhotoResult:
    return PhotoResult(path, "us", truth, read, (read,), True, 0, 1.0)


# --- helpers of alpr.evaluate ------------------------------------------------------------------


def test_labeled_folders_are_found_inside_the_root_only(benchmark_dir, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(benchmark_dir, root / "bench")
    (root / "bench" / "empty").mkdir()
    (root / ".hidden").mkdir()
    shutil.copytree(benchmark_dir / "us", root / ".hidden" / "us")
    outside = tmp_path / "outside"
    shutil.copytree(benchmark_dir / "us", outside / "us")
    (root / "link").symlink_to(outside, target_is_directory=True)
    found = ev.find_labeled_folders(root)
    assert found == [
        root.resolve(),
        (root / "bench").resolve(),
        (root / "bench" / "crops").resolve(),
        (root / "bench" / "us").resolve(),
    ]
    assert ev.inside_roots(root / "bench" / "us", [root]) == (root / "bench" / "us").resolve()
    with pytest.raises(DatasetError, match="not inside the allowed data folders"):
        ev.inside_roots(root / "link" / "us", [root])  # the link leads outside the root
    with pytest.raises(DatasetError):
        ev.inside_roots(root / ".." / "outside", [root])


def test_an_absolute_path_outside_the_roots_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="not inside the allowed data folders"):
        ev.inside_roots(Path("/etc"), [tmp_path])


def test_char_confusion_pairs_only_reads_of_the_right_length():
    results = [_result("AB12", "AB12"), _result("AB12", "A812"), _result("AB12", "AB1"), _result("CD3", "")]
    counts, used, total = ev.char_confusion(results)
    assert (used, total) == (2, 4)
    assert counts == {("A", "A"): 2, ("B", "B"): 1, ("B", "8"): 1, ("1", "1"): 2, ("2", "2"): 2}
    assert ev.class_accuracy(counts) == {"1": (2, 2), "2": (2, 2), "A": (2, 2), "B": (1, 2)}


def test_compare_results_lists_fixed_and_broken_plates():
    a = [_result("AB12", "AB12", "1"), _result("CD34", "CO34", "2"), _result("EF56", "EF56", "3")]
    b = [_result("AB12", "A812", "1"), _result("CD34", "CD34", "2"), _result("EF56", "EF56", "3")]
    assert ev.compare_results(a, b) == {"fixed": ["2"], "broken": ["1"]}


@pytest.mark.parametrize("member", ["../escape.txt", "/etc/absolute.txt"])
def test_uploaded_archives_that_climb_out_are_refused(tmp_path, member):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("us/ok.txt", "fine")
        zf.writestr(member, "not fine")
    with pytest.raises(AlprError, match="refused"):
        ev.safe_extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))


# --- the page ----------------------------------------------------------------------------------


@pytest.fixture
def setup(tmp_path, monkeypatch, benchmark_dir, constant_model):
    """Data roots holding the benchmark; the constant model in the data folder's models/."""
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    for suffix in (".keras", ".json"):
        shutil.copy(constant_model.with_suffix(suffix), data / "models" / f"constant{suffix}")
    monkeypatch.setenv(DATA_DIR_ENV, str(data))
    monkeypatch.setenv(appstate.DATA_ROOTS_ENV, str(benchmark_dir))
    return data


def _evaluate_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/evaluate.py").run()
    assert_clean(at)
    return at


def _run(at: AppTest, folder: str, model: str = CONSTANT, compare: str = "") -> AppTest:
    at.selectbox(key="evaluate_folder").select(folder)
    at.selectbox(key="evaluate_model").select(model)
    at.selectbox(key="evaluate_compare").select(compare)
    at.run()
    at.button(key="evaluate_run").click().run()
    assert_clean(at)
    return at


def test_only_labeled_folders_under_the_data_roots_are_offered(setup, benchmark_dir):
    at = _evaluate_page()
    assert at.title[0].value == "Evaluate"
    name = benchmark_dir.name
    assert at.selectbox(key="evaluate_folder").options == [name, f"{name}/crops", f"{name}/us"]
    assert at.button(key="evaluate_run").disabled  # nothing picked yet
    assert CONSTANT in at.selectbox(key="evaluate_model").options
    assert not at.get("text_input"), "no free-text path anywhere on the page"


def test_an_evaluation_shows_rates_confusion_errors_and_sends_an_error_to_relabel(
    setup, benchmark_dir, benchmark_labels
):
    at = _evaluate_page()
    _run(at, benchmark_dir.name)
    values = {m.label: m.value for m in at.metric}
    # The constant model reads "A" * n: only the crop labeled AAAAAA is right.
    assert values["Top-1"] == "25.0%" and values["Plate found"] == "100%"
    assert "Errors (3)" in [t.label for t in at.tabs]
    assert len(at.get("plotly_chart")) == 5  # kinds of miss, confidence, confusion, per class, timing
    # Every file by how it went: 1 right, and 3 plates read with the length of their label but "A"s.
    kinds = json.loads(next(c for c in at.get("plotly_chart") if "evaluate_kinds" in c.proto.id).proto.spec)
    bars = dict(zip(kinds["data"][0]["y"], _array(kinds["data"][0]["x"]).tolist()))
    assert bars == {"read right": 1, "plate read, same length, wrong characters": 3}
    # The four plates read, by the confidence shown: as many in the bars' labels as were read.
    shown = json.loads(next(c for c in at.get("plotly_chart") if "evaluate_confidence" in c.proto.id).proto.spec)
    counts = [int(t.split(" of ")[1]) for t in shown["data"][0]["text"] if t != "none"]
    assert sum(counts) == 4
    confusion = next(c for c in at.get("plotly_chart") if "evaluate_confusion" in c.proto.id)
    heat = json.loads(confusion.proto.spec)["data"][0]
    # Classes that occur (truth or read), not all 37; everything was read as A.
    truth_chars = {ch for f in benchmark_labels.values() for ch in f.plate}
    assert set(heat["x"]) == set(heat["y"]) and set(heat["x"]) <= truth_chars | {"A"}
    z = _array(heat["z"])
    a = heat["x"].index("A")
    assert np.isnan(np.delete(z, a, axis=1)).all() and np.nansum(z[:, a]) > 0
    # Square cells take their room from the axes' domain, so the class labels stay beside the cells.
    axes = json.loads(confusion.proto.spec)["layout"]
    assert (axes["xaxis"]["constrain"], axes["yaxis"]["constrain"]) == ("domain", "domain")
    groups = next(d.value for d in at.dataframe if "Group" in d.value.columns)
    assert list(groups["Group"]) == ["crops", "us", "all"]

    sends = [b for b in at.button if b.key and b.key.startswith("evaluate_send_0_")]
    assert len(sends) == 3
    sends[0].click().run()
    assert_clean(at)
    with LabelStore.open(setup) as store:
        plates = store.recent_plates()
    assert len(plates) == 1 and plates[0].text_confirmed in {f.plate for f in benchmark_labels.values()}
    assert any(link.proto.label == f"In the queue: plate #{plates[0].id}" for link in at.get("page_link"))
    assert any("relabel queue" in t for t in page_texts(at))


def test_two_models_side_by_side(setup, benchmark_dir, classifier):
    shipped = next(label for label in appstate.model_choices() if label.startswith("models/"))
    at = _evaluate_page()
    at.number_input(key="evaluate_limit").set_value(2)
    _run(at, f"{benchmark_dir.name}/crops", model=shipped, compare=CONSTANT)
    labels = [m.label for m in at.metric]
    assert labels.count("Top-1") == 2
    assert at.segmented_control(key="evaluate_focus").options == [classifier.info.version, "constant-A"]
    assert any("reads" in md.value and "constant-A" in md.value for md in at.markdown)
    assert any("first 2 of 2" in c.value or "2 plates" in c.value for c in at.caption)
    at.segmented_control(key="evaluate_focus").set_value("constant-A").run()
    assert_clean(at)


def test_an_uploaded_zip_is_evaluated_and_a_bad_one_refused(setup, benchmark_dir):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted((benchmark_dir / "crops").iterdir()):
            zf.write(path, f"plates/{path.name}")
    at = _evaluate_page()
    at.segmented_control(key="evaluate_source").set_value("zip").run()
    at.selectbox(key="evaluate_model").select(CONSTANT).run()
    at.file_uploader(key="evaluate_zip").set_value(("plates.zip", buffer.getvalue(), "application/zip")).run()
    assert_clean(at)
    assert any("2 labeled plates" in c.value for c in at.caption)
    at.button(key="evaluate_run").click().run()
    assert_clean(at)
    assert any("upload plates.zip" in c.value for c in at.caption)

    bad = io.BytesIO()
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../../outside.txt", "x")
    at.file_uploader(key="evaluate_zip").set_value(("evil.zip", bad.getvalue(), "application/zip")).run()
    assert_clean(at)
    assert any("evil.zip" in e.value and "refused" in e.value for e in at.error)
    assert not os.path.exists(Path(os.sep, "outside.txt"))


def test_no_labeled_folder_says_how_to_add_one(setup, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(appstate.DATA_ROOTS_ENV, str(empty))
    at = _evaluate_page()
    assert any("No labeled folders" in i.value for i in at.info)
    assert at.button(key="evaluate_run").disabled


# --- the page's figures ------------------------------------------------------------------------


def test_confusion_figure_shows_only_classes_that_occur_and_can_hide_the_diagonal():
    from alpr import review_figures

    counts = {("B", "8"): 2, ("B", "B"): 5, ("A", "A"): 7}
    fig = review_figures.confusion_figure(counts)
    heat = fig.data[0]
    assert list(heat.x) == ["8", "A", "B"] and list(heat.y) == ["8", "A", "B"]
    z = np.nan_to_num(np.array(heat.z, dtype=float))
    assert z[2, 0] == 2 and z[2, 2] == 5 and z[1, 1] == 7 and z.sum() == 14
    hidden = np.nan_to_num(np.array(review_figures.confusion_figure(counts, hide_correct=True).data[0].z, dtype=float))
    assert hidden.sum() == 2
    assert review_figures.confusion_figure({}).layout.annotations  # an explanation, not an empty heatmap


def test_error_thumbnails_have_one_size_for_photos_and_crops(scene, plate_image):
    from alpr import review_figures

    photo = review_figures.error_thumbnail(scene.image, scene.box, width=300)
    crop = review_figures.error_thumbnail(plate_image.image, None, width=300)
    assert photo.shape == crop.shape == (150, 300, 3)
    assert photo.dtype == np.uint8
