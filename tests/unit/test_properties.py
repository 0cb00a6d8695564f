"""Property tests: random pixels and random predictions through every stage never crash.

Each stage must answer any image it can be handed (blank, noise, stripes, tiny, huge contrast or
none) with a result, not an exception: a photo with no plate is an empty result, not an error.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from alpr.assemble import COUNTRIES, assemble
from alpr.detect import find_plates
from alpr.pipeline import recognize
from alpr.segment import normalize_crop, segment_all
from alpr.synth import random_plate_text
from alpr.types import ALL_CLASSES, Box, Prediction
from conftest import make_plate, make_scene

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _images(min_side: int = 1, max_side: int = 160):
    """RGB uint8 images: pure noise, flat fields, and noise quantized to a few levels (blocky, like text)."""
    shapes = st.tuples(st.integers(min_side, max_side), st.integers(min_side, max_side), st.just(3))
    noise = shapes.flatmap(lambda s: arrays(np.uint8, s))
    flat = st.builds(lambda s, v: np.full(s, v, np.uint8), shapes, st.integers(0, 255))
    blocky = noise.map(lambda a: (a // 128 * 255).astype(np.uint8))
    return st.one_of(noise, flat, blocky)


def _check_detection(image, detection) -> None:
    height, width = image.shape[:2]
    for cand in detection.candidates:
        assert 0 <= cand.box.x and cand.box.x2 <= width and 0 <= cand.box.y and cand.box.y2 <= height
    for comp in detection.components:
        assert comp.reason


@SETTINGS
@given(_images(min_side=8))
def test_find_plates_answers_any_image_with_boxes_inside_it(image):
    _check_detection(image, find_plates(image))


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["us", "eu", "br"]))
def test_find_plates_finds_candidates_inside_a_rendered_street_photo(seed, style):
    # Random pixels usually hold no plate, so the checks above may see empty lists: rendered photos
    # always hold one, so here the same checks run on candidates and components that exist.
    scene = make_scene(random_plate_text(np.random.default_rng(seed), style), seed, style)
    detection = find_plates(scene.image)
    assert detection.candidates and detection.components
    _check_detection(scene.image, detection)


def _check_crops(segmentations) -> int:
    crops = 0
    for seg in segmentations:
        for char in seg.chars:
            assert char.image.shape == (32, 32)
            assert char.image.dtype == np.float32
            assert 0.0 <= float(char.image.min()) and float(char.image.max()) <= 1.0
            crops += 1
    return crops


@SETTINGS
@given(_images())
def test_segment_all_gives_model_ready_crops_for_any_image(image):
    _check_crops(segment_all(image))


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["us", "eu", "br"]))
def test_segment_all_cuts_a_rendered_plate_into_model_ready_crops(seed, style):
    plate = make_plate(random_plate_text(np.random.default_rng(seed), style), seed, style)
    assert _check_crops(segment_all(plate.image)) > 0


@SETTINGS
@given(arrays(np.float32, st.tuples(st.integers(0, 80), st.integers(0, 80)), elements=st.floats(0, 1, width=32)))
def test_normalize_crop_is_a_square_in_range_for_any_patch(patch):
    out = normalize_crop(patch)
    assert out.shape == (32, 32)
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0


def _prediction(draw_probs) -> Prediction:
    probs = np.asarray(draw_probs, dtype=np.float64)
    probs = probs / probs.sum()
    order = np.argsort(-probs)[:5]
    topk = tuple((ALL_CLASSES[i], float(probs[i])) for i in order)
    return Prediction(topk[0][0], topk[0][1], topk)


predictions = st.lists(
    st.lists(st.floats(0.001, 1.0), min_size=len(ALL_CLASSES), max_size=len(ALL_CLASSES)).map(_prediction),
    max_size=10,
)


@settings(max_examples=150, deadline=None)
@given(predictions, st.sampled_from(sorted(COUNTRIES)), st.integers(1, 20))
def test_assemble_gives_at_most_topn_plates_with_confidences_in_range(preds, code, topn):
    out = assemble(preds, code, topn)
    assert len(out) <= topn
    assert len({c.plate for c in out}) == len(out)
    for cand in out:
        assert cand.plate and 0.0 <= cand.confidence <= 100.0


def _check_recognition(image, rec) -> None:
    assert rec.width == image.shape[1] and rec.height == image.shape[0]
    for plate in rec.plates:
        assert isinstance(plate.box, Box)
        assert len(plate.predictions) == len(plate.chars)


@SETTINGS
@given(_images(min_side=8, max_side=120), st.booleans())
def test_recognize_answers_any_image_with_a_result(constant_classifier, image, plate_crop):
    _check_recognition(image, recognize(image, plate_crop=plate_crop, classifier=constant_classifier))


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["us", "eu", "br"]))
def test_recognize_reads_a_rendered_plate_crop_into_a_plate(constant_classifier, seed, style):
    plate = make_plate(random_plate_text(np.random.default_rng(seed), style), seed, style)
    rec = recognize(plate.image, plate_crop=True, classifier=constant_classifier)
    assert rec.plates, "a rendered plate crop reads as a plate"
    _check_recognition(plate.image, rec)
