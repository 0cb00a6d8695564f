"""The Train page driven headless with AppTest: device, form, live run, result, registry, fallbacks.

Runs are written to disk the way the trainer writes them (no training here, so seconds); starting,
cancelling and resuming are checked by what the page asks `alpr.jobs` to do. The real process is
tested in test_train_job.py and, through a browser, in test_browser_train.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from apptest_support import assert_clean
from alpr import app as appstate
from alpr.training import jobs, registry
from alpr.training.records import JobConfig
from alpr.classify import metadata_path
from alpr.paths import DATA_DIR_ENV
from alpr.types import ALL_CLASSES

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 60


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert_clean(at)
    return at


def _button(at: AppTest, label: str):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r} among {[b.label for b in at.button]}"
    return matches[0]


def _frame(at: AppTest, column: str):
    """The first table of the page with this column (AppTest does not expose a dataframe's key)."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a {column!r} column")


def _rows(epochs: int, total: int) -> list[dict]:
    confusion = np.eye(len(ALL_CLASSES), dtype=int) * 3
    confusion[ALL_CLASSES.index("O"), ALL_CLASSES.index("0")] = 1
    rows = []
    for e in range(1, epochs + 1):
        rows.append(
            {
                "stage": "head" if e <= 2 else "top",
                "epoch": e if e <= 2 else e - 2,
                "epochs": 2,
                "global_epoch": e,
                "total_epochs": total,
                "loss": 1.0 / e,
                "acc": 0.8 + e / 100,
                "val_loss": 1.2 / e,
                "val_acc": 0.75 + e / 50,
                "val_parts": {"store": {"n": 10, "accuracy": 0.9}, "glyphs": {"n": 101, "accuracy": 0.8}},
                "lr": 1e-3 / e,
                "samples_per_s": 900.0 + e,
                "epoch_s": 2.0,
                "eta_s": 2.0 * (total - e),
                "elapsed_s": 2.0 * e,
                "best": True,
                "per_class": {c: {"n": 3, "accuracy": 1.0} for c in ALL_CLASSES[:12]},
                "confusion": confusion.tolist(),
            }
        )
    return rows


def _run(data: Path, run_id: str, state: str, rows: list[dict], **status) -> Path:
    run = jobs.runs_dir(data) / run_id
    run.mkdir(parents=True)
    job = {
        "base": "active",
        "epochs": 2,
        "unfreeze_epochs": 2,
        "batch_size": 64,
        "lr": 0.001,
        "use_store": True,
        "datasets": [],
        "glyphs_per_class": 40,
    }
    jobs.write_json(run / "config.json", {"run_id": run_id, "job": job})
    jobs.write_json(
        run / "status.json", {"state": state, "pid": 999999, "started": "2026-01-01T10:00:00+00:00", **status}
    )
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "log.txt").write_text("device CPU: no GPU found\nstage head epoch 1/2 loss 1.0000 acc 0.8100\n")
    return run


def _version(data: Path, model: Path, status: str = "accepted") -> registry.Version:
    meta = json.loads(metadata_path(model).read_text())
    meta.update(
        validation={"accuracy": 0.83, "n": 111},
        data={"store_train": 8, "glyphs_train": 74},
        device="CPU: no GPU found",
        duration_s=12.5,
        created="2026-01-01T10:05:00+00:00",
    )
    meta["registry"] = {
        "parent": "shipped",
        "status": status,
        "run_id": "done",
        "comparison": {
            "against": "shipped",
            "new": {
                "accuracy": 0.83,
                "correct": 92,
                "n": 111,
                "parts": {"store": {"n": 10, "accuracy": 0.9}, "glyphs": {"n": 101, "accuracy": 0.82}},
            },
            "active": {
                "accuracy": 0.80,
                "correct": 89,
                "n": 111,
                "parts": {"store": {"n": 10, "accuracy": 0.6}, "glyphs": {"n": 101, "accuracy": 0.83}},
                "per_class": {c: {"n": 3, "accuracy": 0.5} for c in ALL_CLASSES[:12]},
            },
        },
    }
    return registry.register(lambda path: shutil.copyfile(model, path), meta, data)


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv(DATA_DIR_ENV, str(folder))
    monkeypatch.setenv(appstate.DATA_ROOTS_ENV, str(tmp_path))
    return folder


def test_an_empty_data_folder_shows_the_device_the_registry_and_the_form(data):
    at = _page()
    assert [t.value for t in at.title] == ["Train"]
    cards = {m.label: m.value for m in at.metric}
    assert cards["Training device"] in ("CPU", "GPU")
    assert cards["Active model"] == "shipped"
    assert cards["Labeled characters"] == "0"
    assert any("No training run yet" in i.value for i in at.info)
    assert any("CPU: no GPU found" in c.value or "GPU:" in c.value for c in at.caption)
    registry_table = _frame(at, "Trained on")
    assert list(registry_table["Version"]) == ["shipped"] and list(registry_table["Active"]) == [True]
    assert not _button(at, "Start training").disabled


