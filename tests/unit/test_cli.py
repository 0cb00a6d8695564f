"""`python -m alpr`'s commands, checking stdout, stderr and exit status as a user sees them.

The commands run in this process (`alpr.cli.main`, what `python -m alpr` calls), which keeps this
lane fast; `tests/slow/test_cli_process.py` runs the real `python -m alpr` in a subprocess. Every
run that reads photos uses the constant model (`--model`, see conftest) except the plain table,
which checks that the shipped default model loads. Each command runs once per module and several
tests look at its output.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alpr import synth
from alpr.cli import main
from alpr.paths import PROGRESS_ENV
from conftest import make_plate, make_scene


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def alpr(*args: str, progress: bool = False) -> Run:
    """Run a CLI command; stderr is not a terminal, so progress is plain lines unless `progress` asks for the bar."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as env, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        env.delenv(PROGRESS_ENV, raising=False)
        if progress:
            env.setenv(PROGRESS_ENV, "1")
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:  # argparse refuses bad arguments this way
            code = exit_.code if isinstance(exit_.code, int) else 1
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli")
    out = {
        "car1": folder / "car1.jpg",
        "car2": folder / "car2.png",
        "plate": folder / "plate.png",
        "not_image": folder / "notes.jpg",
        "missing": folder / "missing.jpg",
        "unlabeled": folder / "unlabeled",
    }
    Image.fromarray(make_scene("ABC1234", 2).image).save(out["car1"], quality=95)
    Image.fromarray(make_scene("7ABC123", 3).image).save(out["car2"])
    Image.fromarray(make_plate("ABC123", 1).image).save(out["plate"])
    out["not_image"].write_text("a text file renamed to .jpg\n")
    out["unlabeled"].mkdir()
    Image.fromarray(make_plate("XYZ987", 4).image).save(out["unlabeled"] / "lonely.png")
    return out


@pytest.fixture(scope="module")
def json_run(files, constant_model) -> Run:
    return alpr("recognize", "--json", "--model", constant_model, files["car1"], files["car2"])


@pytest.fixture(scope="module")
def mixed_run(files, constant_model) -> Run:
    return alpr(
        "recognize",
        "--json",
        "--model",
        constant_model,
        files["car1"],
        files["not_image"],
        files["missing"],
        files["car2"],
    )


# --- recognize --json --------------------------------------------------------------------------

TOP_KEYS = {"version", "data_type", "epoch_time", "img_width", "img_height", "processing_time_ms", "results"}
RESULT_KEYS = {
    "plate",
    "confidence",
    "matches_template",
    "plate_index",
    "region",
    "region_confidence",
    "processing_time_ms",
    "requested_topn",
    "coordinates",
    "candidates",
}


def test_recognize_json_succeeds(json_run):
    assert json_run.returncode == 0, json_run.stderr


def test_recognize_json_prints_one_line_per_image_in_argument_order(json_run, files):
    assert [d["filename"] for d in json_run.json_lines] == [str(files["car1"]), str(files["car2"])]


def test_recognize_json_has_openalpr_top_level_keys(json_run):
    assert len(json_run.json_lines) == 2
    for d in json_run.json_lines:
        assert TOP_KEYS <= set(d)
        assert d["version"] == 2
        assert d["data_type"] == "alpr_results"
        assert (d["img_width"], d["img_height"]) == (960, 640)
        assert isinstance(d["epoch_time"], int)


def test_recognize_json_results_have_openalpr_keys(json_run):
    results = [r for d in json_run.json_lines for r in d["results"]]
    assert results
    for r in results:
        assert RESULT_KEYS <= set(r)
        assert r["requested_topn"] == 10
        assert r["region"] == ""
        assert r["matches_template"] in (0, 1)


def test_recognize_json_plate_indexes_count_from_zero(json_run):
    assert any(d["results"] for d in json_run.json_lines), "the photos' plates were found"
    for d in json_run.json_lines:
        assert [r["plate_index"] for r in d["results"]] == list(range(len(d["results"])))


def test_recognize_json_coordinates_are_four_corners_clockwise(json_run):
    assert any(d["results"] for d in json_run.json_lines), "the photos' plates were found"
    for d in json_run.json_lines:
        for r in d["results"]:
            (tl, tr, br, bl) = r["coordinates"]
            assert all(set(c) == {"x", "y"} for c in (tl, tr, br, bl))
            assert tl["y"] == tr["y"] and bl["y"] == br["y"] and tl["x"] == bl["x"] and tr["x"] == br["x"]
            assert tl["x"] < tr["x"] and tl["y"] < bl["y"]


