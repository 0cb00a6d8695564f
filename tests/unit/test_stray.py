"""overrule_stray_ends: a thin mark at either end of a row (the plate's frame, a bolt) that the
classifier read as a character becomes "not a character" when its size or spacing says so."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from alpr.config import DEFAULT, ReadConfig
from alpr.stray import overrule_stray_ends
from alpr.types import REJECT, Box, CharCrop, Prediction


# --- thin marks at a row's ends -------------------------------------------------------------------
# A row of characters 10 px wide and 24 px tall, 2 px apart: x = 0, 12, 24, ...


def _row(text: str, last: Box | None = None, lines: tuple[int, ...] | None = None):
    boxes = [Box(12 * i, 0, 10, 24) for i in range(len(text))]
    if last is not None:
        boxes[-1] = last
    blank = np.zeros((32, 32), np.float32)
    chars = tuple(CharCrop(b, (lines or (0,) * len(text))[i], blank) for i, b in enumerate(boxes))
    preds = tuple(Prediction(ch, 0.9, ((ch, 0.9),)) for ch in text)
    return chars, preds


def _overruled(chars, preds) -> str:
    return "".join(p.char for p in overrule_stray_ends(chars, preds))


def test_a_thin_mark_taller_than_the_row_at_its_end_is_not_a_character():
    chars, preds = _row("ABC1231", last=Box(72, -4, 4, 32))
    assert _overruled(chars, preds) == "ABC123_"


def test_a_thin_mark_set_apart_at_the_start_of_the_row_is_not_a_character():
    chars, preds = _row("IABC123")
    chars = (replace_box(chars[0], Box(-14, 0, 4, 24)),) + chars[1:]
    assert _overruled(chars, preds) == "_ABC123"


def test_the_overruled_mark_says_why_and_what_the_classifier_read():
    chars, preds = _row("ABC1231", last=Box(72, -4, 4, 32))
    note = overrule_stray_ends(chars, preds)[-1].note
    assert (
        note
        == "a mark at the row's end (32 px tall where the row's characters are 24), not a character; the classifier read 1 at 90%"
    )


def test_a_one_of_the_rows_size_and_spacing_at_its_end_stays_a_character():
    chars, preds = _row("ABC1231")
    assert _overruled(chars, preds) == "ABC1231"


def test_a_wide_character_set_apart_at_the_end_stays_a_character():
    chars, preds = _row("ABC123L", last=Box(90, 0, 10, 24))  # 18 px apart, but as wide as the others
    assert _overruled(chars, preds) == "ABC123L"


def _doubtful_last(confidence: float) -> tuple:
    """ "ABC1235" whose "5" is as wide as the others but 18 px apart: a sticker beside the row."""
    chars, preds = _row("ABC1235", last=Box(90, 0, 10, 24))
    return chars, preds[:-1] + (Prediction("5", confidence, (("5", confidence), ("S", 0.2))),)


def test_a_doubtful_character_set_apart_at_the_end_is_not_a_character():
    assert _overruled(*_doubtful_last(0.5)) == "ABC123_"


def test_a_confident_character_set_apart_at_the_end_stays_a_character():
    assert _overruled(*_doubtful_last(0.95)) == "ABC1235"


def test_a_doubtful_character_of_another_height_but_in_step_stays_a_character():
    chars, preds = _row("ABC1235", last=Box(72, -4, 10, 32))  # a "5" melted into a bolt: taller
    preds = preds[:-1] + (Prediction("5", 0.5, (("5", 0.5),)),)
    assert _overruled(chars, preds) == "ABC1235"


def test_two_line_plates_are_left_as_read():
    chars, preds = _row("ABC1231", last=Box(72, -4, 4, 32), lines=(0, 0, 0, 1, 1, 1, 1))
    assert _overruled(chars, preds) == "ABC1231"


def test_rows_shorter_than_the_minimum_are_left_as_read():
    chars, preds = _row("AB11", last=Box(36, -4, 4, 32))
    assert _overruled(chars, preds) == "AB11"


def replace_box(char, box):
    return replace(char, box=box)


def test_a_stricter_height_tolerance_is_read_from_the_config():
    # 26 px where the row is 24: within the default tolerance, not within a 5% one.
    chars, preds = _row("ABC1231", last=Box(72, -1, 4, 26))
    assert _overruled(chars, preds) == "ABC1231"
    strict = ReadConfig(**{**DEFAULT.read.__dict__, "stray_end_height_tolerance": 0.05})
    assert "".join(p.char for p in overrule_stray_ends(chars, preds, strict)) == "ABC123_"


def test_only_the_end_marks_change_and_they_say_not_a_character():
    chars, preds = _row("ABC1231", last=Box(72, -4, 4, 32))
    out = overrule_stray_ends(chars, preds)
    assert out[:-1] == preds[:-1]
    assert (out[-1].char, out[-1].confidence) == (REJECT, 1.0)


# --- rows longer than the country's plates -------------------------------------------------------


def _long(text: str, max_length: int) -> str:
    chars, preds = _row(text)  # every mark the row's own size and spacing
    return "".join(p.char for p in overrule_stray_ends(chars, preds, DEFAULT.read, max_length))


def test_a_row_one_too_long_for_the_country_loses_an_end_that_reads_as_a_narrow_class():
    assert _long("CWM2998I", 7) == "CWM2998_"
    assert _long("IDD4C591", 7) == "_DD4C591"


def test_a_row_two_too_long_loses_both_ends():
    assert _long("I5VDA555I", 7) == "_5VDA555_"


def test_the_narrower_end_goes_when_either_could():
    chars, preds = _row("1ABC1231")
    chars = (replace_box(chars[0], Box(0, 0, 4, 24)),) + chars[1:]
    out = overrule_stray_ends(chars, preds, DEFAULT.read, 7)
    assert "".join(p.char for p in out) == "_ABC1231"
    assert "8 characters where the country's plates hold at most 7" in out[0].note


def test_a_long_row_is_kept_where_the_country_allows_it_or_no_end_is_narrow():
    assert _long("CWM2998I", 0) == "CWM2998I"  # no limit (Europe)
    assert _long("CWM2998I", 8) == "CWM2998I"
    assert _long("VAYX8803", 7) == "VAYX8803"  # a "V" is no frame's edge


def test_a_row_that_stays_too_long_is_left_as_read():
    # The EU band cut as "I" and its stars as "0" in front of DA231PZ, read with the US formats:
    # dropping the I would leave 8 characters, no US plate's row, made only to look more like one.
    assert _long("I0DA231PZ", 7) == "I0DA231PZ"
