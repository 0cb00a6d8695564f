"""The synthetic renderer: deterministic, shaped like the classifier's input, with honest boxes."""

from __future__ import annotations

import re

import numpy as np
import pytest

from alpr import synth
from alpr.types import ALL_CLASSES, CLASSES, REJECT, Box

STYLES = ("us", "eu", "br")


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _grey(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64).mean(axis=2)


def _ring(glyph: np.ndarray) -> np.ndarray:
    """The outer two pixels of a square image."""
    return np.concatenate([glyph[:2].ravel(), glyph[-2:].ravel(), glyph[:, :2].ravel(), glyph[:, -2:].ravel()])


def _inside(box: Box, width: int, height: int) -> bool:
    return box.w > 0 and box.h > 0 and box.x >= 0 and box.y >= 0 and box.x2 <= width and box.y2 <= height


def test_fonts_are_the_bundled_ttf_files_in_sorted_order():
    assert len(synth.FONTS) == 10
    assert all(p.suffix == ".ttf" and p.is_file() and p.parent.name == "fonts" for p in synth.FONTS)
    assert list(synth.FONTS) == sorted(synth.FONTS)


def test_same_seed_renders_identical_glyph_pixels():
    for char in ("A", "7", REJECT):
        assert np.array_equal(synth.render_glyph(char, _rng(3)), synth.render_glyph(char, _rng(3)))


def test_different_seeds_render_different_glyphs():
    assert not np.array_equal(synth.render_glyph("A", _rng(1)), synth.render_glyph("A", _rng(2)))


def test_glyph_is_float32_square_in_unit_range():
    for augment in (True, False):
        glyph = synth.render_glyph("K", _rng(0), size=32, augment=augment)
        assert glyph.dtype == np.float32
        assert glyph.shape == (32, 32)
        assert glyph.min() >= 0.0 and glyph.max() <= 1.0


def test_glyph_size_argument_sets_the_square_side():
    assert synth.render_glyph("K", _rng(0), size=48).shape == (48, 48)


def test_glyph_is_dark_on_light_background():
    for seed, char in enumerate("0AH8MW1Z"):
        glyph = synth.render_glyph(char, _rng(seed))
        assert _ring(glyph).mean() > glyph[8:24, 8:24].mean() + 0.2, char


def test_glyph_keeps_the_classifier_inputs_white_border():
    # normalize_crop fits the longer side into 28 of 32 px, centred on white: a 2-px ring stays 1.0.
    for seed, augment in ((0, False), (1, True), (2, True)):
        glyph = synth.render_glyph("W", _rng(seed), augment=augment)
        assert _ring(glyph).min() == 1.0


@pytest.mark.parametrize("char", ALL_CLASSES)
def test_every_class_renders(char):
    glyph = synth.render_glyph(char, _rng(ALL_CLASSES.index(char)))
    assert glyph.shape == (32, 32)
    assert np.isfinite(glyph).all()


def test_reject_class_renders_varied_crops():
    glyphs = [synth.render_glyph(REJECT, _rng(seed)) for seed in range(12)]
    assert len({g.tobytes() for g in glyphs}) == 12


def test_unknown_glyph_class_raises():
    with pytest.raises(ValueError):
        synth.render_glyph("a", _rng())


@pytest.mark.parametrize("style, width", [("us", 120), ("eu", 282), ("br", 185)])
def test_plate_is_rgb_uint8_with_the_style_aspect(style, width):
    plate, _ = synth.render_plate("ABC1234", _rng(), style=style, height=60)
    assert plate.dtype == np.uint8
    assert plate.shape == (60, width, 3)


def test_plate_returns_one_box_per_non_space_char():
    assert len(synth.render_plate("ABC 1234", _rng(), "us")[1]) == 7
    assert len(synth.render_plate("AB-123", _rng(), "us")[1]) == 6


@pytest.mark.parametrize("style", STYLES)
def test_plate_boxes_are_inside_the_image(style):
    for seed in range(5):
        rng = _rng(seed)
        plate, boxes = synth.render_plate(synth.random_plate_text(rng, style), rng, style)
        assert all(_inside(b, plate.shape[1], plate.shape[0]) for b in boxes)


@pytest.mark.parametrize("style", STYLES)
def test_plate_boxes_run_left_to_right_without_overlap(style):
    for seed in range(5):
        rng = _rng(seed)
        _, boxes = synth.render_plate(synth.random_plate_text(rng, style), rng, style)
        assert all(a.x2 <= b.x for a, b in zip(boxes, boxes[1:]))


def test_space_renders_a_wider_gap_than_between_characters():
    _, boxes = synth.render_plate("ABC 123", _rng(4), "us")
    gaps = [b.x - a.x2 for a, b in zip(boxes, boxes[1:])]
    assert gaps[2] > max(gaps[:2] + gaps[3:])