def test_start_launches_a_run_with_the_form_s_options(data, monkeypatch):
    calls = []

    def launch(config, folder, resume=None):
        calls.append((config, Path(folder), resume))
        raise jobs.JobError("stopped here by the test")

    monkeypatch.setattr(jobs, "launch", launch)
    at = _page()
    at.number_input(key="train_epochs").set_value(2)
    at.number_input(key="train_unfreeze").set_value(0)
    at.checkbox(key="train_activate").check()
    _button(at, "Start training").click()
    at.run()
    assert_clean(at)
    assert len(calls) == 1
    config, folder, resume = calls[0]
    assert folder == data.resolve() and resume is None
    assert isinstance(config, JobConfig)
    assert (config.epochs, config.unfreeze_epochs, config.base, config.activate) == (2, 0, "active", True)
    assert config.unfreeze_lr == pytest.approx(config.lr / 10)
    assert config.glyphs_per_class == 40 and config.use_store and config.datasets == []
    assert any("Could not start a run: stopped here by the test" in e.value for e in at.error)


def test_a_live_run_shows_progress_curves_and_cancel(data, monkeypatch):
    _run(data, "live1", "running", _rows(3, 6))
    cancelled = []
    monkeypatch.setattr(jobs, "cancel", lambda run_id, folder=None: cancelled.append(run_id) or "asked it to stop")
    lock = jobs.TrainLock(data)
    lock.acquire("live1")
    try:
        at = _page()
        assert "Run live1" in [s.value for s in at.subheader]
        assert any("Running" in m.value for m in at.markdown)
        assert _button(at, "Start training").disabled
        assert len(at.get("plotly_chart")) >= 2  # the curves and the confusion matrix
        assert any(m.label == "Validation accuracy" and m.value == "81.0%" for m in at.metric)
        progress = at.get("progress")[0]
        assert "Epoch 3 of 6" in progress.proto.text
        _button(at, "Cancel run").click()
        at.run()
        assert cancelled == ["live1"]
        assert any("Asked it to stop" in i.value for i in at.info)
    finally:
        lock.release()


def test_a_finished_run_is_compared_with_the_active_model_and_can_be_activated(data, constant_model):
    version = _version(data, constant_model)
    _run(
        data,
        "done",
        "succeeded",
        _rows(4, 4),
        version=version.name,
        active_val_accuracy=0.8,
        duration_s=21.0,
        message=f"{version.name} registered: validation accuracy 83.0% vs 80.0% for shipped",
    )
    at = _page()
    assert any("v2 registered" in s.value for s in at.success)
    compare = _frame(at, "Validation set")
    assert list(compare["Validation set"]) == ["All held-out crops", "Label store (held out)", "Rendered glyphs"]
    assert compare.iloc[0]["Change"] == pytest.approx(3.0)
    assert any(m.label.startswith("Validation accuracy · kept epoch") for m in at.metric)
    # The time the whole run took, as the runs table says it, not the training time of the kept epoch.
    took = next(m for m in at.metric if m.label in ("Took", "Elapsed"))
    assert (took.label, took.value) == ("Took", "21 s")
    _button(at, "Activate v2").click()
    at.run()
    assert_clean(at)
    assert registry.active_name(data) == "v2"
    assert any("v2 is now the active model" in s.value for s in at.success)
    # The Recognize page of the same process (no restart; the model cache keyed by the active version)
    # reads with v2 now.
    recognize = AppTest.from_file(APP, default_timeout=TIMEOUT)
    recognize.run()
    assert_clean(recognize)
    assert any("**Model** `v2`" in c.value for c in recognize.sidebar.caption)


def test_a_finished_run_shows_what_it_learnt_and_why_the_gate_decided(data, constant_model):
    version = _version(data, constant_model)
    gate = "accepted: reads 9/10 held-out crops you labeled right vs 6/10 for shipped"
    run = _run(data, "done", "succeeded", _rows(2, 2), version=version.name, gate=gate, message="v2 registered")
    jobs.write_json(
        run / "learnt.json",
        {
            "plates": [
                {
                    "plate": 4,
                    "held_out": False,
                    "truth": "A8C123",
                    "before": "ABC123",
                    "after": "A8C123",
                    "fixed": True,
                    "remembered": True,
                },
                {
                    "plate": 9,
                    "held_out": True,
                    "truth": "0XY11",
                    "before": "OXY11",
                    "after": "OXY11",
                    "fixed": False,
                    "remembered": False,
                },
            ]
        },
    )
    at = _page()
    assert_clean(at)
    assert any(c.value == f"Gate: {gate}" for c in at.caption)
    assert any(
        "the network reads 1 of 2 corrected plates right now; it remembers 1 of them whole" in m.value
        for m in at.markdown
    )
    learnt = _frame(at, "Your label")
    assert list(learnt["Read before"]) == ["ABC123", "OXY11"] and list(learnt["Fixed"]) == [True, False]
    assert list(learnt["Remembered"]) == [True, False]


