"""A full disk while saving a label or a model: a clear message, and the store and registry unchanged.

The disk is real: tests/disk_full_scenario.py runs in a private mount namespace (`unshare`) on a
tmpfs of a few megabytes that it fills to the last byte, so SQLite, Keras and the registry meet
the same ENOSPC they would on a full data disk. Skipped where namespaces are not allowed.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "tests" / "disk_full_scenario.py"
MODEL = ROOT / "models" / "char_cnn.keras"
DISK_FULL = "the disk is full"


def _can_mount_tmpfs(folder: Path) -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True
    )
    return probe.returncode == 0


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("small-disk")
    if not _can_mount_tmpfs(folder):
        pytest.skip("this machine does not allow a private tmpfs (unshare -rm mount)")
    # 8 MB: room for the store and a few model versions (~4 MB each is the shipped model's size).
    script = f'mount -t tmpfs -o size=8m tmpfs "{folder}" && exec "{sys.executable}" "{SCENARIO}" "{folder}" "{MODEL}"'
    run = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_the_scenario_really_filled_the_disk(outcome):
    assert outcome["free_bytes_when_full"] == 0


@pytest.mark.parametrize("action", ["set_label", "add_plate", "undo"])
def test_a_label_save_on_a_full_disk_says_the_disk_is_full(outcome, action):
    assert outcome[action].startswith("StoreError: cannot write the label database")
    assert outcome[action].endswith(f"{DISK_FULL}; free some space")


def test_a_full_disk_changes_nothing_in_the_label_store(outcome):
    assert outcome["store_while_full"] == outcome["store_before"]


def test_the_labels_saved_before_the_disk_filled_are_all_there_after(outcome):
    before, after = outcome["store_before"], outcome["store_after"]
    assert (after["plates"], after["characters"], after["labeled"]) == (
        before["plates"],
        before["characters"],
        before["labeled"],
    )
    assert after["labels"].keys() == before["labels"].keys()


def test_the_same_store_saves_again_once_space_is_freed(outcome):
    assert outcome["set_label_after"] == "ok"
    assert "Q" in [label for labels in outcome["store_after"]["labels"].values() for label in labels]


def test_the_cli_reports_a_full_disk_in_one_line_with_status_2(outcome):
    assert outcome["cli_when_full"]["status"] == 2
    assert outcome["cli_when_full"]["stderr"][-1].startswith("error: cannot write the label database")
    assert DISK_FULL in outcome["cli_when_full"]["stderr"][-1]
    assert not any("Traceback" in line for line in outcome["cli_when_full"]["stderr"])


@pytest.mark.parametrize(
    "action, message",
    [
        ("register", "RegistryError: cannot write a model version under"),
        ("activate", "RegistryError: cannot write"),
    ],
)
def test_a_model_save_on_a_full_disk_says_the_disk_is_full(outcome, action, message):
    assert outcome[action].startswith(message)
    assert f"{DISK_FULL}; free some space and try again (the registry is unchanged)" in outcome[action]


def test_a_full_disk_leaves_the_registry_and_active_model_unchanged(outcome):
    assert outcome["registry_while_full"] == outcome["registry_before"]


def test_a_failed_model_save_leaves_no_half_written_files(outcome):
    assert outcome["registry_while_full"]["leftovers"] == []


def test_a_model_registers_again_once_space_is_freed(outcome):
    assert outcome["register_after"] == "ok"
    assert len(outcome["registry_after"]["versions"]) == len(outcome["registry_before"]["versions"]) + 1
    assert outcome["registry_after"]["active"] == outcome["registry_before"]["active"]
