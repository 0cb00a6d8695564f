"""After a crash the next start tidies the data folder, says what it found, and goes on.

The crashes are real where that is cheap (a process killed with SIGKILL mid-session); the leftovers
of a crash inside a model save are laid out by hand, exactly as `registry.register` leaves them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from apptest_support import assert_clean
from alpr.training import jobs, registry
from alpr.app.recovery import recover
from alpr.labels import LabelStore
from alpr.paths import DATA_DIR_ENV

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")

# Adds two labeled plate crops, then dies as kill -9 would: no close, no checkpoint, WAL left behind.
_KILLED_WRITER = """
import os, signal, sys
import numpy as np
from alpr.labels.store import LabelStore
store = LabelStore(sys.argv[1])
for seed in range(2):
    image = (np.random.default_rng(seed).random((60, 200)) * 255).astype(np.uint8)
    store.add_labeled_plate(image, "ABC123", plate_crop=True, name=f"p{seed}")
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv(DATA_DIR_ENV, str(folder))
    return folder


def _half_written_version(data: Path) -> Path:
    tmp = registry.models_dir(data) / ".tmp-0123456789ab"
    tmp.mkdir(parents=True)
    (tmp / registry.MODEL_FILE).write_bytes(b"PK\x03\x04 half a zip")
    return tmp


def _interrupted_run(data: Path, epochs: int = 2) -> Path:
    run = jobs.runs_dir(data) / "20261125-120000-abcd"
    run.mkdir(parents=True)
    jobs.write_json(run / "status.json", {"state": "running", "pid": 999_999, "run_id": run.name})
    (run / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e}) + "\n" for e in range(1, epochs + 1)))
    return run


def test_a_clean_data_folder_has_nothing_to_recover(data):
    assert recover(data) == []


def test_a_missing_data_folder_has_nothing_to_recover(tmp_path):
    assert recover(tmp_path / "never-made") == []


def test_a_half_written_model_version_is_removed_and_said(data):
    tmp = _half_written_version(data)
    assert recover(data) == ["removed 1 half-written model file(s) left by a crash; the active model is still shipped"]
    assert not tmp.exists()
    assert [v.name for v in registry.versions(data)] == ["shipped"]


def test_a_half_written_active_file_is_removed_and_the_active_version_kept(data):
    models = registry.models_dir(data)
    models.mkdir(parents=True)
    (models / ".active.json.1234abcd.tmp").write_text('{"version": "v')
    assert recover(data) == ["removed 1 half-written model file(s) left by a crash; the active model is still shipped"]
    assert list(models.iterdir()) == []


def test_a_version_being_written_by_a_live_training_run_is_left_alone(data):
    tmp = _half_written_version(data)
    lock = jobs.TrainLock(data)
    lock.acquire("20261125-130000-live")
    try:
        assert recover(data) == []
    finally:
        lock.release()
    assert tmp.is_dir()


def test_a_training_run_killed_mid_run_is_said_with_its_epochs_and_how_to_go_on(data):
    run = _interrupted_run(data, epochs=2)
    [note] = recover(data)
    assert note == (
        f"training run {run.name} stopped after 2 epoch(s) without finishing; nothing was registered; start a new run"
    )
    assert jobs.read_json(run / "status.json")["state"] == "interrupted"


def test_a_resumable_killed_run_says_how_to_resume_it(data):
    run = _interrupted_run(data)
    (run / "data.npz").write_bytes(b"")
    [note] = recover(data)
    assert note.endswith(f"resume it on the Train page or with `python -m alpr train --resume {run.name}`")


def test_a_killed_run_is_said_once_not_on_every_start(data):
    _interrupted_run(data)
    assert len(recover(data)) == 1
    assert recover(data) == []


def test_a_label_store_left_open_by_a_killed_process_is_checked_and_its_labels_counted(data):
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(data)],
        cwd=ROOT,
        capture_output=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (data / "labels.sqlite-wal").stat().st_size > 0
    [note] = recover(data)
    with LabelStore(data) as store:
        assert store.stats()["plates"] == 2  # both committed plates survived the kill
        labels = store.stats()["labeled"]
    assert note == (
        f"the label database was not closed cleanly (a crash or kill); its check passed and all {labels} committed label(s) are there"
    )


def test_a_label_store_open_in_another_process_is_not_taken_for_a_crash(data):
    with LabelStore(data) as store:
        store.add_labeled_plate(np.zeros((60, 200), np.uint8), "ABC123", plate_crop=True)
        assert (data / "labels.sqlite-wal").stat().st_size > 0
        opener = subprocess.run(
            [
                sys.executable,
                "-c",
                "from alpr.app.recovery import recover; import sys; print(recover(sys.argv[1]))",
                str(data),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        assert opener.stdout.strip() == "[]", opener.stderr[-2000:]
        assert recover(data) == []  # nor open in this very process


def test_the_app_shows_what_it_recovered_in_the_sidebar(data):
    _half_written_version(data)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert_clean(at)
    [expander] = [e for e in at.sidebar.expander if e.label.startswith("Recovered after a crash")]
    assert expander.label == "Recovered after a crash (1)"
    assert [c.value for c in expander.caption] == [
        "Removed 1 half-written model file(s) left by a crash; the active model is still shipped."
    ]