def test_recognize_json_candidates_have_plate_confidence_and_template(json_run):
    assert any(d["results"] for d in json_run.json_lines), "the photos' plates were found"
    for d in json_run.json_lines:
        for r in d["results"]:
            assert r["candidates"]
            assert all(set(c) == {"plate", "confidence", "matches_template"} for c in r["candidates"])
            assert r["candidates"][0]["plate"] == r["plate"]


def test_recognize_json_adds_characters_with_their_topk(json_run):
    assert any(d["results"] for d in json_run.json_lines), "the photos' plates were found"
    for d in json_run.json_lines:
        for r in d["results"]:
            assert len(r["characters"]) == len(r["plate"])  # the constant model rejects nothing
            for c in r["characters"]:
                assert {"box", "line", "char", "confidence", "topk"} <= set(c)
                assert set(c["box"]) == {"x", "y", "w", "h"}


def test_recognize_json_first_plate_is_where_the_plate_is(json_run):
    # car1 is the `scene` fixture: its plate at x=372 y=403 w=139 h=76.
    first = json_run.json_lines[0]["results"][0]
    xs = [c["x"] for c in first["coordinates"]]
    ys = [c["y"] for c in first["coordinates"]]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    assert 372 <= cx <= 372 + 139 and 403 <= cy <= 403 + 76
    assert first["plate"] == "AAAAAAA"


# --- unreadable inputs -------------------------------------------------------------------------


def test_unreadable_files_exit_with_status_1(mixed_run):
    assert mixed_run.returncode == 1


def test_unreadable_files_get_an_error_line_in_their_place(mixed_run, files):
    lines = mixed_run.json_lines
    assert [d["filename"] for d in lines] == [str(files[k]) for k in ("car1", "not_image", "missing", "car2")]
    assert set(lines[1]) == {"filename", "error"}
    assert set(lines[2]) == {"filename", "error"}
    assert "not an image" in lines[1]["error"]
    assert "no such file" in lines[2]["error"]


def test_good_files_are_still_read_beside_bad_ones(mixed_run):
    lines = mixed_run.json_lines
    assert lines[0]["results"] and lines[3]["results"]


def test_each_unreadable_file_gets_one_stderr_line_naming_it(mixed_run, files):
    for key in ("not_image", "missing"):
        mentions = [line for line in mixed_run.stderr.splitlines() if str(files[key]) in line]
        assert len(mentions) == 1
        assert mentions[0].startswith(f"{files[key]}: ")


def test_unreadable_files_print_no_traceback(mixed_run):
    assert "Traceback" not in mixed_run.stderr


# --- other modes -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crop_run(files, constant_model) -> Run:
    return alpr("recognize", "--json", "--plate-crop", "--model", constant_model, files["plate"], progress=True)


def test_plate_crop_reads_a_rendered_plate_as_one_plate(crop_run):
    run = crop_run
    assert run.returncode == 0, run.stderr
    (line,) = run.json_lines
    assert (line["img_width"], line["img_height"]) == (120, 60)
    (result,) = line["results"]
    assert result["plate"] == "AAAAAA"
    assert all(0 <= c["x"] <= 120 and 0 <= c["y"] <= 60 for c in result["coordinates"])


def test_plain_output_is_a_table_headed_by_the_file_name(files):
    run = alpr("recognize", files["car1"])  # the shipped model: its reads are not checked
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"{files['car1']}: 960x640, ")
    assert " plate(s), " in lines[0] and lines[0].endswith(" ms")
    assert lines[1].startswith("  plate 0: at x=") or lines[1] == "  no plate found"
    assert not run.stdout.lstrip().startswith("{")


def test_topn_of_zero_is_rejected_by_the_argument_parser(files):
    run = alpr("recognize", "--topn", "0", files["car1"])
    assert run.returncode == 2
    assert "expected 1 or more, got 0" in run.stderr
    assert run.stdout == ""


def test_unknown_country_is_rejected_by_the_argument_parser(files):
    run = alpr("recognize", "--country", "xx", files["car1"])
    assert run.returncode == 2
    assert "invalid choice: 'xx'" in run.stderr


def test_missing_model_is_a_one_line_error_with_status_2(files, tmp_path):
    run = alpr("recognize", "--model", tmp_path / "none.keras", files["car1"])
    assert run.returncode == 2
    assert f"error: no model file at {tmp_path / 'none.keras'}" in run.stderr
    assert "Traceback" not in run.stderr


# --- batches: folders, progress, the summary line --------------------------------------------

SUMMARY = re.compile(
    r"^(\d+) photos: (\d+) read, (\d+) failed, (\d+) plates found; "
    r"\d+\.\d s in all, median (\d+|-) ms per photo; peak memory (\d+) MB$"
)


