"""`alpr batch` without a model: what it reads (inputs), how rows are stored and resumed (writers),
and the one-line answers to a user's mistakes. Fast: nothing here loads TensorFlow.

The engines, with a real Dask LocalCluster and the shipped model, are in test_batch_engines.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from alpr.batch.config import BatchConfig
from alpr.batch.inputs import BatchInputError, expand_inputs
from alpr.batch.rows import (
    SCHEMA,
    BoxRow,
    CandidateRow,
    CharacterRow,
    PhotoRow,
    PlateRow,
)
from alpr.batch.writers import ResultsError, open_writer, read_rows

REPO = Path(__file__).resolve().parents[2]


def row(name: str, plate: str = "ABC123", error: str | None = None) -> PhotoRow:
    if error:
        return PhotoRow(f"/photos/{name}", None, None, (), 12.5, error)
    chars = tuple(CharacterRow(c, 0.9876, BoxRow(10 + 12 * i, 20, 10, 18)) for i, c in enumerate(plate))
    plates = (
        PlateRow(
            plate,
            91.234,
            BoxRow(5, 15, 90, 30),
            (CandidateRow(plate, 91.234, True), CandidateRow(plate[:-1] + "8", 40.5, False)),
            chars,
        ),
    )
    return PhotoRow(f"/photos/{name}", 960, 640, plates, 321.0)


ROWS = [row("a.jpg"), row("b.jpg", "7XYZ99"), row("bad.jpg", error="/photos/bad.jpg is not an image")]


# --- inputs -----------------------------------------------------------------------------------


def test_a_folder_is_read_recursively_and_a_list_file_names_paths_and_file_uris(tmp_path):
    (tmp_path / "archive" / "2024" / "01").mkdir(parents=True)
    for name in ("archive/top.jpg", "archive/2024/01/deep.png", "archive/2024/notes.md", "archive/.hidden.jpg"):
        (tmp_path / name).write_bytes(b"x")
    listing = tmp_path / "more.txt"
    listing.write_text(
        f"# photos from the toll plaza\nrelative.jpg\n\nfile://{tmp_path}/uri%20photo.jpg\n{tmp_path}/archive/top.jpg\n"
    )

    paths = expand_inputs([str(tmp_path / "archive"), str(listing)])

    assert paths == [
        str(tmp_path / "archive/2024/01/deep.png"),
        str(tmp_path / "archive/top.jpg"),
        str(tmp_path / "relative.jpg"),
        str(tmp_path / "uri photo.jpg"),
    ]  # the repeat kept once


def test_inputs_that_name_no_photo_are_refused_in_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "blank.txt").write_text("# nothing\n")
    with pytest.raises(BatchInputError, match="no image files under the folder"):
        expand_inputs([str(tmp_path / "empty")])
    with pytest.raises(BatchInputError, match="names no photos"):
        expand_inputs([str(tmp_path / "blank.txt")])
    with pytest.raises(BatchInputError, match="only local paths and file:// URIs"):
        expand_inputs(["s3://bucket/photo.jpg"])


# --- rows and writers -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_both_formats_give_back_the_rows_written(tmp_path, suffix):
    out = tmp_path / f"results{suffix}"
    with open_writer(out, resume=False) as writer:
        writer.write(ROWS[:2])
        writer.write(ROWS[2:])
    assert list(read_rows(out)) == ROWS


def test_parquet_is_a_folder_of_parts_with_nested_columns_in_the_one_schema(tmp_path):
    out = tmp_path / "results.parquet"
    with open_writer(out, resume=False, config=BatchConfig(rows_per_part=2)) as writer:
        writer.write(ROWS)
    parts = sorted(p.name for p in out.iterdir())
    assert parts == ["part-00000.parquet"]  # the three rows arrived together: one part
    table = pq.read_table(out)  # any Parquet reader takes the folder as one table
    assert table.schema.equals(SCHEMA)
    assert table.column("plates").to_pylist()[1][0]["candidates"][0] == {
        "plate": "7XYZ99",
        "confidence": 91.234,
        "matches_template": True,
    }


def test_parquet_resume_skips_whole_parts_and_drops_a_part_cut_mid_write(tmp_path):
    out = tmp_path / "results.parquet"
    with open_writer(out, resume=False, config=BatchConfig(rows_per_part=1)) as writer:
        writer.write(ROWS[:1])
        writer.write(ROWS[1:2])
    (out / ".part-00002.parquet.tmp").write_bytes(b"PAR1 half a row group, no footer")  # the kill

    with open_writer(out, resume=True) as writer:
        assert writer.done == {ROWS[0].path, ROWS[1].path}
        writer.write(ROWS[2:])

    assert sorted(p.name for p in out.iterdir()) == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert list(read_rows(out)) == ROWS


def test_jsonl_resume_drops_a_last_line_cut_short(tmp_path):
    out = tmp_path / "results.jsonl"
    with open_writer(out, resume=False) as writer:
        writer.write(ROWS[:2])
    whole = out.read_bytes()
    out.write_bytes(whole[: len(whole) - 40])  # killed while writing the second line

    with open_writer(out, resume=True) as writer:
        assert writer.done == {ROWS[0].path}
        writer.write(ROWS[1:])

    assert list(read_rows(out)) == ROWS
    assert [json.loads(line)["path"] for line in out.read_text().splitlines()] == [r.path for r in ROWS]


def test_existing_results_are_kept_unless_resumed(tmp_path):
    out = tmp_path / "results.jsonl"
    out.write_text("")
    with pytest.raises(ResultsError, match="already exists: add --resume"):
        open_writer(out, resume=False)
    with pytest.raises(ResultsError, match="RESULTS.parquet or RESULTS.jsonl"):
        open_writer(tmp_path / "results.csv", resume=False)


# --- the CLI's one-line answers ---------------------------------------------------------------


def alpr(*args, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "alpr", "batch", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_dask_the_dask_engine_says_how_to_install_it(tmp_path):
    # A sitecustomize that makes `import distributed` fail, as on a machine without Dask.
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text("import sys\nsys.modules['distributed'] = None\n")
    (tmp_path / "photo.jpg").write_bytes(b"x")
    pythonpath = os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])

    done = alpr(
        tmp_path / "photo.jpg",
        "--out",
        tmp_path / "r.parquet",
        "--engine",
        "dask",
        env_extra={"PYTHONPATH": pythonpath},
    )

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "--engine dask needs Dask distributed" in done.stderr and "pip install 'dask[distributed]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "r.parquet").exists()


def test_a_bad_out_or_an_empty_folder_fails_before_any_model_loads(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "photo.jpg").write_bytes(b"x")
    (tmp_path / "old.jsonl").write_text("{}\n")
    for args, message in [
        ((tmp_path / "empty", "--out", tmp_path / "r.parquet"), "no image files under the folder"),
        ((tmp_path / "photo.jpg", "--out", tmp_path / "old.jsonl"), "already exists: add --resume"),
        ((tmp_path / "photo.jpg", "--out", tmp_path / "r.parquet", "--address", "tcp://x:1"), "needs --engine dask"),
    ]:
        done = alpr(*args)
        assert (done.returncode, "Traceback" in done.stderr) == (2, False), done.stderr
        assert message in done.stderr
    assert (tmp_path / "old.jsonl").read_text() == "{}\n"


def test_progress_says_rate_and_time_left_and_the_last_line_sums_up():
    import io

    from alpr.batch.progress import Progress

    log = io.StringIO()
    progress = Progress(total=30, skipped=5, every_s=0, stream=log, tty=False)
    progress.update(ROWS)  # 3 rows, one unusable

    line = log.getvalue().strip()
    assert line.startswith("batch 3/30 photos (5 done before), 1 unusable, ") and "photos/s, ETA " in line
    assert progress.finish("r.parquet").startswith("batch done: 3 photos read (1 unusable, 2 plates) in ")
