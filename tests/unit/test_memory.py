"""The plate memory: a plate a person labeled is read as labeled when it is seen again, and only then.

Photos come from the scene renderer; the reads from the shipped model, so what is remembered is
compared with what the pipeline really cuts and reads.
"""

from __future__ import annotations

import numpy as np
import pytest

from alpr.labels.store import LabelStore
from alpr.memory import PlateMemory, edit_distance, memory_path, signature
from alpr.pipeline import recognize
from alpr.readview import corrections, verdict
from alpr.types import Box

from conftest import make_scene


def taught(read, text: str, region: str = "us", plate_id: int = 7) -> PlateMemory:
    """A memory holding a read plate as a person labeled it: TEXT. The box is the read's, as the
    label store keeps it for a plate read on the Recognize page."""
    box = Box(read.box.x - read.crop_box.x, read.box.y - read.crop_box.y, read.box.w, read.box.h)
    return PlateMemory.from_photos([(read.crop, box, text, region, plate_id)])


@pytest.fixture(scope="module")
def read(scene, classifier):
    """The scene's best plate as the shipped model reads it."""
    return recognize(scene.image, classifier=classifier).plates[0]


def remembering(classifier, memory):
    clf = classifier.without_memory()
    clf.memory = memory
    return clf


def test_edit_distance_counts_insertions_deletions_and_substitutions():
    assert edit_distance("ABC1234", "ABC1234") == 0
    assert edit_distance("ABC1234", "ABC123") == 1
    assert edit_distance("ABC1234", "A8C1234") == 1
    assert edit_distance("ABC1234", "XABC12") == 3  # one inserted, two dropped
    assert edit_distance("", "ABC") == 3


def test_a_signature_is_zero_mean_unit_norm_and_none_for_nothing_to_compare(scene):
    sig = signature(scene.image, scene.box)
    assert sig.shape == (24, 96)
    assert abs(float(sig.mean())) < 1e-5 and abs(float(np.linalg.norm(sig)) - 1) < 1e-4
    assert signature(scene.image, Box(5000, 5000, 40, 20)) is None  # outside the photo
    assert signature(np.full((100, 200, 3), 128, np.uint8), Box(10, 10, 80, 40)) is None  # flat


def test_a_plate_read_again_is_read_as_the_person_labeled_it(scene, read, classifier):
    text = read.plate
    taught_text = text[:-1] + ("7" if text[-1] != "7" else "8")  # one character the person "corrected"
    rec = recognize(scene.image, classifier=remembering(classifier, taught(read, taught_text)))
    best = rec.plates[0]
    assert best.plate == taught_text
    assert best.recalled is not None and best.recalled.plate_id == 7 and best.recalled.edits == 1
    assert best.recalled.similarity > 0.9
    # The page says why, and does not call the change a format correction.
    assert verdict(best, "us").state == "remembered"
    assert "plate #7" in verdict(best, "us").why and corrections(best, "us") is None
    assert "recall" in rec.timings_ms


def test_a_plate_cut_into_too_few_segments_is_still_read_as_labeled(scene, read, classifier):
    longer = read.plate + "9"  # the person saw a character the cut missed
    rec = recognize(scene.image, classifier=remembering(classifier, taught(read, longer)))
    assert rec.plates[0].plate == longer


def test_another_plate_that_reads_alike_is_not_recalled(read, classifier):
    other = recognize(make_scene("ABC1284", seed=5).image, classifier=classifier).plates[0]
    memory = taught(read, other.plate)  # the text the other plate reads: only the look tells them apart
    assert memory.recall(other, "us") is None
    assert memory.recall(read, "us") is not None


def test_the_very_same_plate_image_is_recalled_however_far_its_read_went(read, classifier):
    # The same pixels again (the photo re-read): the cut may have gone wrong, the plate is the same.
    assert taught(read, "ZZZZ999Q").recall(read, "us").text == "ZZZZ999Q"
    # A plate that only looks somewhat alike must also read alike.
    other = recognize(make_scene("ABC1284", seed=5).image, classifier=classifier).plates[0]
    assert taught(read, "ZZZZ999Q").recall(other, "us") is None


def test_a_plate_of_another_country_is_not_recalled(read):
    assert taught(read, read.plate, region="br").recall(read, "us") is None


def test_a_memory_is_saved_beside_its_model_and_loaded_with_it(read, tmp_path):
    path = memory_path(tmp_path / "char_cnn.keras")
    assert path.name == "char_cnn.plates.npz"
    taught(read, "ABC1234").save(path)
    again = PlateMemory.load(path)
    assert (again.texts, again.regions, again.plate_ids) == (["ABC1234"], ["us"], [7])
    assert again.recall(read, "us").text == "ABC1234"


def test_an_unreadable_memory_file_is_a_model_error(tmp_path):
    from alpr.errors import ModelError

    path = tmp_path / "char_cnn.plates.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="plate memory .* is unreadable"):
        PlateMemory.load(path)


def test_the_store_teaches_confirmed_plates_with_their_photo_and_not_the_others(tmp_path, scene, classifier):
    with LabelStore.open(tmp_path) as store:
        rec = recognize(scene.image, classifier=classifier)
        [plate_id] = store.add_recognition(scene.image, rec, "car.png", classifier.info.version)[:1]
        assert list(store.taught_plates()) == []  # only the model's guesses so far
        store.label_plate(plate_id, "ABC12345")  # a count that does not fit the cut: the text is kept
        [(photo, box, text, region, pid)] = list(store.taught_plates())
        assert (text, region, pid) == ("ABC12345", "us", plate_id)
        memory = PlateMemory.from_photos(store.taught_plates())
        assert memory.recall(rec.plates[0], "us").text == "ABC12345"
        store.mark_not_a_plate(plate_id)
        assert list(store.taught_plates()) == []
