"""The model registry, the training-run bookkeeping and `alpr models`: no training here, so seconds.

Versions are made from the constant model of conftest (a real Keras file in the shipped format).
"""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alpr.training import jobs, registry
from alpr.training.records import JobConfig
from alpr.classify import DEFAULT_MODEL, metadata_path
from alpr.cli import main
from alpr.errors import ModelError


def _register(folder: Path, model: Path, status: str = registry.STATUS_ACCEPTED, **extra) -> registry.Version:
    meta = json.loads(metadata_path(model).read_text())
    meta.update(extra)
    meta["registry"] = {"parent": "shipped", "status": status, "run_id": "test"}
    return registry.register(lambda path: shutil.copyfile(model, path), meta, folder)


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("ALPR_DATA_DIR", str(folder))
    return folder


# --- registry -----------------------------------------------------------------------------------------


def test_without_a_registry_the_shipped_model_is_the_active_first_version(data):
    assert [v.name for v in registry.versions(data)] == ["shipped"]
    assert registry.active_name(data) == "shipped"
    assert registry.active_model_path(data) == DEFAULT_MODEL
    assert registry.resolve_model(None, data) is None  # load_classifier's own default: the shipped model
    assert not data.exists()  # reading the registry creates nothing


def test_register_renames_a_complete_folder_into_the_next_version(data, constant_model):
    v2 = _register(data, constant_model)
    v3 = _register(data, constant_model)
    assert (v2.name, v3.name) == ("v2", "v3")
    assert v2.path == data / "models" / "v2" / "char_cnn.keras"
    assert v2.metadata["version"] == "v2" and v2.metadata["registry"]["registered"]
    assert v2.parent == "shipped" and v2.status == "accepted"
    assert [v.name for v in registry.versions(data)] == ["shipped", "v2", "v3"]
    assert not list((data / "models").glob(".tmp-*"))
    assert registry.active_name(data) == "shipped"  # registering never activates


def test_a_version_whose_write_fails_leaves_nothing_behind(data):
    def broken(path):
        Path(path).write_bytes(b"half a model")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(registry.RegistryError, match="the disk is full; free some space and try again"):
        registry.register(broken, {"classes": []}, data)
    assert [v.name for v in registry.versions(data)] == ["shipped"]
    assert not list((data / "models").glob(".tmp-*"))


def test_activate_writes_active_json_and_rollback_returns_to_the_previous_version(data, constant_model):
    _register(data, constant_model)
    _register(data, constant_model)
    registry.activate("v2", data)
    assert json.loads((data / "models" / "active.json").read_text())["version"] == "v2"
    assert registry.resolve_model(None, data) == data / "models" / "v2" / "char_cnn.keras"
    assert registry.resolve_model("v3", data) == data / "models" / "v3" / "char_cnn.keras"
    registry.activate("v3", data)
    assert registry.rollback(data).name == "v2"
    assert registry.active_name(data) == "v2"
    registry.activate("shipped", data)
    assert registry.resolve_model(None, data) is None
    assert [h["version"] for h in registry.history(data)] == ["shipped", "v2", "v3", "v2", "shipped"]


def test_a_rejected_version_is_activated_only_when_forced(data, constant_model):
    _register(data, constant_model, status=registry.STATUS_REJECTED)
    with pytest.raises(registry.RegistryError, match="v2 was rejected.*--force"):
        registry.activate("v2", data)
    assert registry.active_name(data) == "shipped"
    registry.activate("v2", data, force=True)
    assert registry.active_name(data) == "v2"


def test_an_unknown_version_is_named_with_the_known_ones(data):
    with pytest.raises(registry.RegistryError, match=r"no model version 'v7' .* the versions are: shipped"):
        registry.activate("v7", data)


def _corrupt_file(version: Path) -> None:
    (version / "char_cnn.keras").write_bytes(b"not a zip at all")


def _other_classes(version: Path) -> None:
    meta = json.loads((version / "char_cnn.json").read_text())
    meta["classes"] = list("0123456789")
    (version / "char_cnn.json").write_text(json.dumps(meta))


def _newer_format(version: Path) -> None:
    meta = json.loads((version / "char_cnn.json").read_text())
    meta["format"] = 99
    (version / "char_cnn.json").write_text(json.dumps(meta))


