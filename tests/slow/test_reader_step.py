"""One training run trains the whole-plate reader too (alpr/training/reader_step.py).

`alpr train` fine-tunes the active version's reader on the plates people confirmed in the label
store, judges it on whole held-out photos against the reader it started from, and the new version
carries the reader that won; the pipeline then reads with the active version's reader.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import make_scene
from train_helpers import run_cli

from alpr import plate_reader as pr
from alpr.classify import DEFAULT_MODEL as SHIPPED_CNN
from alpr.labels.store import LabelStore
from alpr.pipeline import default_plate_reader, recognize
from alpr.runtime import KerasNetwork
from alpr.training import reader_step, registry

TINY = ["--glyphs-per-class", "2", "--epochs", "1", "--unfreeze-epochs", "0", "--reader-epochs", "1"]
TAUGHT = [("ABC1234", 2), ("7ABC123", 3), ("KDX4417", 11), ("JKL5521", 5), ("MNP3390", 6), ("XYZ7712", 7)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, classifier):
    data = tmp_path_factory.mktemp("reader") / "data"
    with LabelStore.open(data) as store:
        for text, seed in TAUGHT:
            scene = make_scene(text, seed)
            rec = recognize(scene.image, classifier=classifier)
            assert rec.plates, f"the shipped model finds no plate in the {text} scene"
            [plate_id, *_] = store.add_recognition(scene.image, rec, f"{text}.png", classifier.info.version)
            store.label_plate(plate_id, text)
    # The suite reads without a reader (conftest); this run trains one, as a default run does.
    proc, _ = run_cli("train", "--data-dir", data, *TINY, "--activate", env={"ALPR_PLATE_READER": ""})
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    return data, proc, registry.active(data)


def test_the_new_version_carries_a_reader_fine_tuned_on_the_stores_plates_and_judged_on_photos(trained):
    data, proc, version = trained
    folder = version.path.parent
    assert (folder / "plate_reader.keras").is_file() and (folder / "plate_reader.json").is_file()
    summary = version.metadata["plate_reader"]
    held = summary["store_plates"]["held_out"]
    assert summary["store_plates"]["train"] + held == len(TAUGHT) and held >= 1
    assert len(summary["epochs"]) == 1
    assert summary["kept"] in ("new", "parent")
    assert summary["gate_counts"]["photos"] == held  # the store's held-out plates, each a whole photo
    assert "reader: fine-tuning" in proc.stdout and "gate photos right" in proc.stdout
    # The combiner's weights travel with the reader they were fitted for.
    shipped = json.loads(pr.metadata_path(pr.DEFAULT_MODEL).read_text())
    carried = json.loads((folder / "plate_reader.json").read_text())
    assert carried["combiner"] == shipped["combiner"]


def test_the_pipeline_reads_with_the_active_versions_reader(trained, monkeypatch):
    monkeypatch.delenv("ALPR_PLATE_READER")
    data, _, version = trained
    active, _, _ = registry.load_active(data)
    reader = default_plate_reader(active.runtime, active.info.path)
    assert reader.path == version.path.parent / "plate_reader.keras"
    scene = make_scene(*TAUGHT[0])
    rec = recognize(scene.image, classifier=active.without_memory())
    assert rec.plates and rec.plates[0].whole is not None


def _broken_reader() -> pr.PlateReader:
    """A real reader network gone wrong: every column reads "Z", and its combiner lets its own
    string win outright (margin 0), as a fine-tune that overfit might."""
    model = pr.build_model()
    logits = model.get_layer("logits")
    kernel, bias = logits.get_weights()
    bias = np.zeros_like(bias)
    bias[pr.INDEX["Z"]] = 10.0
    logits.set_weights([np.zeros_like(kernel), bias])
    return pr.PlateReader(KerasNetwork(model), {"combiner": {"weight": 4.0, "template": 0.0, "margin": 0.0}})


def test_the_gate_keeps_the_parent_reader_when_the_new_one_reads_fewer_photos(classifier):
    photos = [
        reader_step.GatePhoto(s.image, s.box, s.text, "us", "store")
        for s in (make_scene("ABC1234", 2), make_scene("KDX4417", 11))
    ]
    parent = pr.load_plate_reader(pr.DEFAULT_MODEL)
    result = reader_step.judge(photos, classifier, parent, _broken_reader())
    assert result.parent_right >= 1
    assert result.new_right < result.parent_right
    assert result.kept == "parent" and "not kept" in result.line
    assert result.per_source["store"] == [2, result.parent_right, result.new_right]


def test_reader_epochs_zero_carries_the_active_versions_reader_unchanged(tmp_path, classifier, monkeypatch):
    monkeypatch.delenv("ALPR_PLATE_READER")
    config = reader_step.ReaderStepConfig(epochs=0)
    outcome = reader_step.run(tmp_path, SHIPPED_CNN, classifier, None, [], config, log=lambda line: None)
    assert outcome.summary["kept"] == "parent"
    carried = outcome.folder / "plate_reader.keras"
    assert carried.read_bytes() == pr.DEFAULT_MODEL.read_bytes()


# --- the version on whole photos: a new network never reads fewer gate photos than the active one ---


def _held_out_name(stem: str) -> str:
    """A file name the hold-out hash (alpr.data.is_holdout) keeps out of training: the gate's."""
    from alpr.data import is_holdout

    return next(f"{stem}_{k}.jpg" for k in range(1000) if is_holdout(f"{stem}_{k}.jpg"))


