"""`python -m alpr train` end to end, shrunk to seconds: glyph pretraining, harvest, fine-tune, save."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alpr.classify import load_classifier
from alpr.types import ALL_CLASSES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained(benchmark_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "tiny.keras"
    cmd = [
        sys.executable,
        "-m",
        "alpr",
        "train",
        "--data",
        str(benchmark_dir),
        "--out",
        str(out),
        "--glyphs-per-class",
        "12",
        "--pretrain-epochs",
        "1",
        "--finetune-epochs",
        "1",
        "--rounds",
        "1",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return out, proc


def test_training_writes_a_model_that_loads(trained):
    out, proc = trained
    assert proc.returncode == 0, proc.stderr[-2000:]
    classifier = load_classifier(out)
    assert classifier.info.classes == ALL_CLASSES
    probs = classifier.probabilities(np.ones((2, 32, 32), np.float32))
    assert probs.shape == (2, len(ALL_CLASSES))


def test_training_writes_metadata_with_data_counts_and_the_command(trained):
    out, _ = trained
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["classes"] == list(ALL_CLASSES)
    assert meta["input_size"] == 32
    assert meta["data"]["glyphs_pretrain"] == 12 * len(ALL_CLASSES)
    assert meta["command"].startswith("python -m alpr train --data ")
    assert meta["device"] in ("CPU: no GPU found",) or meta["device"].startswith("GPU: ")
    assert [h["stage"] for h in meta["history"]] == ["pretrain", "finetune1"]


def test_training_prints_one_fixed_format_line_per_epoch(trained):
    _, proc = trained
    lines = [line for line in proc.stdout.splitlines() if line.startswith("stage ")]
    assert len(lines) == 2
    fields = lines[0].split()
    assert fields[:4] == ["stage", "pretrain", "epoch", "1/1"]
    assert [fields[i] for i in (4, 6, 8, 10, 12, 14)] == ["loss", "acc", "val_loss", "val_acc", "lr", "samples/s"]


def test_training_without_a_data_folder_says_so():
    proc = subprocess.run(
        [sys.executable, "-m", "alpr", "train", "--data", "/no/such/folder"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --data /no/such/folder is not a folder"


def test_an_imagenet_backbone_without_weights_is_refused_with_how_to_get_them(benchmark_dir, tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "alpr",
            "train",
            "--data",
            str(benchmark_dir),
            "--backbone",
            "mobilenet_v2",
            "--out",
            str(tmp_path / "m.keras"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "needs ImageNet weights" in proc.stderr
    assert not (tmp_path / "m.keras").exists()
