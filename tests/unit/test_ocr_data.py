"""Readers for OpenALPR's OCR training layouts, on tiny files drawn in the test: character folders
named `CHAR-V-N_PLATE.jpg` and Tesseract box sheets, with hold-out splits by plate, never by file."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from alpr.data import LabeledPlate
from alpr.errors import DatasetError
from alpr.training import ocr_data
from alpr.training.ocr_data import (
    CharSample,
    as_arrays,
    holdout_group,
    plate_holdout,
    read_box_sheet,
    read_char_folder,
    read_ocr_root,
    split,
)
from alpr.types import ALL_CLASSES


def glyph_file(path, size=(22, 34)):
    img = Image.new("L", size, 255)
    ImageDraw.Draw(img).rectangle((4, 4, size[0] - 5, size[1] - 5), outline=0, width=3)
    img.save(path)


@pytest.fixture
def char_folder(tmp_path):
    folder = tmp_path / "br" / "chars"
    folder.mkdir(parents=True)
    for name in (
        "0-0-10_ABC1234.jpg",
        "0-1-10_ABC1234.jpg",
        "o-0-3_ABC1234.jpg",
        "7-2-1_XYZ9876.jpg",
        "combined.jpg",
        "#-0-1_XYZ9876.jpg",
    ):
        glyph_file(folder / name)
    return folder


def test_char_folder_reads_class_from_the_first_field_upper_cased_and_plate_after_the_underscore(char_folder):
    samples = read_char_folder(char_folder, "br")
    assert sorted((s.label, s.group) for s in samples) == [
        ("0", "ABC1234"),
        ("0", "ABC1234"),
        ("7", "XYZ9876"),
        ("O", "ABC1234"),
    ]


def test_char_folder_gives_classifier_sized_crops_in_unit_range(char_folder):
    samples = read_char_folder(char_folder, "br", size=32)
    assert samples
    assert all(s.image.shape == (32, 32) and s.image.dtype == np.float32 for s in samples)
    assert all(0.0 <= s.image.min() and s.image.max() <= 1.0 for s in samples)


def test_uk_names_with_and_without_dashes_in_the_timestamp_are_one_plate(tmp_path):
    for name in (
        "5-0-CROPPED_-2014-11-04.185357.-IMAGE.185357.-image.jpg",
        "B-1-CROPPED_2014-11-04.185357.IMAGE.185357.image.jpg",
    ):
        glyph_file(tmp_path / name)
    assert len({s.group for s in read_char_folder(tmp_path, "gb")}) == 1


def test_a_missing_char_folder_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        read_char_folder(tmp_path / "nope", "br")


def sheet(tmp_path, rows: list[str], name="leu.test.exp0"):
    """A sheet of boxes: one row per string, 20x30 px per character, origin at the bottom-left."""
    w, h = 400, 60 * len(rows) + 40
    img = Image.new("L", (w, h), 255)
    lines = []
    draw = ImageDraw.Draw(img)
    for r, text in enumerate(rows):
        top = 20 + 60 * r
        for k, ch in enumerate(text):
            left = 10 + 25 * k
            draw.rectangle((left + 3, top + 3, left + 16, top + 26), outline=0, width=3)
            lines.append(f"{ch} {left} {h - (top + 30)} {left + 20} {h - top} 0")
    img.save(tmp_path / f"{name}.tif")
    (tmp_path / f"{name}.box").write_text("\n".join(lines) + "\n")
    return tmp_path / f"{name}.box"


def test_box_sheet_reads_one_sample_per_box_with_its_class(tmp_path):
    samples = read_box_sheet(sheet(tmp_path, ["AB1", "xY"]), "eu-test")
    assert [s.label for s in samples] == ["A", "B", "1", "X", "Y"]


def test_box_sheet_crops_the_box_from_the_bottom_left_origin(tmp_path):
    # The box holds a dark outline: its crop must have ink; a crop from the wrong origin is blank.
    samples = read_box_sheet(sheet(tmp_path, ["A"]), "eu-test")
    assert samples[0].image.min() < 0.2


def test_box_sheet_groups_neighbouring_boxes_of_a_row_into_runs(tmp_path):
    samples = read_box_sheet(sheet(tmp_path, ["A" * 10, "B" * 3]), "eu-test")
    assert [s.group for s in samples] == ["row0-run0"] * 8 + ["row0-run1"] * 2 + ["row1-run0"] * 3


def test_box_sheet_without_its_image_is_a_dataset_error(tmp_path):
    box = sheet(tmp_path, ["A"])
    box.with_suffix(".tif").unlink()
    with pytest.raises(DatasetError, match="no sheet"):
        read_box_sheet(box, "eu-test")


def test_ocr_root_names_sources_and_skips_the_sheets_made_from_char_folders(tmp_path, char_folder):
    for sub in ("eu/input", "br/input"):
        (tmp_path / sub).mkdir(parents=True)
    sheet(tmp_path / "eu" / "input", ["AB"], name="leu.belgium.exp0")
    sheet(tmp_path / "br" / "input", ["AB"], name="lbr.brazil.exp0")
    assert sorted(read_ocr_root(tmp_path)) == ["br", "eu-belgium"]


def test_split_keeps_every_variant_of_a_plate_on_one_side():
    samples = [CharSample(np.ones((32, 32), np.float32), "A", "br", f"PLATE{k % 40}") for k in range(400)]
    train, held = split(samples)
    assert train and held
    assert not {s.group for s in train} & {s.group for s in held}


def test_split_holds_out_about_a_fifth_of_the_plates():
    groups = [f"P{k}" for k in range(1000)]
    assert 150 < sum(holdout_group(f"br/{g}") for g in groups) < 250


def test_detector_crops_of_one_plate_fall_on_one_side_of_the_split(tmp_path):
    a = LabeledPlate(tmp_path / "cam1_AXK3125.jpg", "AXK3125", None, "br")
    b = LabeledPlate(tmp_path / "cam7_AXK3125.jpg", "AXK3125", None, "br")
    assert plate_holdout(a) == plate_holdout(b)


def test_as_arrays_gives_class_indices():
    x, y = as_arrays([CharSample(np.zeros((32, 32), np.float32), "B", "gb", "p")])
    assert x.shape == (1, 32, 32) and y.tolist() == [ALL_CLASSES.index("B")]


def test_char_accuracy_counts_confusions_with_a_real_classifier(constant_classifier):
    # The constant model reads every crop as "A".
    samples = [CharSample(np.ones((32, 32), np.float32), label, "br", "p") for label in "AA0"]
    report = ocr_data.char_accuracy(constant_classifier, samples)
    assert (report["n"], report["accuracy"], report["confusions"]) == (3, round(2 / 3, 4), [("0->A", 1)])
