"""The engines with the shipped model: a real Dask LocalCluster of 2 workers against the local
process pool and `recognize --json`, a worker killed mid-batch, a batch stopped and resumed.

The model is whatever is shipped today, so no plate string is asserted: the engines are compared
with each other and with `recognize --json`, row for row (all but the milliseconds). One cluster
serves the module, so each worker loads TensorFlow once, plus once more for the worker restarted
after the kill.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_scene
from PIL import Image

from alpr.batch.config import BatchConfig
from alpr.batch.job import model_settings, run_batch
from alpr.batch.writers import read_rows

distributed = pytest.importorskip("distributed")

REPO = Path(__file__).resolve().parents[2]
SCENES = [("ABC1234", 2, "us"), ("7ABC123", 3, "us"), ("AB123CD", 4, "eu"), ("BRA2E19", 5, "br")]
PHOTOS = len(SCENES) + 2  # and two unusable files


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """4 synthetic photos in nested folders, a text file named .jpg and a JPEG cut in half."""
    root = tmp_path_factory.mktemp("archive")
    for i, (text, seed, style) in enumerate(SCENES):
        folder = root / f"day{i % 2}"
        folder.mkdir(exist_ok=True)
        Image.fromarray(make_scene(text, seed, style).image).save(folder / f"{text}.jpg", quality=92)
    (root / "notes.jpg").write_text("not a photo")
    buffer = io.BytesIO()
    Image.fromarray(make_scene("CUT0001", 8).image).save(buffer, "JPEG")
    (root / "day1" / "cut.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 3])
    return root


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def settings():
    return model_settings(None, "us", 5)


@pytest.fixture(scope="module")
def dask_rows(archive, cluster, tmp_path_factory) -> list:
    """The archive read by `python -m alpr batch --engine dask --address` the cluster, as users run it."""
    out = tmp_path_factory.mktemp("dask") / "results.parquet"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "alpr",
            "batch",
            str(archive),
            "--out",
            str(out),
            "--engine",
            "dask",
            "--address",
            cluster.scheduler_address,
            "--topn",
            "5",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"batch done: {PHOTOS} photos read (2 unusable" in done.stderr
    return sorted(read_rows(out), key=lambda r: r.path)


def same(a: list, b: list) -> bool:
    return [r.path for r in a] == [r.path for r in b] and all(x.same_read(y) for x, y in zip(a, b))


def test_dask_rows_equal_the_local_engines(dask_rows, settings, archive, tmp_path):
    out = tmp_path / "local.jsonl"
    summary = run_batch([str(archive)], str(out), settings, engine="local", workers=1)
    local_rows = sorted(read_rows(out), key=lambda r: r.path)
    assert summary.photos == PHOTOS
    assert sum(len(r.plates) for r in dask_rows) >= 3  # the comparison below is about plates read
    assert same(dask_rows, local_rows)


def test_dask_rows_hold_what_recognize_json_prints(dask_rows, archive):
    photos = [r.path for r in dask_rows]
    done = subprocess.run(
        [sys.executable, "-m", "alpr", "recognize", "--json", "--topn", "5", *photos],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    printed = {obj["filename"]: obj for obj in map(json.loads, done.stdout.splitlines())}
    assert list(printed) == photos
    for row in dask_rows:
        obj = printed[row.path]
        if row.error:
            assert obj["error"] == row.error
            continue
        assert (obj["img_width"], obj["img_height"]) == (row.width, row.height)
        assert [(r["plate"], r["confidence"], r["coordinates"][0], r["coordinates"][2]) for r in obj["results"]] == [
            (p.plate, p.confidence, {"x": p.box.x, "y": p.box.y}, {"x": p.box.x + p.box.w, "y": p.box.y + p.box.h})
            for p in row.plates
        ]
        assert [[(c["plate"], c["confidence"]) for c in r["candidates"]] for r in obj["results"]] == [
            [(c.plate, c.confidence) for c in p.candidates] for p in row.plates
        ]
        assert [[c["char"] for c in r["characters"]] for r in obj["results"]] == [
            [c.char for c in p.characters] for p in row.plates
        ]


def test_unusable_files_are_rows_with_a_one_line_error(dask_rows):
    errors = {Path(r.path).name: r.error for r in dask_rows if r.error}
    assert sorted(errors) == ["cut.jpg", "notes.jpg"]
    assert all("\n" not in e and Path(e.split(" ")[0]).name in errors for e in errors.values())
    assert len(dask_rows) - len(errors) == len(SCENES)


def test_a_stopped_batch_resumes_where_it_stopped(dask_rows, settings, archive, cluster, tmp_path):
    out = tmp_path / "stopped.parquet"

    def stop(rows):
        raise KeyboardInterrupt  # Ctrl-C after the first chunk

    small = BatchConfig(chunk_size=2, rows_per_part=2)
    with pytest.raises(KeyboardInterrupt):
        run_batch(
            [str(archive)],
            str(out),
            settings,
            engine="dask",
            address=cluster.scheduler_address,
            config=small,
            on_rows=stop,
        )
    first = list(read_rows(out))
    assert len(first) == 2  # the chunk read before the stop was saved

    summary = run_batch(
        [str(archive)], str(out), settings, engine="dask", address=cluster.scheduler_address, resume=True, config=small
    )

    assert (summary.skipped, summary.photos) == (2, PHOTOS - 2)
    assert same(sorted(read_rows(out), key=lambda r: r.path), dask_rows)


# Last: the worker the nanny restarts loads TensorFlow again, which would slow any test after it.
def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(dask_rows, settings, archive, cluster, tmp_path):
    client = distributed.Client(cluster.scheduler_address)
    pids = client.run(os.getpid)  # {worker address: pid}
    killed = []

    def kill_a_worker(rows):
        # After the first chunk, a worker in the middle of a chunk: that chunk must run again elsewhere.
        busy = [address for address, keys in client.processing().items() if keys]
        if not killed and busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(pids[busy[0]])

    out = tmp_path / "killed.parquet"
    summary = run_batch(
        [str(archive)],
        str(out),
        settings,
        engine="dask",
        address=cluster.scheduler_address,
        config=BatchConfig(chunk_size=1),
        on_rows=kill_a_worker,
    )
    rows = sorted(read_rows(out), key=lambda r: r.path)
    after = client.run(os.getpid)
    client.close()

    assert killed and killed[0] not in after.values()  # it really died (the nanny started another)
    assert summary.photos == PHOTOS
    assert same(rows, dask_rows)  # each photo exactly once, read as before
