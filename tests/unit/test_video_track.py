"""Tracking: reads of one car across frames form one group whose plate is voted per character.

The reads are written by hand, so every group count and voted plate here is exact.
"""

from __future__ import annotations

import dataclasses

import pytest

from alpr.types import Box, Candidate
from alpr.video.config import DEFAULT_VIDEO
from alpr.video.track import FrameRead, group_reads, similarity


def read(t: float, plate: str, conf: float, x: int, y: int = 200, w: int = 60, alts=()) -> FrameRead:
    """A read at time t (4 frames a second) of `plate` whose box's left edge is at x."""
    cands = (Candidate(plate, conf, True),) + tuple(Candidate(p, c, True) for p, c in alts)
    return FrameRead(int(t * 4), t, plate, conf, True, Box(x, y, w, w // 2), cands, {"plate": plate})


def test_similarity_is_one_minus_the_edit_distance_per_character():
    assert similarity("ABC1234", "ABC1234") == 1.0
    assert similarity("ABC1234", "A8C1234") == pytest.approx(6 / 7)
    assert similarity("ABC1234", "BC1234") == pytest.approx(6 / 7)
    assert similarity("", "ABC") == 0.0


def test_one_car_crossing_the_frame_is_one_group_with_its_span_and_direction():
    frames = [[read(t / 4, "ABC1234", 90, x=20 + 40 * t)] for t in range(10)]
    (group,) = group_reads(frames)
    assert (group.plate, group.frame_count) == ("ABC1234", 10)
    assert (group.frame_start, group.frame_end, group.time_start_s, group.time_end_s) == (0, 9, 0.0, 2.25)
    assert (group.direction, group.direction_deg) == ("right", 0.0)


def test_two_cars_in_view_at_once_are_two_groups():
    frames = [
        [read(t / 4, "ABC1234", 90, x=20 + 30 * t), read(t / 4, "XYZ987", 85, x=600 - 30 * t, y=260)] for t in range(8)
    ]
    groups = group_reads(frames)
    assert [(g.plate, g.frame_count, g.direction) for g in groups] == [("ABC1234", 8, "right"), ("XYZ987", 8, "left")]


def test_the_vote_reads_better_than_the_best_single_frame():
    # The most confident frame misreads B as 8; two other frames misread other characters.
    # Per character, each position has a majority for the true plate.
    frames = [
        [read(0.00, "A8C1234", 97, x=100)],
        [read(0.25, "ABC1Z34", 91, x=110)],
        [read(0.50, "ABC1234", 80, x=120)],
        [read(0.75, "ABC12J4", 88, x=130)],
        [read(1.00, "ABC1234", 70, x=140)],
    ]
    (group,) = group_reads(frames)
    best_single = max((r for f in frames for r in f), key=lambda r: r.confidence)
    assert best_single.plate == "A8C1234"
    assert group.plate == "ABC1234"
    assert group.best.plate == "ABC1234" and group.best.confidence == 80  # the best read that agrees
    assert [c.plate for c in group.candidates][:1] == ["ABC1234"]
    assert {"A8C1234", "ABC1Z34", "ABC12J4"} <= {c.plate for c in group.candidates}


def test_second_guesses_vote_too():
    # Every frame's first guess has 0 for O at the 4th place; their second guesses agree on O, and
    # two of three first guesses read O: the vote sums both.
    frames = [
        [read(0.00, "ABC0123", 60, x=100, alts=[("ABCO123", 55)])],
        [read(0.25, "ABCO123", 70, x=110, alts=[("ABC0123", 20)])],
        [read(0.50, "ABCO123", 65, x=120, alts=[("ABC0123", 25)])],
    ]
    assert group_reads(frames)[0].plate == "ABCO123"


def test_the_same_plate_after_the_window_is_another_pass():
    later = DEFAULT_VIDEO.window_s + 5
    frames = [
        [read(0.0, "ABC1234", 90, x=100)],
        [read(0.25, "ABC1234", 90, x=110)],
        [read(later, "ABC1234", 90, x=100)],
        [read(later + 0.25, "ABC1234", 90, x=110)],
    ]
    assert [g.time_start_s for g in group_reads(frames)] == [0.0, later]


def test_a_read_seen_in_one_frame_only_is_not_a_vehicle():
    frames = [[read(0.0, "ABC1234", 90, x=100)], [read(0.25, "ABC1234", 90, x=110)], [read(0.5, "VOLVO", 60, x=400)]]
    assert [g.plate for g in group_reads(frames)] == ["ABC1234"]


def test_a_far_read_with_other_text_starts_its_own_group():
    frames = [[read(t / 4, "ABC1234", 90, x=100)] for t in range(3)]
    frames += [[read(0.75 + t / 4, "ABC9999", 90, x=500)] for t in range(3)]
    assert [g.plate for g in group_reads(frames)] == ["ABC1234", "ABC9999"]


def test_a_car_driving_at_the_camera_is_approaching():
    frames = [[read(t / 4, "ABC1234", 90, x=300 - 5 * t, w=40 + 10 * t)] for t in range(6)]
    assert group_reads(frames)[0].direction == "approaching"


def test_groups_and_reads_are_frozen():
    (group,) = group_reads([[read(t / 4, "ABC1234", 90, x=100)] for t in range(3)])
    with pytest.raises(dataclasses.FrozenInstanceError):
        group.plate = "X"
    with pytest.raises(dataclasses.FrozenInstanceError):
        group.best.plate = "X"
