"""How a read is presented: certain only when every character is, template corrections said in one
line, and the crop strip's final characters lined up with the crops. Plates built by hand."""

from __future__ import annotations

import numpy as np

from alpr.app.reads import BatchRow
from alpr.readview import batch_lines, best_first, corrections, final_chars, plain_binarization, verdict
from alpr.types import REJECT, Box, Candidate, CharCrop, PlateRead, Prediction


def plate(reads: str, text: str, conf: float, template: bool = True, probs=None) -> PlateRead:
    probs = probs or [0.99] * len(reads)
    crop = CharCrop(Box(0, 0, 4, 8), 0, np.zeros((8, 8), np.float32))
    return PlateRead(
        box=Box(0, 0, 40, 10),
        crop_box=Box(0, 0, 40, 10),
        crop=np.zeros((10, 40, 3), np.uint8),
        chars=tuple(crop for _ in reads),
        predictions=tuple(Prediction(c, p, ((c, p),)) for c, p in zip(reads, probs)),
        candidates=(Candidate(text, conf, template),),
        binarization="local/dark",
        processing_time_ms=1.0,
    )


def test_a_confident_plate_that_fits_a_format_is_certain():
    assert verdict(plate("SI819AK", "SI819AK", 97.0), "eu").state == "certain"


def test_a_low_confidence_or_one_unsure_character_is_uncertain_even_when_a_template_matches():
    assert verdict(plate("QIKW1HI", "QIKW1HI", 60.0), "us").state == "uncertain"
    shaky = verdict(plate("ABC1234", "ABC1234", 90.0, probs=[0.99, 0.4, 0.99, 0.99, 0.99, 0.99, 0.99]), "us")
    assert shaky.state == "uncertain" and "character 2" in shaky.why


def test_a_template_correction_is_said_in_one_line():
    assert corrections(plate("S1819AK", "SI819AK", 69.0), "eu") == "position 2: 1→I, Europe format"
    assert corrections(plate("SI819AK", "SI819AK", 97.0), "eu") is None


def test_final_characters_skip_crops_that_are_not_characters():
    read = plate(f"S1{REJECT}819AK", "SI819AK", 69.0)
    assert final_chars(read) == ["S", "I", None, "8", "1", "9", "A", "K"]


def test_plates_are_listed_best_first():
    low, high = plate("TEXAS", "TEXAS", 40.0), plate("ABC123", "ABC123", 95.0)
    assert [i for i, _ in best_first((low, high))] == [1, 0]


def test_the_demo_photo_outlines_each_plate_in_its_verdicts_colour():
    from alpr.readview import OUTLINE, outlined_photo
    from alpr.types import Recognition

    image = np.full((200, 300, 3), 128, np.uint8)
    read = plate("ABC123", "ABC123", 40.0)  # uncertain
    read = PlateRead(
        Box(100, 100, 80, 30),
        read.crop_box,
        read.crop,
        read.chars,
        read.predictions,
        read.candidates,
        read.binarization,
        1.0,
    )
    tiny = np.zeros((2, 2))
    shown = outlined_photo(Recognition(image, tiny, 1.0, tiny.astype(np.int32), (), (), (read,), "us", 10))
    assert shown.shape == image.shape
    assert tuple(shown[115, 99]) == OUTLINE["uncertain"]  # on the outline, just left of the box
    assert tuple(shown[180, 20]) == (128, 128, 128)  # the photo elsewhere untouched


def test_the_binarization_is_said_in_words_with_the_ink_first():
    assert plain_binarization("otsu/dark") == "dark characters on a light plate (whole-photo threshold)"
    assert plain_binarization("adaptive/light") == "light characters on a dark plate (local threshold)"
    assert plain_binarization("") == "threshold"
    assert plain_binarization("local/dark+split") == (
        "dark characters on a light plate (local threshold; boxes two glyphs wide cut in two)"
    )
    assert plain_binarization("otsu/dark+band") == (
        "dark characters on a light plate (whole-photo threshold; cut to the band the glyphs share)"
    )
    assert plain_binarization("local/dark+red+split") == (
        "dark characters on a light plate (local threshold; in the red channel, where red artwork vanishes;"
        " boxes two glyphs wide cut in two)"
    )


def test_the_batch_table_has_a_line_per_plate_best_first_and_one_for_a_photo_without_any():
    rows = [
        BatchRow("two.jpg", "ABC123", 95.0, True, 2, 40.0, None, (("XYZ1", 60.0, False), ("ABC123", 95.0, True))),
        BatchRow("none.jpg", "", None, None, 0, 30.0, None),
        BatchRow("bad.txt", "", None, None, 0, None, "not an image"),
    ]
    lines = batch_lines(rows)
    assert [(n["Photo"], n["Plate #"], n["Plate"], n["Read"]) for n in lines] == [
        (1, 1, "ABC123", "certain"),
        (1, 2, "XYZ1", "uncertain"),
        (2, None, "", ""),
        (3, None, "", ""),
    ]
    assert lines[-1]["Error"] == "not an image"
    assert lines[-1]["ms"] is None
