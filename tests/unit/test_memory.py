"""The plate memory: a plate a person labeled is read as labeled when it is seen again, and only then.

Photos come from the scene renderer; the reads from the shipped model, so what is remembered is
compared with what the pipeline really cuts and reads.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from alpr import synth
from alpr.labels.store import LabelStore
from alpr.memory import PlateMemory, contradiction, edit_distance, memory_path, signature
from alpr.pipeline import recognize
from alpr.readview import corrections, verdict
from alpr.types import REJECT, Box, Prediction

from conftest import make_scene


def taught(read, text: str, region: str = "us", plate_id: int = 7) -> PlateMemory:
    """A memory holding a read plate as a person labeled it: TEXT. The box and the glyphs are the
    read's, as the label store keeps them for a plate read on the Recognize page."""
    return PlateMemory.from_photos([taught_item(read, text, region, plate_id)])


def taught_item(read, text: str, region: str, plate_id: int) -> tuple:
    box = Box(read.box.x - read.crop_box.x, read.box.y - read.crop_box.y, read.box.w, read.box.h)
    glyphs = [c.box for c, p in zip(read.chars, read.predictions) if p.char != REJECT]
    return (read.crop, box, text, region, plate_id, glyphs)


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
        [(photo, box, text, region, pid, glyphs)] = list(store.taught_plates())
        assert (text, region, pid) == ("ABC12345", "us", plate_id)
        # The glyphs the memory aligns on: the plate's characters as the store keeps them.
        assert len(glyphs) == len([p for p in rec.plates[0].predictions if p.char != REJECT])
        memory = PlateMemory.from_photos(store.taught_plates())
        assert memory.recall(rec.plates[0], "us").text == "ABC12345"
        store.mark_not_a_plate(plate_id)
        assert list(store.taught_plates()) == []


# --------------------------------------------------------------------------- the same plate, never another

LETTERS, DIGITS = "ABCDEFGHJKLMNPRSTUVXYZ", "0123456789"


def _design(text: str, style: str) -> np.ndarray:
    """TEXT on one plate design: the same seed draws the same frame, font, size and spacing."""
    return synth.render_plate(text, np.random.default_rng(42), style, height=60)[0]


def _photographed(plate: np.ndarray, dx: int, dy: int, scale: float, gain: float) -> np.ndarray:
    """The plate as another photo shows it: moved in its frame, rescaled, another exposure."""
    from skimage.transform import rescale

    im = plate.astype(np.float32)
    if scale != 1.0:
        im = rescale(im, scale, channel_axis=2, preserve_range=True, anti_aliasing=True)
    im = np.clip(im * gain, 0, 255)
    out = np.full((im.shape[0] + 30, im.shape[1] + 30, 3), 90, np.float32)
    out[dy : dy + im.shape[0], dx : dx + im.shape[1]] = im
    return out.astype(np.uint8)


def _read(image: np.ndarray, style: str, classifier):
    plates = recognize(image, country=style, plate_crop=True, classifier=classifier).plates
    return plates[0] if plates else None


def _one_design(style: str, rng) -> tuple[list[str], list[str]]:
    """50 plates to teach, and 50 others each within 1-2 characters of one of them: the Slovak
    RK... plates of issue 22, where every recall used to be another car's plate."""

    def plate():
        if style == "eu":
            return "RK" + "".join(rng.choice(list(DIGITS), 3)) + "A" + str(rng.choice(list(LETTERS)))
        return "ABC" + "".join(rng.choice(list(DIGITS), 4))

    taught_texts: list[str] = []
    while len(taught_texts) < 50:
        if (t := plate()) not in taught_texts:
            taught_texts.append(t)
    others: list[str] = []
    while len(others) < 50:
        text = list(taught_texts[len(others)])
        for p in rng.choice([3, 4, 6] if style == "us" else [2, 3, 4, 6], size=int(rng.integers(1, 3)), replace=False):
            text[p] = str(rng.choice(list(DIGITS if text[p].isdigit() else LETTERS)))
        if (t := "".join(text)) not in taught_texts and t not in others:
            others.append(t)
    return taught_texts, others


@pytest.mark.parametrize("style", ["eu", "us"])
def test_fifty_plates_of_one_design_taught_recall_none_of_fifty_others_and_each_of_themselves(style, classifier):
    plain = classifier.without_memory()
    taught_texts, others = _one_design(style, np.random.default_rng(1))
    reads = {t: _read(_photographed(_design(t, style), 10, 8, 1.0, 1.0), style, plain) for t in taught_texts + others}
    memory = PlateMemory.from_photos(
        taught_item(reads[t], t, style, plate_id) for plate_id, t in enumerate(taught_texts) if reads[t] is not None
    )
    assert len(memory) >= 45
    # Another plate of the design, read as it is: never a taught one, however alike they look.
    wrong = {t: memory.recall(reads[t], style) for t in others if reads[t] is not None}
    assert {t: r.text for t, r in wrong.items() if r is not None} == {}
    # A taught plate in another photo (moved, rescaled, darker or brighter) is still recalled, as itself.
    seen_again = [
        memory.recall(_read(_photographed(_design(t, style), *look), style, plain), style)
        for t in taught_texts[:25]
        for look in ((4, 14, 0.9, 0.8), (18, 3, 1.15, 1.1), (8, 8, 0.75, 1.3), (0, 0, 1.0, 0.7))
    ]
    texts = [r.text if r else None for r in seen_again]
    expected = [t for t in taught_texts[:25] for _ in range(4)]
    assert sum(got == want for got, want in zip(texts, expected)) >= 0.9 * len(expected)
    assert all(got in (None, want) for got, want in zip(texts, expected))


def _said(text: str, confidences, topk=()) -> SimpleNamespace:
    """A read of TEXT with these per-character confidences (and, for each, extra top-k entries)."""
    extra = list(topk) or [()] * len(text)
    preds = tuple(Prediction(ch, conf, ((ch, conf), *more)) for ch, conf, more in zip(text, confidences, extra))
    return SimpleNamespace(predictions=preds)


def test_a_sure_character_that_differs_rules_the_remembered_text_out():
    assert contradiction(_said("RK115AN", [0.99] * 7), "RK819AM") == "1 for 8"
    assert contradiction(_said("RK115AN", [0.99] * 7), "RK115AN") is None


def test_look_alikes_and_unsure_characters_with_room_for_the_text_do_not():
    # A sure 0 where the person typed O: the font draws them alike, the memory exists for this.
    assert contradiction(_said("RK6054B", [0.99] * 7), "RK6O54B") is None
    # An unsure 3 that gives 8 a fair chance could be the 8 the person typed...
    unsure = [0.99, 0.99, 0.55, 0.99, 0.99, 0.99, 0.99]
    room = [(), (), (("8", 0.30),), (), (), (), ()]
    assert contradiction(_said("RK3154B", unsure, room), "RK8154B") is None
    # ... one that gives it nothing could not.
    assert contradiction(_said("RK3154B", unsure), "RK8154B") == "3 for 8"


def test_a_character_the_cut_missed_contradicts_nothing_and_a_sure_extra_one_does():
    assert contradiction(_said("RK154B", [0.99] * 6), "RK8154B") is None
    assert contradiction(_said("RK81549B", [0.99] * 8), "RK8154B") == "9 for nothing"