@pytest.fixture(scope="module")
def batch_folder(tmp_path_factory) -> Path:
    """Three small street photos, a text file named .jpg, and what a folder argument must skip:
    a .txt file, a hidden file and a subfolder's photo. Small photos keep the batch fast."""
    folder = tmp_path_factory.mktemp("batch")
    for name, (text, seed) in {"b.jpg": ("7ABC123", 3), "a.png": ("ABC1234", 2), "c.png": ("4KXM218", 11)}.items():
        image, _ = synth.render_scene(text, np.random.default_rng(seed), "us", size=(480, 320))
        Image.fromarray(image).save(folder / name)
    (folder / "d notes.jpg").write_text("a text file renamed to .jpg\n")
    (folder / "readme.txt").write_text("not an image type\n")
    (folder / ".hidden.png").write_bytes(b"macOS resource fork, not an image")
    (folder / "sub").mkdir()
    Image.fromarray(make_plate("XYZ987", 4).image).save(folder / "sub" / "inner.png")
    return folder


@pytest.fixture(scope="module")
def batch_run(batch_folder, constant_model) -> Run:
    return alpr("recognize", "--json", "--model", constant_model, batch_folder, progress=True)


def _summary(run: Run) -> re.Match:
    lines = run.stderr.splitlines()
    match = SUMMARY.match(lines[-1]) if lines else None
    assert match, run.stderr[-500:]
    return match


def test_a_folder_is_read_as_the_images_directly_inside_it_by_name(batch_run, batch_folder):
    names = [d["filename"] for d in batch_run.json_lines]
    assert names == [str(batch_folder / n) for n in ("a.png", "b.jpg", "c.png", "d notes.jpg")]


def test_a_batch_keeps_stdout_to_one_json_object_per_line(batch_run):
    lines = batch_run.stdout.splitlines()
    assert len(lines) == 4
    assert all(line.startswith("{") and line.endswith("}") for line in lines)
    assert "\r" not in batch_run.stdout


def test_a_bad_file_in_a_batch_gets_its_error_and_the_rest_are_read(batch_run, batch_folder):
    assert batch_run.returncode == 1
    *good, bad = batch_run.json_lines
    assert bad == {"filename": str(batch_folder / "d notes.jpg"), "error": bad["error"]}
    assert "is not an image" in bad["error"]
    assert all("results" in d for d in good)
    assert f"{batch_folder / 'd notes.jpg'}: " in batch_run.stderr
    assert "Traceback" not in batch_run.stderr


def test_a_batch_draws_a_progress_bar_on_stderr_up_to_the_last_photo(batch_run):
    frames = [f for f in re.split(r"[\r\n]", batch_run.stderr) if f.startswith("recognize [")]
    assert [f.split("] ")[1].split()[0] for f in frames] == ["0/4", "1/4", "2/4", "3/4", "4/4"]
    assert frames[-1].startswith("recognize [" + "#" * 30 + "]")


def test_a_batch_ends_with_one_summary_line_counting_what_stdout_shows(batch_run):
    plates = sum(len(d.get("results", [])) for d in batch_run.json_lines)
    total, read, failed, found, median, peak = _summary(batch_run).groups()
    assert (total, read, failed, found) == ("4", "3", "1", str(plates))
    assert int(median) > 0
    assert 100 < int(peak) < 8000  # MB: TensorFlow alone is a few hundred


def test_without_a_terminal_a_batch_prints_no_bar_but_its_summary(mixed_run):
    assert "\r" not in mixed_run.stderr
    assert _summary(mixed_run).groups()[:3] == ("4", "2", "2")


def test_a_single_photo_prints_no_progress_and_no_summary(crop_run):
    assert crop_run.stderr.strip() == ""