def test_a_rejected_version_needs_a_confirmation_to_activate(data, constant_model):
    version = _version(data, constant_model, status="rejected")
    _run(data, "done", "rejected", _rows(2, 2), version=version.name)
    at = _page()
    assert any("registered as rejected" in w.value for w in at.warning)
    assert _button(at, "Activate v2 anyway").disabled
    at.checkbox(key="train_force_v2").check().run()
    _button(at, "Activate v2 anyway").click()
    at.run()
    assert registry.active_name(data) == "v2"
    # One story: the panel now says it was rejected and activated anyway, not "not activated".
    assert not any("registered as rejected and not activated" in w.value for w in at.warning)
    assert any("activated anyway, and it is the active model" in i.value for i in at.info)


def test_a_comparison_on_few_labeled_crops_says_so(data, constant_model):
    version = _version(data, constant_model)  # 10 held-out crops from the label store
    _run(data, "done", "succeeded", _rows(2, 2), version=version.name)
    at = _page()
    assert any("rests on 10 held-out crops you labeled: each one moves it by 10 points" in w.value for w in at.warning)


def test_an_interrupted_run_offers_resume(data, monkeypatch):
    run = _run(data, "cut", "running", _rows(1, 6))
    (run / "data.npz").write_bytes(b"")
    calls = []
    monkeypatch.setattr(jobs, "launch", lambda config, folder, resume=None: calls.append(resume))
    at = _page()
    assert any("stopped without finishing" in w.value for w in at.warning)
    _button(at, "Resume").click()
    at.run()
    assert calls == ["cut"]


def test_the_registry_table_activates_and_rolls_back(data, constant_model):
    _version(data, constant_model)
    at = _page()
    assert list(_frame(at, "Trained on")["Version"]) == ["v2", "shipped"]
    at.selectbox(key="train_pick_version").select("v2").run()
    _button(at, "Activate").click()
    at.run()
    assert registry.active_name(data) == "v2"
    _button(at, "Roll back").click()
    at.run()
    assert_clean(at)
    assert registry.active_name(data) == "shipped"


def test_a_corrupt_active_model_falls_back_to_the_last_good_version_with_a_warning(data, constant_model):
    _version(data, constant_model)
    _version(data, constant_model)
    registry.activate("v2", data)
    registry.activate("v3", data)
    (data / "models" / "v3" / "char_cnn.keras").write_bytes(b"garbage")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()  # the Recognize page
    assert_clean(at)
    assert at.get("file_uploader")  # the page still works
    assert any("v3 cannot be used" in w.value and "v2, the last good version" in w.value for w in at.warning)
    assert any("v3 cannot be used" in c.value for c in at.sidebar.caption)
    assert any("`v2`" in c.value for c in at.sidebar.caption)


def test_the_sidebar_names_the_model_as_the_train_page_does(data):
    # One name per model: "shipped" on Train and in the sidebar, its training date beside it.
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert_clean(at)
    version = registry.get("shipped", data).metadata["version"]
    assert any(f"**Model** `shipped` ({version})" in c.value for c in at.sidebar.caption)


def test_the_learned_parts_tab_says_what_each_gate_on_photos_decided(data, constant_model):
    version = _version(data, constant_model)
    meta_file = metadata_path(version.path)
    meta = json.loads(meta_file.read_text())
    reader_line = "reader: the fine-tuned one reads 5/6 gate photos right vs 4 for the parent (store 4->5 of 6); kept"
    network_line = "network: the version reads 3/6 gate photos right vs 5 for the active version; fewer, so the version keeps the active network"
    meta["plate_reader"] = {
        "store_plates": {"train": 20, "held_out": 6},
        "kept": "new",
        "gate": reader_line,
        "network_gate": {"photos": 6, "version_right": 3, "active_right": 5, "kept": "active", "line": network_line},
    }
    meta_file.write_text(json.dumps(meta))
    _run(data, "done", "succeeded", _rows(2, 2), version=version.name, gate="accepted", message="v2 registered")
    at = _page()
    assert_clean(at)
    shown = [m.value for m in at.markdown]
    assert f":material/check: {reader_line}" in shown
    assert f":material/undo: {network_line}" in shown
    assert any("fine-tuned on 20 plates you confirmed (6 held out" in c.value for c in at.caption)
