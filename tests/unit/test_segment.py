"""Segmentation: a plate crop becomes its characters, in reading order, each framed for the classifier."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage as ndi

from alpr.config import DEFAULT
from alpr.segment import crop_plate, normalize_crop, segment, segment_all
from alpr.types import Box
from conftest import make_plate

PAPER, INK = 235, 20


def draw_ring(image: np.ndarray, box: Box, stroke: int) -> None:
    """A dark "0"-like glyph: hollow, so it has a glyph's extent rather than a block's."""
    image[box.y : box.y2, box.x : box.x2] = INK
    image[box.y + stroke : box.y2 - stroke, box.x + stroke : box.x2 - stroke] = PAPER


def draw_disc(image: np.ndarray, cx: int, cy: int, r: int) -> None:
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    image[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = INK


# (style, text, seed): every style, one- to seven-character rows, letters and digits.
RENDERED = [
    ("us", "ABC123", 1),
    ("us", "7ABC123", 2),
    ("us", "ABC1234", 3),
    ("eu", "AB123CD", 1),
    ("eu", "HZ905LT", 2),
    ("br", "ABC1234", 1),
    ("br", "RTX4E27", 2),
    ("br", "PQR7S80", 3),
]


# --- rendered plates ---------------------------------------------------------------------------


@pytest.mark.parametrize("style, text, seed", RENDERED)
def test_rendered_plate_segments_into_one_crop_per_character(style, text, seed):
    plate = make_plate(text, seed, style)
    assert len(segment(plate.image).chars) == len(text)


@pytest.mark.parametrize("style, text, seed", RENDERED)
def test_rendered_plate_crops_overlap_the_true_character_boxes_in_order(style, text, seed):
    plate = make_plate(text, seed, style)
    chars = segment(plate.image).chars
    assert [c.box.iou(b) > 0.5 for c, b in zip(chars, plate.boxes)] == [True] * len(text)


@pytest.mark.parametrize("style, text, seed", RENDERED)
def test_rendered_plate_crops_run_left_to_right_on_one_line(style, text, seed):
    chars = segment(make_plate(text, seed, style).image).chars
    xs = [c.box.x for c in chars]
    assert xs == sorted(xs)
    assert {c.line for c in chars} == {0}


def test_character_boxes_are_in_the_crops_own_pixels(plate_image):
    # The crop is resized to plate_height internally; boxes come back at the crop's size.
    seg = segment(plate_image.image)
    h, w = plate_image.image.shape[:2]
    assert seg.grey.shape[0] == 100
    assert seg.scale == pytest.approx(100 / h)
    assert seg.chars, "the rendered plate has characters"
    for c in seg.chars:
        assert 0 <= c.box.x and c.box.x2 <= w and 0 <= c.box.y and c.box.y2 <= h


def test_character_crops_are_classifier_inputs(plate_image):
    chars = segment(plate_image.image).chars
    assert chars, "the rendered plate has characters"
    for c in chars:
        assert c.image.shape == (32, 32)
        assert c.image.dtype == np.float32
        assert 0.0 <= c.image.min() and c.image.max() <= 1.0


def test_input_size_sets_the_crop_side(plate_image):
    assert {c.image.shape for c in segment(plate_image.image, input_size=24).chars} == {(24, 24)}


def test_segmentation_is_deterministic(plate_image):
    a, b = segment(plate_image.image), segment(plate_image.image)
    assert [c.box for c in a.chars] == [c.box for c in b.chars]
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a.chars, b.chars))


# --- hand-drawn plates -------------------------------------------------------------------------


def test_two_line_plate_reads_the_top_line_first():
    plate = np.full((100, 200), PAPER, np.uint8)
    top = [Box(40 + i * 45, 8, 24, 38) for i in range(3)]
    bottom = [Box(20 + i * 45, 54, 24, 38) for i in range(4)]
    for b in top + bottom:
        draw_ring(plate, b, 5)
    chars = segment(plate).chars
    assert [c.box for c in chars] == top + bottom
    assert [c.line for c in chars] == [0, 0, 0, 1, 1, 1, 1]


def test_bolts_are_dropped():
    plate = np.full((60, 160), PAPER, np.uint8)
    glyphs = [Box(12 + i * 24, 12, 16, 36) for i in range(6)]
    for b in glyphs:
        draw_ring(plate, b, 4)
    draw_disc(plate, 30, 5, 3)  # the two mounting bolts above the row
    draw_disc(plate, 130, 5, 3)
    assert [c.box for c in segment(plate).chars] == glyphs


def test_blank_plate_gives_no_characters():
    seg = segment(np.full((60, 120, 3), 230, np.uint8))
    assert seg.chars == ()


def test_tiny_crop_gives_no_characters():
    assert segment(np.zeros((3, 50, 3), np.uint8)).chars == ()


def test_three_character_plate_segments_into_its_glyphs():
    plate = np.full((60, 120), PAPER, np.uint8)
    glyphs = [Box(25 + i * 25, 12, 18, 36) for i in range(3)]
    for b in glyphs:
        draw_ring(plate, b, 5)
    found = [c.box for c in segment(plate).chars]
    assert len(found) == 3
    # The local threshold may widen a ring by a pixel; the plate background is never sliced up.
    assert all(f.iou(g) > 0.9 for f, g in zip(found, glyphs))


def test_solid_bar_letter_i_is_segmented():
    plate = np.full((60, 160), PAPER, np.uint8)
    glyphs = [Box(12 + i * 24, 12, 16, 36) for i in range(6)]
    for b in glyphs:
        draw_ring(plate, b, 4)
    bar = Box(glyphs[2].x + 5, 12, 6, 36)  # replace the third ring with an "I"
    plate[glyphs[2].y : glyphs[2].y2, glyphs[2].x : glyphs[2].x2] = PAPER
    plate[bar.y : bar.y2, bar.x : bar.x2] = INK
    assert len(segment(plate).chars) == 6


def framed_plate_with_a_slogan_touching_the_glyphs() -> tuple[np.ndarray, list[Box]]:
    """A detected plate as the pipeline crops it: a dealer frame around it, and a slogan bar joined
    to the bottom of every glyph, so each binarization sees one component of frame, bar and row."""
    plate = np.full((100, 230), PAPER, np.uint8)
    plate[6:94, 8:14] = INK  # the frame's sides
    plate[6:94, 216:222] = INK
    plate[6:12, 8:222] = INK
    plate[88:94, 8:222] = INK
    glyphs = [Box(28 + i * 27, 28, 20, 40) for i in range(7)]
    for b in glyphs:
        draw_ring(plate, b, 5)
        plate[b.y : b.y + 5, b.x + 5 : b.x2 - 5] = PAPER  # a "U": no hole to be read as a glyph
    plate[68:76, 28:200] = INK  # the slogan's dark band, joined to every glyph's foot
    return plate, glyphs


def test_glyphs_joined_to_a_slogan_are_cut_free_by_their_strokes_band():
    plate, glyphs = framed_plate_with_a_slogan_touching_the_glyphs()
    best = segment_all(plate, limit=1)[0]
    assert best.binarization.endswith("+band")
    assert [c.box.x for c in best.chars] == [b.x for b in glyphs]  # the frame's sides are no "1"s
    assert all(c.box.iou(g) > 0.8 for c, g in zip(best.chars, glyphs))


def test_band_views_stay_off_for_a_plate_crop_and_when_a_row_was_found():
    plate, _ = framed_plate_with_a_slogan_touching_the_glyphs()
    assert not any(s.binarization.endswith("+band") for s in segment_all(plate, whole_plate=True))
    clean = np.full((60, 200), PAPER, np.uint8)
    for i in range(7):
        draw_ring(clean, Box(10 + i * 26, 12, 18, 36), 5)
    assert not any(s.binarization.endswith("+band") for s in segment_all(clean))


# --- normalize_crop ----------------------------------------------------------------------------


def glyph_on_paper() -> np.ndarray:
    grey = np.ones((40, 20), np.float32)
    grey[5:35, 4:16] = 0.1  # a dark bar with a light slot: an "0"
    grey[10:30, 8:12] = 1.0
    return grey


def test_normalize_crop_is_a_float32_square_of_the_requested_side():
    out = normalize_crop(glyph_on_paper(), size=32)
    assert out.shape == (32, 32)
    assert out.dtype == np.float32


def test_normalize_crop_stays_in_unit_range_and_uses_all_of_it():
    out = normalize_crop(glyph_on_paper() * 0.5 + 0.3)  # a faded glyph: 0.35..0.8
    assert out.min() == pytest.approx(0.0, abs=0.02)
    assert out.max() == pytest.approx(1.0, abs=0.02)


def test_normalize_crop_keeps_the_glyph_dark_on_a_light_border():
    out = normalize_crop(glyph_on_paper())
    border = np.concatenate([out[0], out[-1], out[:, 0], out[:, -1]])
    assert border.min() > 0.95
    # The 40x20 "0" becomes 28x14, centred: its strokes at columns 12-13 and 18-19, its slot between.
    assert out[16, 13] < 0.1 and out[16, 18] < 0.1
    assert out[16, 15] > 0.9


def test_normalize_crop_cuts_the_box_it_is_given():
    grey = np.ones((60, 120), np.float32)
    grey[10:50, 30:50] = 0.0
    out = normalize_crop(grey, Box(30, 10, 20, 40))
    # 40 px tall fills 28 of 32 rows; the glyph's width is centred.
    assert out[16, 16] < 0.1
    assert out[16, 0] > 0.9


def test_normalize_crop_of_an_empty_box_is_blank_paper():
    out = normalize_crop(np.ones((10, 10), np.float32), Box(20, 20, 5, 5))
    assert np.array_equal(out, np.ones((32, 32), np.float32))


# --- crop_plate --------------------------------------------------------------------------------


def test_crop_plate_adds_a_quarter_of_the_box_height_on_every_side():
    image = np.zeros((300, 400, 3), np.uint8)
    crop, box = crop_plate(image, Box(100, 100, 80, 40))
    assert box == Box(90, 90, 100, 60)
    assert crop.shape == (60, 100, 3)


def test_crop_plate_clamps_at_the_top_left_corner():
    crop, box = crop_plate(np.zeros((300, 400, 3), np.uint8), Box(2, 3, 80, 40))
    assert box == Box(0, 0, 92, 53)
    assert crop.shape == (53, 92, 3)


def test_crop_plate_clamps_at_the_bottom_right_corner():
    crop, box = crop_plate(np.zeros((300, 400, 3), np.uint8), Box(350, 280, 80, 40))
    assert box == Box(340, 270, 60, 30)
    assert crop.shape == (30, 60, 3)


# --- a glyph cut in two side by side ------------------------------------------------------------


def row_with_a_split_glyph(gap: int) -> tuple[np.ndarray, list[Box]]:
    """Six rings, the third drawn as a left and a right half `gap` px apart (a "U" cut at its
    thinnest point by the threshold)."""
    plate = np.full((60, 190), PAPER, np.uint8)
    glyphs = [Box(12 + i * 28, 12, 20, 36) for i in range(6)]
    for b in glyphs:
        draw_ring(plate, b, 4)
    cut = glyphs[2]
    plate[cut.y : cut.y2, cut.x + 10 - gap // 2 : cut.x + 10 + (gap + 1) // 2] = PAPER
    return plate, glyphs


def test_two_thin_halves_almost_touching_are_one_glyph():
    plate, glyphs = row_with_a_split_glyph(gap=1)
    found = [c.box for c in segment(plate).chars]
    assert len(found) == 6
    assert found[2].iou(glyphs[2]) > 0.8


def test_two_thin_bars_a_whole_gap_apart_stay_two_glyphs():
    plate = np.full((60, 190), PAPER, np.uint8)
    glyphs = [Box(12 + i * 28, 12, 20, 36) for i in range(6)]
    for b in glyphs[:2] + glyphs[4:]:
        draw_ring(plate, b, 4)
    ones = [Box(glyphs[2].x + 7, 12, 6, 36), Box(glyphs[3].x + 7, 12, 6, 36)]  # "11"
    for b in ones:
        plate[b.y : b.y2, b.x : b.x2] = INK
    assert len(segment(plate).chars) == 6


# --- a glyph joined to artwork standing in the row ------------------------------------------------


def row_with_a_tree_between(bridge: int) -> tuple[np.ndarray, list[Box]]:
    """Six rings with a tree between the third and fourth (Oregon's plate), drawn taller than the
    row and joined to the third ring by a bridge `bridge` px tall at mid-height: cut to the row's
    band, ring and tree stay one component twice a glyph wide."""
    plate = np.full((70, 260), PAPER, np.uint8)
    glyphs = [Box(12 + i * 28, 15, 20, 36) for i in range(3)] + [Box(140 + i * 28, 15, 20, 36) for i in range(3)]
    for b in glyphs:
        draw_ring(plate, b, 4)
    plate[5:62, 102:118] = INK  # the tree: solid, taller than the glyphs, a block not a glyph
    mid = 33 - bridge // 2
    plate[mid : mid + bridge, glyphs[2].x2 : 102] = INK
    return plate, glyphs


def test_a_glyph_joined_to_the_artwork_by_a_thin_bridge_is_cut_free():
    plate, glyphs = row_with_a_tree_between(bridge=3)
    found = [c.box for c in segment(plate).chars]
    assert len(found) == 6
    assert found[2].iou(glyphs[2]) > 0.7
    off = dataclasses.replace(DEFAULT.segment, cut_max_link=0.0)
    assert len(segment(plate, off).chars) == 5


def test_a_join_as_thick_as_the_glyph_is_not_cut():
    plate, glyphs = row_with_a_tree_between(bridge=30)  # not a bridge: the glyph runs into the tree
    found = [c.box for c in segment(plate).chars]
    assert len(found) == 5
    assert not any(b.iou(glyphs[2]) > 0.5 for b in found)


# --- two glyphs a blur grew together --------------------------------------------------------------


def row_with_two_glyphs_grown_together() -> tuple[np.ndarray, list[Box]]:
    """Six rings, the third and fourth joined by a bar at mid-height: one box twice a glyph wide."""
    plate = np.full((60, 190), PAPER, np.uint8)
    glyphs = [Box(12 + i * 28, 12, 20, 36) for i in range(6)]
    for b in glyphs:
        draw_ring(plate, b, 4)
    plate[28:32, glyphs[2].x2 : glyphs[3].x] = INK
    return plate, glyphs


def test_a_box_as_wide_as_the_row_is_tall_is_also_offered_cut_in_two():
    plate, glyphs = row_with_two_glyphs_grown_together()
    views = segment_all(plate, split_wide=True)
    split = [s for s in views if s.binarization.endswith("+split")]
    assert split and len(split[0].chars) == 6
    assert [c.box for c in split[0].chars][2].iou(glyphs[2]) > 0.6
    assert [c.box for c in split[0].chars][3].iou(glyphs[3]) > 0.6
    assert not any(len(s.chars) == 6 for s in views if not s.binarization.endswith("+split"))


def test_the_cut_views_are_offered_only_when_asked():
    plate, _ = row_with_two_glyphs_grown_together()
    assert not any(s.binarization.endswith("+split") for s in segment_all(plate))


# --- red artwork joined to a glyph ------------------------------------------------------------------

# Printed red is about as light as the paper in the red channel, printed teal in the green one.
RED, BLUE, TEAL = (230, 40, 40), (20, 30, 120), (40, 190, 160)


def plate_with_a_red_outline_through_the_first_glyph(glyph_colour=BLUE) -> tuple[np.ndarray, list[Box]]:
    """Six rings on a white plate crop, and a red state outline (Nebraska's) running along the top,
    down beside the first ring and through the first two: in grey the outline is as dark as the
    ink, so both rings and the outline are one component."""
    plate = np.full((70, 200, 3), PAPER, np.uint8)
    glyphs = [Box(12 + i * 30, 16, 20, 38) for i in range(6)]
    left, right = glyphs[0].x - 3, glyphs[1].x2 + 2
    plate[3:7, left:196] = RED  # along the top,
    plate[3:42, left : left + 3] = RED  # down beside the first glyph,
    plate[38:42, left:right] = RED  # through the first two (printed under them),
    plate[38:67, right - 3 : right] = RED  # and down past the second
    for b in glyphs:  # hollow rings, printed over the outline
        ring = np.zeros(plate.shape[:2], bool)
        ring[b.y : b.y2, b.x : b.x2] = True
        ring[b.y + 4 : b.y2 - 4, b.x + 4 : b.x2 - 4] = False
        plate[ring] = glyph_colour
    return plate, glyphs


def test_a_glyph_joined_to_red_artwork_is_read_in_the_red_channel():
    plate, glyphs = plate_with_a_red_outline_through_the_first_glyph()
    views = segment_all(plate, whole_plate=True)
    assert views[0].binarization.endswith("+red")
    assert len(views[0].chars) == 6 and views[0].chars[0].box.iou(glyphs[0]) > 0.7
    grey = [v for v in views if not v.binarization.endswith("+red")]
    assert grey and not any(c.box.iou(glyphs[0]) > 0.7 for v in grey for c in v.chars)  # grey lost it
    off = dataclasses.replace(DEFAULT.segment, artwork_view_share=0.0)
    assert not any(v.binarization.endswith("+red") for v in segment_all(plate, off, whole_plate=True))


def plate_with_a_green_tree_between_two_glyphs(glyph_colour=BLUE) -> tuple[np.ndarray, list[Box]]:
    """Oregon's tree, teal, between the third and fourth of six rings and taller than the row,
    the glyphs printed over its edges, blurred a little as a photo is."""
    plate = np.full((80, 230, 3), PAPER, np.uint8)
    glyphs = [Box(12 + i * 30, 20, 20, 38) for i in range(3)] + [Box(128 + i * 30, 20, 20, 38) for i in range(3)]
    plate[4:76, glyphs[2].x2 - 2 : glyphs[3].x + 2] = TEAL
    for b in glyphs:
        ring = np.zeros(plate.shape[:2], bool)
        ring[b.y : b.y2, b.x : b.x2] = True
        ring[b.y + 4 : b.y2 - 4, b.x + 4 : b.x2 - 4] = False
        plate[ring] = glyph_colour
    return ndi.gaussian_filter(plate.astype(np.float32), (1.5, 1.5, 0)).astype(np.uint8), glyphs


def test_glyphs_beside_a_green_tree_are_read_in_the_green_channel():
    plate, glyphs = plate_with_a_green_tree_between_two_glyphs()
    best = segment_all(plate, whole_plate=True)[0]
    assert best.binarization.endswith("+green")
    assert [c.box.iou(g) > 0.7 for c, g in zip(best.chars, glyphs)] == [True] * 6


def test_red_glyphs_are_not_read_in_the_red_channel_where_they_fade():
    plate, _ = plate_with_a_red_outline_through_the_first_glyph(glyph_colour=(150, 20, 20))
    assert not any(v.binarization.endswith("+red") for v in segment_all(plate, whole_plate=True))
    no_test = dataclasses.replace(DEFAULT.segment, artwork_glyph_excess=1.0)
    assert any(v.binarization.endswith("+red") for v in segment_all(plate, no_test, whole_plate=True))


def test_a_photos_candidate_crop_is_read_in_the_red_channel_too_but_not_a_grey_one():
    plate, _ = plate_with_a_red_outline_through_the_first_glyph()
    assert any(v.binarization.endswith("+red") for v in segment_all(plate))
    grey = plate.mean(axis=2).astype(np.uint8)
    assert not any(v.binarization.endswith("+red") for v in segment_all(grey, whole_plate=True))
