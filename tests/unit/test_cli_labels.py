"""`alpr labels import|export|add-plate|stats`, run in-process through `register` and `run`.

`labels()` builds a parser the way the main CLI does, parses, runs, and prints an `AlprError` as
one line with exit status 2, as the main CLI's wrapper does. The shipped model is only loaded by
`add-plate`, and nothing here asserts what it reads.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alpr import synth
from alpr.cli import labels as cli_labels
from alpr.errors import AlprError
from alpr.labels.store import DB_NAME, LabelStore
from alpr.types import ALL_CLASSES


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def labels(capsys):
    def run(*argv) -> Run:
        parser = argparse.ArgumentParser(prog="alpr")
        cli_labels.register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(["labels", *map(str, argv)])
        try:
            code = cli_labels.run(args)
        except AlprError as exc:
            print(f"error: {exc}", file=sys.stderr)
            code = 2
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def stats(labels, data_dir) -> dict:
    done = labels("--data-dir", data_dir, "stats", "--json")
    assert done.code == 0, done.err
    return json.loads(done.out)


@pytest.fixture
def plate_file(tmp_path) -> Path:
    """A plate crop reading ABC123 (the segmentation tests check it cuts into 6 characters)."""
    path = tmp_path / "plate.png"
    Image.fromarray(synth.render_plate("ABC123", np.random.default_rng(1), "us", height=60)[0]).save(path)
    return path


@pytest.fixture
def benchmark(tmp_path) -> Path:
    """OpenALPR plate-crop layout: crops/labels.csv with three plates, one of them unreadable."""
    root = tmp_path / "bench" / "crops"
    root.mkdir(parents=True)
    for file, text, seed in [("a.png", "ABC123", 1), ("b.png", "KLM902", 7)]:
        Image.fromarray(synth.render_plate(text, np.random.default_rng(seed), "us", height=60)[0]).save(root / file)
    (root / "broken.png").write_bytes(b"not a png")
    (root / "labels.csv").write_text("file,plate\na.png,ABC123\nb.png,KLM902\nbroken.png,XYZ789\n")
    return root.parent


# --- stats -------------------------------------------------------------------------------------


def test_stats_json_of_a_new_store(labels, tmp_path):
    assert stats(labels, tmp_path / "data") == {
        "photos": 0,
        "plates": 0,
        "confirmed_plates": 0,
        "characters": 0,
        "labeled": 0,
        "per_class": dict.fromkeys(ALL_CLASSES, 0),
        "corrections": 0,
        "pending_training": 0,
        "last_training": None,
    }


def test_stats_table(labels, tmp_path):
    done = labels("--data-dir", tmp_path / "data", "stats")
    assert done.code == 0
    assert done.out.splitlines() == [
        f"label store {tmp_path / 'data' / DB_NAME}",
        "  photos 0, plates 0 (0 with confirmed text)",
        "  characters 0, labeled 0, corrections of the model 0",
        "  labels waiting for training 0 (never trained)",
        "  per class (none)",
    ]


def test_data_dir_is_accepted_after_the_action(labels, tmp_path):
    assert labels("stats", "--data-dir", tmp_path / "after").code == 0
    assert (tmp_path / "after" / DB_NAME).is_file()


def test_data_dir_defaults_to_alpr_data_dir(labels, tmp_path, monkeypatch):
    monkeypatch.setenv("ALPR_DATA_DIR", str(tmp_path / "env"))
    assert labels("stats").code == 0
    assert (tmp_path / "env" / DB_NAME).is_file()


def test_unusable_data_dir_is_one_line_and_status_2(labels, tmp_path):
    (tmp_path / "file").write_text("x")
    done = labels("--data-dir", tmp_path / "file", "stats")
    assert done.code == 2
    assert (
        done.err
        == f"error: the data folder {tmp_path / 'file'} is a file, not a folder; set ALPR_DATA_DIR or --data-dir to a folder\n"
    )


# --- add-plate ---------------------------------------------------------------------------------


def test_add_plate_crop_labels_its_characters(labels, tmp_path, plate_file):
    done = labels("--data-dir", tmp_path / "data", "add-plate", plate_file, "--plate", "abc-123", "--plate-crop")
    assert (done.code, done.out) == (0, "plate 1: ABC123, 6 characters labeled\n")
    counts = stats(labels, tmp_path / "data")
    assert (counts["plates"], counts["characters"], counts["labeled"], counts["pending_training"]) == (1, 6, 6, 6)
    assert {c: n for c, n in counts["per_class"].items() if n} == dict.fromkeys("ABC123", 1)


def test_add_plate_photo_stores_the_plate_text(labels, tmp_path):
    path = tmp_path / "car.png"
    Image.fromarray(synth.render_scene("ABC1234", np.random.default_rng(2), "us")[0]).save(path)
    done = labels("--data-dir", tmp_path / "data", "add-plate", path, "--plate", "ABC1234")
    assert done.code == 0 and done.out.startswith("plate 1: ABC1234")
    with LabelStore.open(tmp_path / "data") as store:
        [plate] = store.recent_plates()
        assert (plate.name, plate.text_confirmed) == ("car.png", "ABC1234")


def test_add_plate_with_bad_text_stores_nothing(labels, tmp_path, plate_file):
    done = labels("--data-dir", tmp_path / "data", "add-plate", plate_file, "--plate", "AB?123", "--plate-crop")
    assert done.code == 2
    assert (
        done.err
        == "error: plate text 'AB?123' has '?', which are not plate characters; use 0-9, A-Z and '_' for a segment that is not a character\n"
    )
    assert stats(labels, tmp_path / "data")["plates"] == 0


def test_add_plate_with_a_missing_image_fails_in_one_line(labels, tmp_path):
    done = labels("--data-dir", tmp_path / "data", "add-plate", tmp_path / "nope.jpg", "--plate", "ABC123")
    assert done.code == 2
    assert done.err == f"error: no such file: {tmp_path / 'nope.jpg'}; check the path.\n"


# --- import ------------------------------------------------------------------------------------


def test_import_benchmark_reports_progress_and_unreadable_files(labels, tmp_path, benchmark, monkeypatch):
    monkeypatch.setattr(cli_labels, "PROGRESS_EVERY", 1)
    done = labels("--data-dir", tmp_path / "data", "import", benchmark)
    assert done.code == 1  # one photo could not be read
    err = done.err.splitlines()
    assert [line for line in err if line.startswith("import ")] == [
        "import 1/3 plates",
        "import 2/3 plates",
        "import 3/3 plates",
    ]
    assert [line for line in err if line.startswith("  skipped: ")] == [
        '  skipped: broken.png is not an image Pillow can read (9 bytes, starting with the text "not a png"); '
        "save it as JPEG, PNG, WebP, BMP, TIFF or GIF."
    ]
    assert done.out.startswith(f"imported 2 plate(s) from {benchmark} into {tmp_path / 'data' / DB_NAME}: ")
    assert done.out.rstrip().endswith("0 already stored, 1 unreadable")
    assert stats(labels, tmp_path / "data")["plates"] == 2


def test_import_of_a_missing_path_fails_in_one_line(labels, tmp_path):
    done = labels("--data-dir", tmp_path / "data", "import", tmp_path / "missing")
    assert (done.code, done.err) == (2, f"error: nothing to import at {tmp_path / 'missing'}: no such file or folder\n")


# --- export ------------------------------------------------------------------------------------


@pytest.fixture
def filled(labels, tmp_path, plate_file) -> Path:
    data = tmp_path / "data"
    assert labels("--data-dir", data, "add-plate", plate_file, "--plate", "ABC123", "--plate-crop").code == 0
    return data


def test_export_folder_then_import_elsewhere_keeps_per_class(labels, tmp_path, filled):
    done = labels("--data-dir", filled, "export", tmp_path / "out")
    assert (done.code, done.out) == (0, f"exported 6 labeled characters in 6 classes to {tmp_path / 'out'}\n")
    assert (tmp_path / "out" / "labels.csv").is_file() and len(list((tmp_path / "out" / "A").glob("*.png"))) == 1
    assert labels("--data-dir", tmp_path / "other", "import", tmp_path / "out").code == 0
    assert stats(labels, tmp_path / "other")["per_class"] == stats(labels, filled)["per_class"]


def test_export_zip_then_import_elsewhere_keeps_per_class(labels, tmp_path, filled):
    done = labels("--data-dir", filled, "export", tmp_path / "labels.zip", "--zip")
    assert (done.code, done.out) == (0, f"exported 6 labeled characters in 6 classes to {tmp_path / 'labels.zip'}\n")
    assert sorted(zipfile.ZipFile(tmp_path / "labels.zip").namelist()) == [
        "1/4.png",
        "2/5.png",
        "3/6.png",
        "A/1.png",
        "B/2.png",
        "C/3.png",
        "labels.csv",
    ]
    assert labels("--data-dir", tmp_path / "other", "import", tmp_path / "labels.zip").code == 0
    assert stats(labels, tmp_path / "other")["per_class"] == stats(labels, filled)["per_class"]