def test_a_folder_without_images_exits_2_with_one_line_saying_so(batch_folder, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no photos here\n")
    run = alpr("recognize", batch_folder / "a.png", empty)
    assert run.returncode == 2
    assert (
        run.stderr
        == f"error: no image files in the folder {empty} (looked for .jpg, .jpeg, .png, .webp, .bmp, .tif, .tiff, .gif)\n"
    )
    assert run.stdout == ""


# --- eval --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def eval_table(benchmark_dir, constant_model) -> Run:
    return alpr("eval", benchmark_dir, "--model", constant_model)


@pytest.fixture(scope="module")
def eval_json(benchmark_dir, constant_model) -> Run:
    return alpr("eval", benchmark_dir, "--json", "--model", constant_model)


def test_eval_succeeds(eval_table):
    assert eval_table.returncode == 0, eval_table.stderr


def test_eval_table_names_the_model_and_dataset(eval_table, benchmark_dir):
    assert eval_table.stdout.splitlines()[0] == f"model constant-A on {benchmark_dir}"


def test_eval_table_has_detected_and_top1_columns(eval_table):
    header = eval_table.stdout.splitlines()[1]
    assert header.split()[:5] == ["group", "photos", "detected", "top-1", "top-10"]


def test_eval_table_has_a_row_per_group_and_one_for_all(eval_table):
    rows = eval_table.stdout.split("\n\n")[0].splitlines()[3:]
    assert [r.split()[0] for r in rows] == ["crops", "us", "all"]
    assert [r.split()[1] for r in rows] == ["2", "2", "4"]  # photos


def test_eval_table_ends_with_the_goal_and_the_kinds_of_miss(eval_table):
    goal, kinds = eval_table.stdout.split("\n\n")[1:3]
    assert goal.splitlines()[0].split()[:6] == ["set", "files", "top-1", "exact", "plate", "goal"]
    # Neither car is read right: a US photo's goal is 85%, so both are missing; a folder named
    # "crops" names no country, so it has no goal.
    assert goal.splitlines()[1].split()[:6] == ["crops", "(crops)", "2", "1", "(50.0%)", "-"]
    assert goal.splitlines()[2].split()[:7] == ["us", "2", "0", "(0.0%)", "≥", "85%", "2"]
    assert kinds.splitlines()[1].split() == ["read", "right", "1", "0"]


def test_eval_markdown_prints_the_readme_tables(benchmark_dir, constant_model):
    run = alpr("eval", benchmark_dir, "--markdown", "--model", constant_model)
    assert run.returncode == 0, run.stderr
    title, goal, kinds, confidence = run.stdout.strip().split("\n\n")
    assert title == f"model constant-A on {benchmark_dir}"
    assert goal.splitlines()[1] == "|---|---|---|---|---|---|---|---|---|"
    assert goal.splitlines()[3].startswith("| us | 2 | 0 (0.0%) | ≥ 85% | 2 more | 0 | ")
    # The constant model's AAAAAAA has the length of both cars' plates.
    assert kinds.splitlines()[3] == "| plate read, same length, wrong characters | 1 | 2 |"
    assert confidence.splitlines()[0] == "| confidence shown | plates read | right | share right |"
    # Every file is read (2 crops, 2 cars); one crop is right.
    bands = [line.split(" | ")[1:3] for line in confidence.splitlines()[2:]]
    assert sum(int(n) for n, _ in bands) == 4 and sum(int(r) for _, r in bands) == 1


def test_eval_json_summary_rows_have_the_documented_keys(eval_json):
    assert eval_json.returncode == 0, eval_json.stderr
    summary = json.loads(eval_json.stdout)["summary"]
    keys = {"group", "photos", "detected", "top1", "topn", "char_accuracy", "median_ms", "p90_ms", "stage_median_ms"}
    assert [r["group"] for r in summary] == ["crops", "us", "all"]
    for row in summary:
        assert keys <= set(row)
        assert set(row["stage_median_ms"]) == {"detect", "segment", "classify", "assemble"}


def test_eval_json_counts_what_the_constant_model_reads(eval_json):
    rows = {r["group"]: r for r in json.loads(eval_json.stdout)["summary"]}
    # The constant model reads "AAAAAA" on both crops (one labelled so) and "AAAAAAA" on both cars.
    assert {g: (r["photos"], r["detected"], r["top1"], r["topn"]) for g, r in rows.items()} == {
        "crops": (2, 2, 1, 1),
        "us": (2, 2, 0, 0),
        "all": (4, 4, 1, 1),
    }
    # Characters right = length - edit distance: AAAAAA/AAAAAA 6, AAAAAA/ABC123 1, AAAAAAA/ABC1234 1,
    # AAAAAAA/7ABC123 1.
    assert rows["crops"]["char_accuracy"] == round(7 / 12, 4)
    assert rows["us"]["char_accuracy"] == round(2 / 14, 4)
    assert rows["all"]["char_accuracy"] == round(9 / 26, 4)


def test_eval_json_times_are_positive(eval_json):
    rows = json.loads(eval_json.stdout)["summary"]
    assert rows
    for row in rows:
        assert 0 < row["median_ms"] <= row["p90_ms"]


def test_eval_of_a_folder_without_labels_exits_2_saying_so(files):
    run = alpr("eval", files["unlabeled"])
    assert run.returncode == 2
    assert f"error: no labeled plates in {files['unlabeled']}" in run.stderr
    assert "Traceback" not in run.stderr


def test_eval_of_a_missing_folder_exits_2_saying_so(tmp_path):
    run = alpr("eval", tmp_path / "nowhere")
    assert run.returncode == 2
    assert "does not exist or is not a folder" in run.stderr
