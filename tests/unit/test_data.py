"""Labeled datasets on disk, the hold-out split, crop harvesting, and the evaluation arithmetic."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import make_plate
from PIL import Image

from alpr.data import LabeledPlate, harvest_crops, is_holdout, read_dataset
from alpr.errors import DatasetError
from alpr.evaluate import PhotoResult, _chars_right, format_table, summarize
from alpr.types import ALL_CLASSES, Box

# --- read_dataset ------------------------------------------------------------------------------


def relative(items, root) -> dict[str, LabeledPlate]:
    return {p.path.relative_to(root).as_posix(): p for p in items}


def test_read_dataset_reads_both_layouts_from_sub_folders(benchmark_dir, benchmark_labels):
    items = relative(read_dataset(benchmark_dir), benchmark_dir)
    assert sorted(items) == sorted(benchmark_labels)


def test_read_dataset_takes_plate_box_and_group_from_the_txt_files(benchmark_dir, benchmark_labels):
    items = relative(read_dataset(benchmark_dir), benchmark_dir)
    for name in ("us/car_a.jpg", "us/car_b.jpg"):
        expected = benchmark_labels[name]
        assert (items[name].plate, items[name].box, items[name].group) == (expected.plate, expected.box, "us")


def test_read_dataset_normalizes_labels_csv_plates_and_gives_crops_no_box(benchmark_dir):
    items = relative(read_dataset(benchmark_dir), benchmark_dir)
    # labels.csv says "aaa-aaa" and "abc 123"
    assert (items["crops/crop_a.png"].plate, items["crops/crop_a.png"].box) == ("AAAAAA", None)
    assert (items["crops/crop_b.png"].plate, items["crops/crop_b.png"].group) == ("ABC123", "crops")


def test_read_dataset_is_sorted_by_path(benchmark_dir):
    paths = [str(p.path) for p in read_dataset(benchmark_dir)]
    assert paths == sorted(paths)


def test_read_dataset_reads_a_single_layout_folder(benchmark_dir):
    assert [p.path.name for p in read_dataset(benchmark_dir / "us")] == ["car_a.jpg", "car_b.jpg"]


def test_read_dataset_skips_txt_files_whose_photo_is_missing(tmp_path):
    (tmp_path / "gone.txt").write_text("gone.jpg\t1\t2\t3\t4\tABC123\n")
    (tmp_path / "here.txt").write_text("here.png\t1\t2\t3\t4\tXYZ789\n")
    Image.new("RGB", (16, 16)).save(tmp_path / "here.png")
    assert [(p.path.name, p.plate, p.box) for p in read_dataset(tmp_path)] == [("here.png", "XYZ789", Box(1, 2, 3, 4))]


def test_read_dataset_skips_csv_rows_without_a_file_or_a_plate(tmp_path):
    Image.new("RGB", (16, 16)).save(tmp_path / "a.png")
    Image.new("RGB", (16, 16)).save(tmp_path / "b.png")
    (tmp_path / "labels.csv").write_text("file,plate\na.png,AB1\nb.png,\nc.png,CD2\n")
    assert [(p.path.name, p.plate) for p in read_dataset(tmp_path)] == [("a.png", "AB1")]


def test_missing_folder_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match=r"does not exist or is not a folder"):
        read_dataset(tmp_path / "nowhere")


def test_folder_without_labels_is_a_dataset_error_describing_both_layouts(tmp_path):
    Image.new("RGB", (16, 16)).save(tmp_path / "photo.jpg")
    with pytest.raises(DatasetError, match=r"no labeled plates in .*NAME\.txt.*labels\.csv"):
        read_dataset(tmp_path)


def test_labels_csv_without_a_plate_column_is_a_dataset_error(tmp_path):
    (tmp_path / "labels.csv").write_text("file,text\na.png,ABC123\n")
    with pytest.raises(DatasetError, match=r"labels\.csv needs a header with 'file' and 'plate' columns"):
        read_dataset(tmp_path)


# --- hold-out split ----------------------------------------------------------------------------


def test_is_holdout_is_stable_for_a_name():
    assert [is_holdout(f"car{i}.jpg") for i in range(50)] == [is_holdout(f"car{i}.jpg") for i in range(50)]


def test_is_holdout_depends_on_the_file_name_only(tmp_path):
    names = [f"car{i}.jpg" for i in range(50)]
    assert [is_holdout(n) for n in names] == [is_holdout(tmp_path / "us" / n) for n in names]
    assert [is_holdout(n) for n in names] == [
        is_holdout(LabeledPlate(tmp_path / "eu" / n, "ABC123", None, "eu")) for n in names
    ]


def test_is_holdout_selects_about_a_fifth():
    share = np.mean([is_holdout(f"{i:05d}-{i * 7919 % 1000:03d}.jpg") for i in range(1000)])
    assert 0.10 <= share <= 0.30


# --- harvest_crops -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crop_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("harvest")
    rows = ["file,plate"]
    for i, (text, seed) in enumerate([("ABC123", 1), ("7ABC123", 2), ("ABC1234", 3)]):
        Image.fromarray(make_plate(text, seed).image).save(folder / f"p{i}.png")
        rows.append(f"p{i}.png,{text}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_harvest_gives_one_crop_per_character_when_counts_match(crop_folder):
    harvest = harvest_crops(read_dataset(crop_folder))
    assert (harvest.plates_used, harvest.plates_skipped) == (3, 0)
    assert len(harvest.images) == len(harvest.labels) == 6 + 7 + 7


def test_harvest_labels_are_class_indices_in_reading_order(crop_folder):
    harvest = harvest_crops(read_dataset(crop_folder))
    assert [ALL_CLASSES[i] for i in harvest.labels] == list("ABC123" + "7ABC123" + "ABC1234")


def test_harvest_crops_are_classifier_inputs(crop_folder):
    images = harvest_crops(read_dataset(crop_folder)).images
    assert len(images) > 0
    for image in images:
        assert image.shape == (32, 32)
        assert image.dtype == np.float32


def test_harvest_skips_a_plate_whose_count_does_not_match_without_a_classifier(crop_folder, tmp_path):
    folder = tmp_path / "wrong"
    shutil.copytree(crop_folder, folder)
    (folder / "labels.csv").write_text("file,plate\np0.png,ABC1\np1.png,7ABC123\n")  # p0 shows 6
    harvest = harvest_crops(read_dataset(folder))
    assert (harvest.plates_used, harvest.plates_skipped) == (1, 1)
    assert [ALL_CLASSES[i] for i in harvest.labels] == list("7ABC123")


def test_harvest_skips_unreadable_images(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    (tmp_path / "labels.csv").write_text("file,plate\nbroken.png,ABC123\n")
    harvest = harvest_crops(read_dataset(tmp_path))
    assert (harvest.plates_used, harvest.plates_skipped, harvest.images) == (0, 1, [])


# --- evaluation arithmetic ---------------------------------------------------------------------


def test_chars_right_of_an_exact_read_is_its_length():
    assert _chars_right("ABC123", "ABC123") == 6


def test_chars_right_counts_a_substitution_as_one_wrong():
    assert _chars_right("ABD123", "ABC123") == 5


def test_chars_right_of_nothing_read_is_zero():
    assert _chars_right("", "ABC") == 0


def test_chars_right_counts_a_missing_character_as_one_wrong():
    assert _chars_right("ABC12", "ABC123") == 5


def test_chars_right_is_never_negative():
    assert _chars_right("XXXXXXXXXX", "AB") == 0


def result(
    group: str, truth: str, read: str, ms: float, detected: bool = True, candidates=None, extra: int = 0
) -> PhotoResult:
    return PhotoResult(
        path=f"{group}/{truth}.jpg",
        group=group,
        truth=truth,
        read=read,
        candidates=tuple(candidates if candidates is not None else [read]),
        detected=detected,
        char_correct=_chars_right(read, truth),
        ms=ms,
        stage_ms={"detect": 10.0, "segment": 2.0, "classify": 3.0, "assemble": 1.0, "total": ms},
        extra=extra,
    )


RESULTS = [
    result("us", "ABC123", "ABC123", 100.0),
    result("us", "XYZ789", "XYZ788", 200.0, candidates=["XYZ788", "XYZ789"], extra=3),
    result("eu", "AB123CD", "", 50.0, detected=False, candidates=[]),
]


def test_summarize_gives_a_row_per_group_then_all():
    assert [r["group"] for r in summarize(RESULTS)] == ["eu", "us", "all"]


def test_summarize_counts_detected_top1_and_topn():
    rows = {r["group"]: r for r in summarize(RESULTS)}
    assert {g: (r["photos"], r["detected"], r["top1"], r["topn"]) for g, r in rows.items()} == {
        "eu": (1, 0, 0, 0),
        "us": (2, 2, 1, 2),
        "all": (3, 2, 1, 2),
    }


def test_summarize_char_accuracy_is_characters_right_over_characters():
    rows = {r["group"]: r for r in summarize(RESULTS)}
    assert rows["us"]["char_accuracy"] == round(11 / 12, 4)
    assert rows["eu"]["char_accuracy"] == 0.0
    assert rows["all"]["char_accuracy"] == round(11 / 19, 4)


def test_summarize_times_are_median_and_90th_percentile():
    rows = {r["group"]: r for r in summarize(RESULTS)}
    assert (rows["all"]["median_ms"], rows["all"]["p90_ms"]) == (100.0, 200.0)
    assert rows["all"]["stage_median_ms"] == {"detect": 10.0, "segment": 2.0, "classify": 3.0, "assemble": 1.0}


def test_summarize_of_one_group_has_no_all_row():
    assert [r["group"] for r in summarize(RESULTS[:2])] == ["us"]


def test_format_table_has_a_header_a_rule_and_one_line_per_row():
    lines = format_table(summarize(RESULTS), topn=10).splitlines()
    assert lines[0].split()[:7] == ["group", "photos", "detected", "top-1", "top-10", "chars", "median"]
    assert set(lines[1]) == {"-"}
    assert [line.split()[0] for line in lines[2:]] == ["eu", "us", "all"]


def test_format_table_row_shows_counts_percentages_and_times():
    lines = format_table(summarize(RESULTS), topn=10).splitlines()
    assert lines[3].split() == [
        "us",
        "2",
        "2",
        "1",
        "(",
        "50.0%)",
        "2",
        "(100.0%)",
        "91.7%",
        "150.0",
        "200.0",
        "1.50",
        "10.0/2.0/3.0/1.0",
        "|",
        "10.0/2.0/3.0/1.0",
    ]


def test_summarize_counts_plates_reported_away_from_the_labeled_one_per_photo():
    rows = {r["group"]: r for r in summarize(RESULTS)}
    assert (rows["us"]["extra_plates"], rows["us"]["extra_per_photo"]) == (3, 1.5)
    assert rows["all"]["extra_per_photo"] == 1.0


def test_summarize_gives_each_stage_its_90th_percentile():
    rows = {r["group"]: r for r in summarize(RESULTS)}
    assert rows["all"]["stage_p90_ms"] == {"detect": 10.0, "segment": 2.0, "classify": 3.0, "assemble": 1.0}


def test_format_table_names_the_topn_column_after_topn():
    assert "top-5" in format_table(summarize(RESULTS), topn=5).splitlines()[0]


def test_score_counts_the_plates_reported_away_from_the_labeled_box():
    from alpr.evaluate import _score
    from alpr.types import Candidate, PlateRead, Recognition

    def plate(text, box):
        return PlateRead(box, box, np.zeros((4, 4, 3), np.uint8), (), (), (Candidate(text, 90.0, True),), "x", 0.0)

    truth = Box(100, 100, 80, 20)
    plates = (
        plate("20140522", Box(0, 0, 90, 10)),
        plate("ABC123", Box(98, 101, 82, 19)),
        plate("IIII", Box(300, 300, 50, 20)),
    )
    image = np.zeros((400, 400, 3), np.uint8)
    rec = Recognition(image, image[..., 0] / 255.0, 1.0, np.zeros((400, 400), np.int32), (), (), plates, "us", 10)
    scored = _score(LabeledPlate(Path("car.jpg"), "ABC123", truth, "us"), rec, 10.0)
    assert (scored.read, scored.top1, scored.extra) == ("ABC123", True, 2)
