"""A rendered clip read end to end: three cars enter, cross and leave; one group per car with its
plate, and the CLI's OpenALPR group lines.

The shipped model reads the renderer's plates at this size reliably (every car's plate, in most of
its frames), so these tests assert exact plates; the vote is what makes them exact even in the
frames where a car is half out of view.
"""

from __future__ import annotations

import json

import pytest

from alpr.cli import main
from alpr.video import synthclip
from alpr.video.config import DEFAULT_VIDEO
from alpr.video.reader import read_clip

PLATES = ("ABC1234", "7XYZ432", "KLM5678")
SECONDS = 6.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    cars = synthclip.traffic(SECONDS, plates=PLATES)
    path = tmp_path_factory.mktemp("clips") / "traffic.mp4"
    return synthclip.encode(synthclip.render_frames(cars, size=(640, 360), seconds=SECONDS), path), cars


@pytest.fixture(scope="module")
def result(clip, classifier):
    return read_clip(clip[0], classifier)


def test_each_car_is_one_group_with_its_plate_and_direction(result, clip):
    _, cars = clip
    assert [g.plate for g in result.groups] == list(PLATES)
    assert [g.direction for g in result.groups] == [car.direction for car in cars] == ["right", "left", "right"]
    for group, car in zip(result.groups, cars):
        assert car.enter_s <= group.time_start_s < group.time_end_s <= car.leave_s
        assert group.frame_count >= 3 and group.crop is not None and group.crop.ndim == 3


def test_the_default_sampling_reads_two_frames_a_second(result):
    assert len(result.frames) == SECONDS * DEFAULT_VIDEO.default_fps
    assert result.warnings == ()


def test_a_blurred_clip_still_gives_each_car_its_plate(tmp_path, classifier):
    cars = synthclip.traffic(SECONDS, plates=PLATES)
    path = synthclip.encode(
        synthclip.render_frames(cars, size=(640, 360), seconds=SECONDS, blur=0.8), tmp_path / "blurred.webm"
    )
    assert [g.plate for g in read_clip(path, classifier).groups] == list(PLATES)


def test_the_cli_prints_one_alpr_group_line_per_car_and_a_line_per_frame(clip, capsys):
    path, _ = clip
    assert main(["recognize", str(path), "--every", "5", "--json", "--frames"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    frames = [x for x in lines if x["data_type"] == "alpr_results"]
    groups = [x for x in lines if x["data_type"] == "alpr_group"]
    assert [f["frame"] for f in frames] == list(range(0, 60, 5))
    assert all(f["time_s"] == pytest.approx(f["frame"] / 10) and f["filename"] == str(path) for f in frames)
    assert [g["best_plate_number"] for g in groups] == list(PLATES)
    first = groups[0]
    assert first["best_plate"]["plate"] == "ABC1234" and first["best_plate"]["coordinates"]
    assert first["candidates"][0]["plate"] == "ABC1234"
    assert first["frame_start"] <= first["best_plate"]["frame"] <= first["frame_end"]
    assert first["time_start_s"] < first["time_end_s"] and first["travel_direction"] == pytest.approx(0, abs=10)
    assert {"best_confidence", "filename", "travel_direction"} <= set(first)


def test_the_cli_says_in_one_line_why_a_clip_cannot_be_read(tmp_path, capsys):
    (tmp_path / "empty.mp4").write_bytes(b"")
    synthclip.encode_audio_only(tmp_path / "memo.mov")
    assert main(["recognize", str(tmp_path / "empty.mp4"), str(tmp_path / "memo.mov")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert [line.split(":")[0] for line in err] == ["error", "error"]
    assert "0 bytes" in err[0] and "no video stream" in err[1] and "Traceback" not in "".join(err)


def test_every_and_fps_cannot_both_be_given(clip, capsys):
    with pytest.raises(SystemExit):
        main(["recognize", str(clip[0]), "--every", "2", "--fps", "3"])
    assert "not allowed with argument" in capsys.readouterr().err
