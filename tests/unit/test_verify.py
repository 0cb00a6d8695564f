"""The plate verifier: junk that reads like a plate (timestamps, grilles, words) is not reported.

Reads are built by hand, so each test states the text, the place and the rule it meets.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from alpr.config import DEFAULT, VerifyConfig
from alpr.pipeline import _choose_plates
from alpr.types import Box, Candidate, PlateRead
from alpr.verify import why_not_a_plate

H = 600  # photo height in pixels


def read(text: str, y: int = 300, confidence: float = 90.0, x: int = 100) -> PlateRead:
    box = Box(x, y, 120, 30)
    return PlateRead(
        box, box, np.zeros((30, 120, 3), np.uint8), (), (), (Candidate(text, confidence, True),), "local/dark", 0.0
    )


def test_a_real_plate_mid_photo_passes():
    assert why_not_a_plate(read("7ABC123"), H, first=True) == ""


def test_a_digit_string_at_the_top_edge_is_a_timestamp():
    assert "overlay" in why_not_a_plate(read("20140522", y=2), H, first=True)


def test_a_plate_at_the_top_edge_with_letters_is_kept():
    assert why_not_a_plate(read("ABC12", y=2), H, first=True) == ""


def test_a_digit_string_mid_photo_is_not_a_timestamp():
    assert why_not_a_plate(read("2050145"), H, first=True) == ""


def test_narrow_strokes_are_a_grille():
    assert "grille" in why_not_a_plate(read("1II1IIJ"), H, first=True)


def test_a_repeated_wide_glyph_is_left_to_the_reader():
    # No rule for "8888": the narrow-stroke rule catches the repeats seen ("1111111", "IIIIIII"),
    # and the test models read every crop as one glyph.
    assert why_not_a_plate(read("AAAAAAA"), H, first=True) == ""


def test_nine_characters_are_too_many():
    assert "more than any plate" in why_not_a_plate(read("ABC123456"), H, first=True)


def test_a_word_may_lead_as_a_vanity_plate_but_not_follow_one():
    assert why_not_a_plate(read("TEXAS"), H, first=True) == ""
    assert "without a digit" in why_not_a_plate(read("TEXAS"), H, first=False)


def test_disabled_verifier_lets_everything_through():
    assert why_not_a_plate(read("20140522", y=2), H, first=True, config=VerifyConfig(enabled=False)) == ""


def test_a_timestamp_read_first_gives_way_to_the_plate_and_says_why():
    stamp, plate = read("20140522", y=0, confidence=95.0), read("7ABC123", confidence=60.0, x=300)
    rejected: list = []
    chosen = _choose_plates([(9.5, stamp), (6.0, plate)], DEFAULT, H, rejected)
    assert chosen == [plate]
    assert [(r.plate, "overlay" in why) for r, why in rejected] == [("20140522", True)]


def test_without_the_verifier_the_timestamp_is_reported_first():
    stamp, plate = read("20140522", y=0, confidence=95.0), read("7ABC123", confidence=60.0, x=300)
    off = replace(DEFAULT, verify=VerifyConfig(enabled=False))
    assert _choose_plates([(9.5, stamp), (6.0, plate)], off, H)[0] is stamp
