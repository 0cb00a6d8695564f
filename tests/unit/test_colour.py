"""Colour: a plate crop is also read in the channel where its red or green artwork is as light as
the paper, unless its glyphs are of that colour."""

from __future__ import annotations

import dataclasses

import numpy as np

from alpr.colour import artwork_channels
from alpr.config import DEFAULT
from alpr.types import Box

PAPER, BLUE, RED, TEAL = (235, 235, 235), (20, 30, 120), (230, 40, 40), (40, 190, 160)
GLYPHS = [Box(10 + i * 30, 20, 20, 40) for i in range(6)]


def plate(glyph_colour, artwork_colour) -> np.ndarray:
    """Six solid glyph blocks and a band of artwork along the top (a tenth of the crop)."""
    image = np.full((80, 190, 3), PAPER, np.uint8)
    image[2:10, :] = artwork_colour
    for b in GLYPHS:
        image[b.y : b.y2, b.x : b.x2] = glyph_colour
    return image


def channels(image: np.ndarray, config=DEFAULT.segment) -> dict[str, np.ndarray]:
    grey = image.mean(axis=2) / 255.0  # the row's view, at the crop's own scale
    return dict(artwork_channels(image, image.shape[:2], GLYPHS, grey, 1.0, config))


def test_red_artwork_is_paper_in_the_red_channel_and_dark_glyphs_stay_ink():
    found = channels(plate(BLUE, RED))
    assert list(found) == ["red"]
    red = found["red"]
    assert red[5, 100] > 0.85 and red[40, 20] < 0.15


def test_teal_artwork_is_paper_in_the_green_channel():
    found = channels(plate(BLUE, TEAL))
    assert list(found) == ["green"]
    assert found["green"][5, 100] > 0.7 and found["green"][40, 20] < 0.15


def test_glyphs_of_the_artworks_colour_are_not_read_in_its_channel():
    assert channels(plate(RED, RED)) == {}
    assert channels(plate((20, 150, 60), TEAL)) == {}  # green glyphs on a green-trimmed plate


def test_a_grey_crop_a_crop_without_artwork_and_the_setting_at_zero_get_no_channel():
    assert artwork_channels(plate(BLUE, RED).mean(axis=2), (80, 190), GLYPHS, None, 1.0, DEFAULT.segment) == []
    assert channels(plate(BLUE, PAPER)) == {}
    off = dataclasses.replace(DEFAULT.segment, artwork_view_share=0.0)
    assert channels(plate(BLUE, RED), off) == {}


def test_red_beside_the_row_is_a_tail_light_not_artwork():
    """Colour counts in the columns under the row only: a photo's candidate crop holds the car."""
    image = np.full((80, 400, 3), PAPER, np.uint8)
    row = [Box(210 + i * 30, 20, 20, 40) for i in range(6)]
    for b in row:
        image[b.y : b.y2, b.x : b.x2] = BLUE
    grey = image.mean(axis=2) / 255.0
    lit = image.copy()
    lit[:, :120] = RED  # a tail light, far left of the glyphs
    assert artwork_channels(lit, (80, 400), row, grey, 1.0, DEFAULT.segment) == []
    banded = image.copy()
    banded[70:78, 190:400] = RED  # a red band under the glyphs: the plate's own artwork
    assert [name for name, _ in artwork_channels(banded, (80, 400), row, grey, 1.0, DEFAULT.segment)] == ["red"]