MODEL_FAULTS = [
    pytest.param(_corrupt_file, "corrupt or not a Keras model", id="corrupt-file"),
    pytest.param(_other_classes, "predicts 10 classes '0123456789'", id="classes-mismatch"),
    pytest.param(_newer_format, "made by a newer alpr (format 99)", id="newer-format"),
]


@pytest.mark.parametrize("fault, message", MODEL_FAULTS)
def test_a_faulty_version_cannot_be_activated_and_the_active_one_stays(data, constant_model, fault, message):
    _register(data, constant_model)
    _register(data, constant_model)
    registry.activate("v2", data)
    fault(data / "models" / "v3")
    with pytest.raises(registry.RegistryError, match="v3 cannot be activated") as error:
        registry.activate("v3", data)
    assert message in str(error.value)
    assert registry.active_name(data) == "v2"


@pytest.mark.parametrize("fault, message", MODEL_FAULTS)
def test_an_active_version_that_became_faulty_falls_back_to_the_last_good_one(data, constant_model, fault, message):
    _register(data, constant_model)
    _register(data, constant_model)
    registry.activate("v2", data)
    registry.activate("v3", data)
    fault(data / "models" / "v3")
    classifier, version, warning = registry.load_active(data)
    assert version.name == "v2"
    assert warning.startswith("the active model cannot be used (v3: ") and message in warning
    assert warning.endswith("using v2, the last good version")
    assert classifier.info.path == data / "models" / "v2" / "char_cnn.keras"


@pytest.mark.parametrize("fault, message", MODEL_FAULTS)
def test_models_activate_of_a_faulty_version_is_one_line_with_status_2(data, constant_model, fault, message, capsys):
    _register(data, constant_model)
    fault(data / "models" / "v2")
    assert main(["models", "activate", "v2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: model version v2 cannot be") and message in err
    assert "\n" not in err
    assert registry.active_name(data) == "shipped"


def test_a_missing_active_version_is_reported_by_the_cli_helper(data, constant_model):
    _register(data, constant_model)
    registry.activate("v2", data)
    shutil.rmtree(data / "models" / "v2")
    with pytest.raises(registry.RegistryError, match="active model version v2 cannot be used: .*missing.*rollback"):
        registry.resolve_model(None, data)
    _, version, warning = registry.load_active(data)
    assert version.name == "shipped" and "v2" in warning


# --- alpr models -----------------------------------------------------------------------------------------


def test_models_list_json_has_each_version_with_active_and_metrics(data, constant_model, capsys):
    _register(data, constant_model, validation={"accuracy": 0.5, "n": 10})
    registry.activate("v2", data)
    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["version"] for r in rows] == ["shipped", "v2"]
    assert [r["active"] for r in rows] == [False, True]
    assert rows[1]["metrics"]["val_accuracy"] == 0.5
    assert {"status", "parent", "created", "data", "device", "duration_s", "hyperparameters"} <= set(rows[1])


