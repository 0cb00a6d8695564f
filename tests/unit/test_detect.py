"""Plate detection: hand-drawn plates are found and ranked first, blank photos give nothing, every
component says why it was kept or rejected, and boxes come back in photo coordinates."""

from __future__ import annotations

import numpy as np
import pytest

from alpr.config import DEFAULT, RankConfig
from alpr.detect import candidate_features, detection_scale, find_plates, rank_score, to_grey
from alpr.types import Box, PlateCandidate

DARK, PAPER, INK = 40, 235, 20


def draw_plate(image: np.ndarray, plate: Box, n_chars: int = 6, scale: int = 1) -> list[Box]:
    """A light plate holding n dark "C"-like glyphs: stroked, so they have a glyph's extent, not a block's."""
    image[plate.y : plate.y2, plate.x : plate.x2] = PAPER
    cw, ch, gap, stroke = 18 * scale, 40 * scale, 10 * scale, 5 * scale
    x0 = plate.x + (plate.w - (n_chars * cw + (n_chars - 1) * gap)) // 2
    y0 = plate.y + (plate.h - ch) // 2
    chars = []
    for i in range(n_chars):
        b = Box(x0 + i * (cw + gap), y0, cw, ch)
        image[b.y : b.y2, b.x : b.x2] = INK
        image[b.y + stroke : b.y2 - stroke, b.x + stroke : b.x2] = PAPER  # open on the right
        chars.append(b)
    return chars


def photo(width: int, height: int, value: int = DARK) -> np.ndarray:
    return np.full((height, width, 3), value, np.uint8)


def kept(detection) -> list:
    return [c for c in detection.candidates if c.kept]


PLATE = Box(380, 290, 200, 60)  # in a 960x640 photo: 21% of its width, 9% of its height


def test_hand_drawn_plate_is_the_top_ranked_candidate():
    image = photo(960, 640)
    draw_plate(image, PLATE)
    top = kept(find_plates(image))[0]
    assert top.box.iou(PLATE) > 0.5


def test_hand_drawn_plate_candidate_counts_its_characters():
    image = photo(960, 640)
    draw_plate(image, PLATE, n_chars=6)
    top = kept(find_plates(image))[0]
    assert top.char_count == 6


def test_candidates_are_ranked_by_descending_score():
    image = photo(960, 640)
    draw_plate(image, PLATE)
    scores = [c.score for c in kept(find_plates(image))]
    assert scores == sorted(scores, reverse=True)


def test_blank_photo_gives_no_candidates_and_no_components():
    detection = find_plates(photo(640, 480, 128))
    assert kept(detection) == []
    assert detection.candidates == ()
    assert detection.components == ()


def test_every_component_carries_a_reason_matching_its_verdict():
    image = photo(960, 640)
    draw_plate(image, PLATE)
    components = find_plates(image).components
    assert components
    for c in components:
        assert c.reason
        assert c.kept == (c.reason in ("character-like", "plate-shaped"))


def test_component_wider_than_a_plate_can_be_is_rejected_as_too_wide():
    image = photo(960, 640, 240)
    image[300:312, 180:780] = 10  # a 600 px dark line: 62% of the photo's width
    wide = [c for c in find_plates(image).components if c.box.w >= 590]
    assert len(wide) == 1
    assert not wide[0].kept
    assert wide[0].reason == "too wide (62% of the photo)"


def test_glyph_shaped_components_are_kept_as_character_like():
    # Dark glyphs on white paper and nothing else: the overlay is the dark view, whose components
    # are the glyphs.
    image = photo(960, 640, PAPER)
    glyphs = draw_plate(image, PLATE)
    components = find_plates(image).components
    for glyph in glyphs:
        match = [c for c in components if c.box.iou(glyph) > 0.8]
        assert len(match) == 1
        assert match[0].kept
        assert match[0].reason == "character-like"


def test_large_photo_is_detected_at_reduced_scale():
    assert detection_scale((960, 2560, 3)) == 0.5  # the longer side brought to 1280
    assert find_plates(photo(2560, 960)).scale == 0.5


def test_a_photo_of_many_pixels_is_detected_at_the_area_limit():
    limit = DEFAULT.detect.max_pixels
    assert detection_scale((1440, 2560, 3)) == pytest.approx((limit / (1440 * 2560)) ** 0.5)


def test_small_photo_is_detected_at_increased_scale():
    assert detection_scale((240, 320, 3)) == 2.0


def test_boxes_are_in_photo_coordinates_when_the_photo_is_rescaled():
    image = photo(2560, 1440)
    plate = Box(1000, 700, 400, 120)
    draw_plate(image, plate, scale=2)
    detection = find_plates(image)
    top = kept(detection)[0]
    assert top.box.iou(plate) > 0.5
    for c in detection.components:
        assert 0 <= c.box.x and c.box.x2 <= 2560 and 0 <= c.box.y and c.box.y2 <= 1440


def test_detection_grey_is_at_detection_scale():
    detection = find_plates(photo(2560, 960))
    assert detection.grey.shape == (480, 1280)


def test_synthetic_scene_top_candidate_overlaps_the_true_plate(scene):
    top = kept(find_plates(scene.image))[0]
    assert top.box.iou(scene.box) > 0.5


def test_detection_does_not_modify_the_photo(scene):
    # The scene fixture is read-only: a stage writing into its input would raise here.
    before = scene.image.copy()
    find_plates(scene.image)
    assert np.array_equal(scene.image, before)


def test_to_grey_scales_uint8_rgb_into_unit_range():
    grey = to_grey(np.full((4, 4, 3), 255, np.uint8))
    assert grey.dtype == np.float32
    assert np.allclose(grey, 1.0)


# --- the fitted rank (config.RankConfig) ---------------------------------------------------------

SHAPE = (640, 960)


def candidate(chars: int, source: str = "char-row", binarization: str = "local/dark", box=Box(0, 0, 120, 40)):
    return PlateCandidate(box, source, binarization, chars, 0.0, False, "")


def test_more_characters_rank_higher_up_to_a_plates_worth():
    scores = [rank_score(candidate(n), SHAPE) for n in (2, 4, 6, 8)]
    assert scores == sorted(scores) and len(set(scores)) == 4
    # A line of 12 glyphs is text on the car, not a plate: below a plate's 7.
    assert rank_score(candidate(12), SHAPE) < rank_score(candidate(7), SHAPE)


def test_a_plate_shaped_blob_outranks_a_bare_row_of_the_same_glyphs():
    assert rank_score(candidate(6, "component"), SHAPE) > rank_score(candidate(6, "char-row"), SHAPE)


def test_the_score_is_the_bias_plus_each_feature_times_its_weight():
    rank = RankConfig(
        **{name: 0.0 for name in RankConfig.__dataclass_fields__} | {"chars": 1.0, "log_height": 2.0, "bias": -3.0}
    )
    c = candidate(7, box=Box(0, 0, 160, 64))  # a tenth of the photo's height
    features = candidate_features(c, SHAPE)
    assert features["chars"] == 7 and features["log_height"] == np.log(0.1)
    assert rank_score(c, SHAPE, rank) == -3.0 + 7 + 2 * np.log(0.1)


def test_detection_keeps_the_best_ranked_candidates_by_the_config_it_is_given():
    image = photo(960, 640)
    draw_plate(image, PLATE)
    only_chars = RankConfig(**{name: 0.0 for name in RankConfig.__dataclass_fields__} | {"chars": 1.0})
    top = kept(find_plates(image, rank=only_chars))[0]
    assert top.score == top.char_count  # the log-odds the given weights give, nothing else