@pytest.mark.parametrize("style", STYLES)
def test_plate_characters_are_darker_than_the_plate(style):
    plate, boxes = synth.render_plate("ABC1234", _rng(), style)
    grey = _grey(plate)
    for b in boxes:
        assert grey[b.y : b.y2, b.x : b.x2].min() < np.median(grey) - 100


@pytest.mark.parametrize("style", STYLES)
def test_plate_characters_are_55_to_70_percent_of_the_height(style):
    _, boxes = synth.render_plate("HEX1234", _rng(), style, height=100)
    assert all(50 <= b.h <= 72 for b in boxes)


def test_same_seed_renders_identical_scene_pixels():
    a, box_a = synth.render_scene("ABC1234", _rng(9))
    b, box_b = synth.render_scene("ABC1234", _rng(9))
    assert np.array_equal(a, b)
    assert box_a == box_b


def test_scene_is_rgb_uint8_of_the_requested_size():
    photo, _ = synth.render_scene("ABC1234", _rng(), size=(800, 500))
    assert photo.dtype == np.uint8
    assert photo.shape == (500, 800, 3)


@pytest.mark.parametrize("style", STYLES)
def test_scene_plate_box_is_inside_the_photo(style):
    photo, box = synth.render_scene(synth.random_plate_text(_rng(), style), _rng(1), style)
    assert _inside(box, photo.shape[1], photo.shape[0])


@pytest.mark.parametrize("style", STYLES)
def test_scene_plate_is_12_to_20_percent_of_the_photo_width(style):
    for seed in range(3):
        _, box = synth.render_scene("ABC1234", _rng(seed), style)
        # Tilt widens the axis-aligned box a little beyond the plate's own width.
        assert 0.11 * 960 <= box.w <= 0.22 * 960


@pytest.mark.parametrize("style", STYLES)
def test_scene_plate_is_brighter_than_its_surroundings(style):
    for seed in range(3):
        photo, box = synth.render_scene("ABC1234", _rng(seed), style)
        grey = _grey(photo)
        m = max(2, box.h // 6)
        ring = grey[box.y - m : box.y2 + m, box.x - m : box.x2 + m].copy()
        ring[m:-m, m:-m] = np.nan
        # The plate's paper (its brighter quarter) against the median of the ring around the box.
        assert np.percentile(grey[box.y : box.y2, box.x : box.x2], 75) > np.nanmedian(ring) + 60


@pytest.mark.parametrize("style", STYLES)
def test_scene_plate_characters_are_darker_than_the_plate(style):
    photo, box = synth.render_scene("ABC1234", _rng(5), style)
    plate = _grey(photo)[box.y : box.y2, box.x : box.x2]
    assert np.percentile(plate, 5) < np.percentile(plate, 75) - 80


def test_random_plate_text_us_is_5_to_7_letters_and_digits():
    for seed in range(50):
        text = synth.random_plate_text(_rng(seed), "us")
        assert re.fullmatch(r"[A-Z0-9]{5,7}", text)
        assert re.search(r"[A-Z]", text) and re.search(r"[0-9]", text)


def test_random_plate_text_eu_is_two_letters_three_digits_two_letters():
    for seed in range(50):
        assert re.fullmatch(r"[A-Z]{2}[0-9]{3}[A-Z]{2}", synth.random_plate_text(_rng(seed), "eu"))


def test_random_plate_text_br_is_mercosul_or_old_format():
    texts = {synth.random_plate_text(_rng(seed), "br") for seed in range(50)}
    assert all(re.match(r"^[A-Z]{3}[0-9][A-Z0-9][0-9]{2}$", t) for t in texts)
    assert any(t[4].isalpha() for t in texts) and any(t[4].isdigit() for t in texts)


def test_random_plate_text_uses_only_classifier_classes():
    for style in STYLES:
        assert set(synth.random_plate_text(_rng(), style)) <= set(CLASSES)


def test_unknown_style_raises():
    calls = (
        lambda: synth.render_plate("A1", _rng(), "xx"),
        lambda: synth.render_scene("A1", _rng(), "xx"),
        lambda: synth.random_plate_text(_rng(), "xx"),
    )
    for call in calls:
        with pytest.raises(ValueError):
            call()


def test_sample_scenes_mix_styles_and_repeat_for_a_seed():
    scenes, again = synth.sample_scenes(n=3, seed=7), synth.sample_scenes(n=3, seed=7)
    assert all(photo.shape == (640, 960, 3) and photo.dtype == np.uint8 for _, photo in scenes)
    assert re.fullmatch(r"[A-Z]{2}[0-9]{3}[A-Z]{2}", scenes[1][0])  # the second one is European
    assert [t for t, _ in scenes] == [t for t, _ in again]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(scenes, again))