@pytest.fixture(scope="module")
def gate_folder(tmp_path_factory):
    """A labeled folder of three rendered street photos, every one in the hold-out."""
    from PIL import Image

    root = tmp_path_factory.mktemp("gate") / "us"
    root.mkdir()
    for text, seed in TAUGHT[:3]:
        scene = make_scene(text, seed)
        name = _held_out_name(text)
        Image.fromarray(scene.image).save(root / name, quality=95)
        b = scene.box
        (root / f"{name[:-4]}.txt").write_text(f"{name}\t{b.x}\t{b.y}\t{b.w}\t{b.h}\t{text}\n")
    return root


def test_a_network_that_reads_fewer_gate_photos_than_the_active_one_is_not_kept(
    tmp_path, gate_folder, classifier, constant_classifier
):
    # The run's network (a constant one: every crop reads alike) against the shipped active one.
    config = reader_step.ReaderStepConfig(epochs=0)
    outcome = reader_step.run(
        tmp_path, SHIPPED_CNN, constant_classifier, None, [str(gate_folder)], config, lambda line: None, classifier
    )
    gate = outcome.summary["network_gate"]
    assert gate["photos"] == 3 and gate["active_right"] >= 2
    assert gate["version_right"] < gate["active_right"]
    assert outcome.network_rejected and "keeps the active network" in gate["line"]


def test_a_network_that_reads_as_many_gate_photos_is_kept(tmp_path, gate_folder, classifier):
    config = reader_step.ReaderStepConfig(epochs=0)
    outcome = reader_step.run(
        tmp_path, SHIPPED_CNN, classifier, None, [str(gate_folder)], config, lambda line: None, classifier
    )
    gate = outcome.summary["network_gate"]
    assert gate["version_right"] == gate["active_right"] >= 2
    assert not outcome.network_rejected


def test_a_run_whose_network_passes_the_crop_gate_is_judged_against_the_active_version_on_photos(
    tmp_path, gate_folder, constant_model
):
    # The active version reads every crop alike (the constant network); the run fine-tunes the
    # shipped network, which passes the crop gate against it, then both read the gate's photos.
    import shutil

    from alpr.classify import metadata_path

    data = tmp_path / "data"
    meta = json.loads(metadata_path(constant_model).read_text())
    constant = registry.register(lambda path: shutil.copyfile(constant_model, path), meta, data)
    registry.activate(constant.name, data)
    args = ["--data-dir", data, "--base", "shipped", "--no-store", "--no-replay", "--dataset", gate_folder]
    proc, _ = run_cli("train", *args, *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    version = registry.versions(data)[-1]  # oldest first: the run's
    gate = version.metadata["plate_reader"]["network_gate"]
    assert gate["photos"] == 3 and gate["version_right"] > gate["active_right"]
    assert gate["kept"] == "new" and version.metadata["network_kept_from"] is None
    assert "network: the version reads" in proc.stdout