def test_models_list_table_marks_the_active_version(data, constant_model, capsys):
    _register(data, constant_model)
    assert main(["models", "list", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "* shipped" in out and "  v2" in out


def test_models_activate_and_rollback_from_the_cli(data, constant_model, capsys):
    _register(data, constant_model)
    assert main(["models", "activate", "v2"]) == 0
    assert "active model: v2" in capsys.readouterr().out
    assert main(["models", "rollback"]) == 0
    assert "the active model is shipped" in capsys.readouterr().out
    assert main(["models", "activate", "v9"]) == 2
    assert capsys.readouterr().err.startswith("error: no model version 'v9'")


def test_recognize_reads_with_the_active_version_by_default(data, constant_model, plate_image, tmp_path, capsys):
    _register(data, constant_model)
    registry.activate("v2", data)
    path = tmp_path / "plate.png"
    Image.fromarray(np.asarray(plate_image.image)).save(path)
    assert main(["recognize", str(path), "--plate-crop", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    chars = [c["char"] for r in result["results"] for c in r["characters"]]
    assert chars and set(chars) == {"A"}  # the constant model's answer, not the shipped model's


# --- alpr train: which form --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["train", "--data", "/tmp", "--activate"],
            "--activate fine-tune(s) from the label store and cannot be combined with --data/--out",
        ),
        (["train", "--out", "x.keras", "--epochs", "2"], "--epochs fine-tune(s) from the label store"),
        (["train", "--rounds", "2"], "--rounds belong(s) to the full pipeline"),
        (["train", "--dataset", "/no/such/folder"], "--dataset /no/such/folder is not a folder"),
        (["train", "--base", "imagenet"], "--base imagenet needs --backbone"),
    ],
)
def test_train_options_of_the_two_forms_do_not_mix(data, argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_resuming_an_unknown_run_says_so(data, capsys):
    assert main(["train", "--resume", "nope"]) == 2
    assert "no training run 'nope' to resume" in capsys.readouterr().err


# --- runs ---------------------------------------------------------------------------------------------------


def _fake_run(data: Path, run_id: str, state: str, rows: int = 0, **status) -> Path:
    run = jobs.runs_dir(data) / run_id
    run.mkdir(parents=True)
    jobs.write_json(run / "config.json", {"run_id": run_id, "job": {"epochs": 2}})
    jobs.write_json(
        run / "status.json", {"state": state, "pid": 999999, "started": "2026-01-01T00:00:00+00:00", **status}
    )
    with open(run / "metrics.jsonl", "w") as fh:
        for i in range(rows):
            fh.write(json.dumps({"global_epoch": i + 1}) + "\n")
    return run


def test_one_run_at_a_time_per_data_folder(data):
    first = jobs.TrainLock(data)
    first.acquire("run-a")
    try:
        assert jobs.holder(data)["run_id"] == "run-a"
        with pytest.raises(jobs.JobError, match=r"run run-a \(pid \d+\) is already training on .*one run at a time"):
            jobs.TrainLock(data).acquire("run-b", wait_s=0.2)
        with pytest.raises(jobs.JobError, match="already training"):
            jobs.launch(JobConfig(epochs=1), data)
    finally:
        first.release()
    assert jobs.holder(data) is None
    second = jobs.TrainLock(data)
    second.acquire("run-b", wait_s=0.2)
    second.release()


def test_a_running_status_without_the_lock_is_an_interrupted_run(data):
    run = _fake_run(data, "r1", "running", rows=1)
    assert jobs.get_run("r1", data).state == "interrupted"
    assert not jobs.get_run("r1", data).resumable  # no frozen data yet
    (run / "data.npz").write_bytes(b"")
    assert jobs.get_run("r1", data).resumable
    lock = jobs.TrainLock(data)
    lock.acquire("r1")
    try:
        assert jobs.get_run("r1", data).state == "running"
        assert jobs.current(data).id == "r1"
    finally:
        lock.release()
    assert jobs.cancel("r1", data) == "run r1 marked cancelled"
    assert jobs.get_run("r1", data).state == "cancelled"


def test_runs_are_listed_newest_first_and_a_torn_metrics_line_is_skipped(data):
    _fake_run(data, "old", "succeeded", started="2026-01-01T00:00:00+00:00")
    new = _fake_run(data, "new", "failed", rows=2, started="2026-02-01T00:00:00+00:00")
    with open(new / "metrics.jsonl", "a") as fh:
        fh.write('{"global_epoch": 3, "lo')  # killed mid-write
    runs = jobs.list_runs(data)
    assert [r.id for r in runs] == ["new", "old"]
    assert [r.global_epoch for r in runs[0].metrics()] == [1, 2]
    with pytest.raises(jobs.JobError, match="no training run '../x'"):
        jobs.get_run("../x", data)


def test_training_folders_finds_exports_and_labeled_plate_folders(tmp_path, benchmark_dir):
    export = tmp_path / "root" / "export"
    (export / "A").mkdir(parents=True)
    (export / "labels.csv").write_text("path,label,source,plate_id\nA/1.png,A,person,1\n")
    (tmp_path / "root" / "runs" / "x").mkdir(parents=True)
    shutil.copytree(benchmark_dir, tmp_path / "root" / "bench")
    found = jobs.training_folders([tmp_path / "root"])
    names = [p.relative_to((tmp_path / "root").resolve()).as_posix() for p in found]
    assert names == ["bench/crops", "bench/us", "export"]


def test_load_active_raises_when_no_version_loads(data, monkeypatch):
    def broken(path):
        raise ModelError(f"{path} is broken")

    with pytest.raises(ModelError, match="no model version can be loaded"):
        registry.load_active(data, loader=broken)
