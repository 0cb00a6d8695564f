"""`python -m alpr` as users start it: a real process, its exit status, stdout and stderr.

`tests/unit/test_cli.py` checks every command's output in this process; here the entry point
itself is run, once for a good read and once for a bad file, so the module wiring and the exit
statuses that scripts rely on are proven end to end.
"""

from __future__ import annotations

import json

from PIL import Image

from conftest import make_scene
from train_helpers import run_cli


def run_alpr(*args):
    return run_cli(*args, timeout=180)[0]


def test_python_m_alpr_reads_a_photo_as_one_openalpr_json_line(tmp_path, constant_model):
    photo = tmp_path / "car.png"
    Image.fromarray(make_scene("ABC1234", 2).image).save(photo)
    done = run_alpr("recognize", "--json", "--model", constant_model, photo)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    read = json.loads(line)
    assert read["filename"] == str(photo)
    assert read["results"], "the rendered plate is found"


def test_python_m_alpr_exits_1_on_a_bad_file_with_one_line_and_no_traceback(tmp_path, constant_model):
    bad = tmp_path / "notes.jpg"
    bad.write_text("a text file renamed to .jpg\n")
    done = run_alpr("recognize", "--json", "--model", constant_model, bad)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if "notes.jpg" in line], done.stderr


def test_python_m_alpr_refuses_a_bad_argument_with_status_2(tmp_path):
    done = run_alpr("recognize", "--topn", "0", tmp_path / "x.jpg")
    assert done.returncode == 2
    assert "topn" in done.stderr
