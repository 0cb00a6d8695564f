"""recognize(): the four stages end to end, and everything they decided, in one Recognition.

Geometry is checked with the constant model (conftest), which reads every crop as "A": where the
plate is found and how many characters it has cannot depend on how well any model reads.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from alpr.config import DEFAULT
from alpr.pipeline import recognize
from alpr.types import Box, Recognition

STAGES = ("detect", "segment", "classify", "assemble", "total")


def test_recognize_returns_a_recognition_of_the_photo(scene, constant_classifier):
    rec = recognize(scene.image, classifier=constant_classifier)
    assert isinstance(rec, Recognition)
    assert (rec.width, rec.height) == (960, 640)
    assert rec.country == "us"
    assert rec.topn == 10


def test_first_plate_box_overlaps_the_true_plate(scene, constant_classifier):
    rec = recognize(scene.image, classifier=constant_classifier)
    assert rec.plates[0].box.iou(scene.box) > 0.5


def test_first_plate_has_one_character_per_plate_character(scene, constant_classifier):
    plate = recognize(scene.image, classifier=constant_classifier).plates[0]
    assert len(plate.chars) == len(plate.predictions) == len(scene.text)
    assert plate.plate == "A" * len(scene.text)


def test_plate_candidates_are_capped_at_topn(scene, constant_classifier):
    rec = recognize(scene.image, topn=3, classifier=constant_classifier)
    assert rec.topn == 3
    assert all(len(p.candidates) <= 3 for p in rec.plates)


def test_character_boxes_lie_inside_the_plate_crop(scene, constant_classifier):
    plate = recognize(scene.image, classifier=constant_classifier).plates[0]
    crop_h, crop_w = plate.crop.shape[:2]
    assert (plate.crop_box.w, plate.crop_box.h) == (crop_w, crop_h)
    for c in plate.chars:
        assert 0 <= c.box.x and c.box.x2 <= crop_w and 0 <= c.box.y and c.box.y2 <= crop_h


def test_timings_cover_every_stage_and_the_total(scene, classifier):
    rec = recognize(scene.image, classifier=classifier)
    assert set(STAGES) <= set(rec.timings_ms)
    assert all(v >= 0 for v in rec.timings_ms.values())
    assert rec.timings_ms["total"] >= rec.timings_ms["detect"]


def test_detection_results_are_kept_for_the_overlay(scene, constant_classifier):
    rec = recognize(scene.image, classifier=constant_classifier)
    assert rec.plate_candidates
    assert rec.components
    assert rec.labels.shape == rec.grey.shape
    assert rec.scale == 1.0  # 960 px wide is already within detection's range


def test_plate_crop_mode_skips_detection(plate_image, constant_classifier):
    rec = recognize(plate_image.image, plate_crop=True, classifier=constant_classifier)
    h, w = plate_image.image.shape[:2]
    assert rec.components == ()
    assert [(c.box, c.source) for c in rec.plate_candidates] == [(Box(0, 0, w, h), "given")]
    assert rec.timings_ms["detect"] == 0.0


def test_plate_crop_mode_reads_one_plate_cut_from_the_whole_image(plate_image, constant_classifier):
    rec = recognize(plate_image.image, plate_crop=True, classifier=constant_classifier)
    h, w = plate_image.image.shape[:2]
    assert len(rec.plates) == 1
    plate = rec.plates[0]
    assert plate.crop_box == Box(0, 0, w, h)
    assert plate.plate == "A" * len(plate_image.text)
    assert 0 <= plate.box.x and plate.box.x2 <= w and 0 <= plate.box.y and plate.box.y2 <= h


def test_plate_crop_mode_timings_cover_every_stage(plate_image, constant_classifier):
    rec = recognize(plate_image.image, plate_crop=True, classifier=constant_classifier)
    assert set(STAGES) <= set(rec.timings_ms)


def test_blank_grey_photo_has_no_plates(classifier):
    rec = recognize(np.full((480, 640, 3), 128, np.uint8), classifier=classifier)
    assert rec.plates == ()
    assert rec.plate_candidates == ()


def test_blank_plate_crop_has_no_plates(classifier):
    rec = recognize(np.full((60, 120, 3), 230, np.uint8), plate_crop=True, classifier=classifier)
    assert rec.plates == ()


def test_unknown_country_raises_value_error(scene, classifier):
    with pytest.raises(ValueError, match=r"unknown country 'zz'; choose one of us, eu, br"):
        recognize(scene.image, country="zz", classifier=classifier)


def test_topn_of_zero_raises_value_error(scene, classifier):
    with pytest.raises(ValueError, match=r"topn must be at least 1, got 0"):
        recognize(scene.image, topn=0, classifier=classifier)


def test_recognition_is_deterministic(scene, classifier):
    first = recognize(scene.image, classifier=classifier)
    second = recognize(scene.image, classifier=classifier)
    assert [[c.plate for c in p.candidates] for p in first.plates] == [
        [c.plate for c in p.candidates] for p in second.plates
    ]
    assert [p.box for p in first.plates] == [p.box for p in second.plates]


def test_recognize_does_not_modify_the_photo(scene, constant_classifier):
    # The fixture is read-only: any stage writing into the photo would raise.
    before = scene.image.copy()
    recognize(scene.image, classifier=constant_classifier)
    assert np.array_equal(scene.image, before)


def test_country_picks_the_formats_used_for_ranking(plate_image, constant_classifier):
    # "AAAAAA" fits a us format ("******") but neither Brazilian one.
    us = recognize(plate_image.image, plate_crop=True, classifier=constant_classifier).plates[0]
    br = recognize(plate_image.image, country="br", plate_crop=True, classifier=constant_classifier).plates[0]
    assert us.matches_template
    assert not br.matches_template


# --- reading the best-ranked candidates first ------------------------------------------------------


def _read_spy(monkeypatch):
    """The number of candidates each call to the pipeline's reading stage was given."""
    import alpr.pipeline as pipeline

    calls: list[int] = []
    real = pipeline._read_candidates

    def spy(image, candidates, *args, **kwargs):
        calls.append(len(candidates))
        return real(image, candidates, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_read_candidates", spy)
    return calls


@pytest.fixture(scope="module")
def busy_scene():
    """A car among more plate-like regions (7 kept) than are read first (5); its plate ranks
    first at 0.91, the others at 0.36, 0.16, 0.03, ..."""
    from conftest import make_scene

    return make_scene("ABC1234", seed=7)


# The constant model reads no digit, which would start the second looks: off for the spies.
NO_SECOND_LOOK = replace(DEFAULT, detect=replace(DEFAULT.detect, closeup_shrink=0.0, far_zoom=0.0))


def test_the_best_candidate_is_read_alone_then_the_other_first_ones_when_it_held_no_sure_plate(
    busy_scene, constant_classifier, monkeypatch
):
    calls = _read_spy(monkeypatch)
    demanding = replace(NO_SECOND_LOOK, read=replace(DEFAULT.read, sure_confidence=99.0))
    rec = recognize(busy_scene.image, classifier=constant_classifier, config=demanding)
    assert rec.plates[0].box.iou(busy_scene.box) > 0.5
    assert rec.plates[0].confidence < 99.0  # not sure enough: the others are read
    kept = [c for c in rec.plate_candidates if c.kept]
    first = DEFAULT.read.first_candidates
    assert len(kept) > first, "the scene should hold more candidates than are read first"
    # The best two alone (each time asking whether a sure plate was read), then the rest at once.
    assert calls == [1, 1, first - 2]
    # The page tells a kept candidate that was not read from one that was.
    assert all(c.reason.startswith("kept, not read") for c in kept[first:])
    assert not any(c.reason.startswith("kept, not read") for c in kept[:first])


def test_a_sure_plate_from_the_best_candidate_spares_reading_the_unlikely_others(scene, classifier, monkeypatch):
    calls = _read_spy(monkeypatch)
    rec = recognize(scene.image, classifier=classifier, config=NO_SECOND_LOOK)
    assert rec.plates[0].plate == scene.text and rec.plates[0].confidence >= DEFAULT.read.sure_confidence
    kept = [c for c in rec.plate_candidates if c.kept][: DEFAULT.read.first_candidates]
    unlikely = [c for c in kept[1:] if c.likelihood < DEFAULT.read.sure_others_likelihood]
    assert unlikely, "the scene should hold an unlikely second candidate"
    assert calls == [1] + ([len(kept) - 1 - len(unlikely)] if len(kept) - 1 > len(unlikely) else [])
    assert all(c.reason == "kept, not read: ranked under 30% after a sure plate" for c in unlikely)
    # Off, every first candidate is read at once, as for a parking lot's photos.
    calls.clear()
    every = replace(NO_SECOND_LOOK, read=replace(DEFAULT.read, sure_confidence=0.0))
    assert recognize(scene.image, classifier=classifier, config=every).plates[0].plate == scene.text
    assert calls == [len(kept)]


def test_a_sure_plate_from_the_second_candidate_spares_reading_the_unlikely_others(busy_scene, classifier, monkeypatch):
    # A dashcam's timestamp often outranks the plate: here the plate's candidate is put second.
    import alpr.pipeline as pipeline

    real = pipeline.find_plates

    def plate_second(*args, **kwargs):
        found = real(*args, **kwargs)
        kept = [c for c in found.candidates if c.kept]
        swapped = [kept[1], kept[0]] + [c for c in found.candidates if c is not kept[0] and c is not kept[1]]
        return replace(found, candidates=tuple(swapped))

    monkeypatch.setattr(pipeline, "find_plates", plate_second)
    calls = _read_spy(monkeypatch)
    rec = recognize(busy_scene.image, classifier=classifier, config=NO_SECOND_LOOK)
    assert rec.plates[0].plate == busy_scene.text
    kept = [c for c in rec.plate_candidates if c.kept][: DEFAULT.read.first_candidates]
    assert kept[1].box.iou(busy_scene.box) > 0.5  # the plate, read second
    unlikely = [c for c in kept[2:] if c.likelihood < DEFAULT.read.sure_others_likelihood]
    assert unlikely, "the scene should hold an unlikely third candidate"
    assert calls == [1, 1] + ([len(kept) - 2 - len(unlikely)] if len(kept) - 2 > len(unlikely) else [])
    assert all(c.reason == "kept, not read: ranked under 30% after a sure plate" for c in unlikely)


def test_the_other_kept_candidates_are_read_when_the_first_hold_no_plate(scene, constant_classifier, monkeypatch):
    calls = _read_spy(monkeypatch)
    none_first = replace(NO_SECOND_LOOK, read=replace(DEFAULT.read, first_candidates=0))
    rec = recognize(scene.image, classifier=constant_classifier, config=none_first)
    assert rec.plates[0].box.iou(scene.box) > 0.5
    assert calls == [sum(c.kept for c in rec.plate_candidates)]


# --- a row that runs into its crop's edge is read again from a wider crop ---------------------------


def _read_in_crop(crop_box: Box, xs: list[int], glyph_w: int = 10, glyph_h: int = 20):
    from alpr.types import CharCrop, PlateRead

    blank = np.ones((32, 32), np.float32)
    chars = tuple(CharCrop(Box(x, 5, glyph_w, glyph_h), 0, blank) for x in xs)
    crop = np.zeros((crop_box.h, crop_box.w, 3), np.uint8)
    return PlateRead(crop_box, crop_box, crop, chars, (), (), "local/dark", 0.0)


def test_a_row_cut_at_the_crops_left_edge_is_read_again_reaching_three_glyph_heights_left():
    from alpr.pipeline import _extend

    photo = np.zeros((400, 600, 3), np.uint8)
    read = _read_in_crop(Box(200, 100, 80, 30), [0, 14, 28, 42])  # the first glyph starts at the edge
    crop, box = _extend(photo, read, DEFAULT)
    assert box == Box(140, 100, 140, 30)  # 3 x 20 px further left, the right side unchanged
    assert crop.shape == (30, 140, 3)


def test_a_row_inside_its_crop_or_at_the_photos_edge_is_not_read_again():
    from alpr.pipeline import _extend

    photo = np.zeros((400, 600, 3), np.uint8)
    assert _extend(photo, _read_in_crop(Box(200, 100, 80, 30), [5, 19, 33, 47]), DEFAULT) is None
    assert _extend(photo, _read_in_crop(Box(0, 100, 80, 30), [0, 14, 28, 42]), DEFAULT) is None


def test_a_band_through_the_loops_of_a_clean_row_is_not_read(constant_classifier):
    # The app's Texas sample (8VQ09): the loops of the 8 and the 9, the sides of the Q and the 0
    # and the arms of the V share a band two thirds as tall as the glyphs. Cut to it, the row was
    # six pieces and read "QIIO0Q"; the clean row of five the thresholds found is the one read.
    from alpr import synth

    text, image = synth.sample_scenes()[3]
    assert text == "8VQ09"
    plate = recognize(image, classifier=constant_classifier).plates[0]
    assert not plate.binarization.endswith("+band")
    assert len(plate.chars) == 5


# --- a close-up: the plate breaks the size rules of an ordinary photo ------------------------------


def _close_up(seed: int) -> tuple[np.ndarray, Box]:
    """A plate 500 px wide in an 800x600 photo, as a phone held a metre from the bumper takes it:
    wider than a quarter of the photo, its glyphs taller than 12% of it. Only the state's name
    above the number is of an ordinary plate's size."""
    from conftest import make_plate

    plate = make_plate("ABC123", seed=seed, height=250).image
    photo = np.full((600, 800, 3), 90, np.uint8)
    y, x = 170, 150
    photo[y : y + plate.shape[0], x : x + plate.shape[1]] = plate
    return photo, Box(x, y, plate.shape[1], plate.shape[0])


@pytest.mark.parametrize("seed, state", [(2, "NEVADA"), (6, "GEORGIA")])
def test_a_close_up_plate_is_read_by_a_second_pass_when_the_first_read_no_number(classifier, seed, state):
    photo, box = _close_up(seed)
    off = replace(DEFAULT, detect=replace(DEFAULT.detect, closeup_shrink=0.0, far_zoom=0.0))
    assert [p.plate for p in recognize(photo, classifier=classifier, config=off).plates] == [state]

    rec = recognize(photo, classifier=classifier)
    assert [p.plate for p in rec.plates] == ["ABC123"]
    assert rec.plates[0].box.iou(box) > 0.5
    assert any(c.reason.startswith("close-up pass") for c in rec.plate_candidates)
    # The state's name is not shown as a second plate, and the page says why.
    assert state in [read.plate for read, why in rec.rejected]


def test_small_lettering_inside_a_read_plate_is_not_a_plate(classifier):
    photo, _ = _close_up(6)
    rec = recognize(photo, classifier=classifier)
    why = [why for read, why in rec.rejected if read.plate == "GEORGIA"]
    assert why and why[0] == "lettering on the plate 'ABC123': smaller glyphs inside its box"


def test_no_close_up_pass_once_a_plate_with_a_number_was_read(scene, constant_classifier, classifier):
    rec = recognize(scene.image, classifier=classifier)
    assert rec.plates and any(ch.isdigit() for ch in rec.plates[0].plate)
    assert not any(c.reason.startswith("close-up pass") for c in rec.plate_candidates)


# --- a far plate: its glyphs too small to part at the usual detection scale ------------------------


@pytest.mark.parametrize("seed", [3, 4])
def test_a_far_plate_is_read_by_a_pass_at_twice_the_scale_when_nothing_else_was(classifier, seed):
    from conftest import make_plate

    # A 40x20 plate on a white car, 1280x960: no plate-shaped blob stands out, and at the usual
    # scale (0.75) its glyphs are under detect.min_char_height.
    plate = make_plate("7KX4519", seed=seed, height=20).image
    photo = np.full((960, 1280, 3), 250, np.uint8)
    photo[500:520, 600:640] = plate
    off = replace(DEFAULT, detect=replace(DEFAULT.detect, far_zoom=0.0))
    assert recognize(photo, classifier=classifier, config=off).plates == ()

    rec = recognize(photo, classifier=classifier)
    assert [p.plate for p in rec.plates] == ["7KX4519"]
    assert rec.plates[0].box.iou(Box(600, 500, 40, 20)) > 0.3
    assert any(c.kept and c.reason.startswith("far-plate pass") for c in rec.plate_candidates)


# --- a row with its wide boxes cut in two competes only when every character reads surely ---------


def _read_of(text: str, confidence: float):
    from alpr.types import CharCrop, Prediction, PlateRead

    blank = np.ones((32, 32), np.float32)
    chars = tuple(CharCrop(Box(12 * i, 0, 10, 20), 0, blank) for i in range(len(text)))
    preds = tuple(Prediction(ch, confidence, ((ch, confidence),)) for ch in text)
    from alpr.assemble import assemble

    return PlateRead(
        Box(0, 0, 90, 20),
        Box(0, 0, 90, 20),
        np.zeros((20, 90, 3), np.uint8),
        chars,
        preds,
        assemble(preds, "us"),
        "local/dark+split",
        0.0,
    )


@pytest.mark.parametrize(
    "text, confidence, max_length, sure",
    [("CG2H2U", 0.95, 7, True), ("CG2H2U", 0.85, 7, False), ("5BDE7732", 0.99, 7, False), ("5BDE7732", 0.99, 0, True)],
)
def test_a_cut_row_competes_only_when_sure_and_no_longer_than_the_countrys_plates(text, confidence, max_length, sure):
    from alpr.pipeline import _sure_split

    assert _sure_split(_read_of(text, confidence), max_length, DEFAULT.segment) is sure
