"""The character classifier: loading refuses every kind of bad model with a ModelError that says
what is wrong; predictions are well-formed whatever the model's accuracy; build_model's shapes."""

from __future__ import annotations

import json
import os
import shutil
import zipfile

import numpy as np
import pytest

from alpr.classify import DEFAULT_MODEL, MODEL_FORMAT, build_model, load_classifier, metadata_path
from alpr.errors import ModelError
from alpr.segment import segment
from alpr.synth import render_glyph
from alpr.types import ALL_CLASSES, CLASSES, REJECT, CharCrop, Box


@pytest.fixture
def model_copy(tmp_path):
    """A copy of the shipped model and its metadata in tmp_path, to be damaged by the test."""
    path = tmp_path / "char_cnn.keras"
    shutil.copyfile(DEFAULT_MODEL, path)
    shutil.copyfile(metadata_path(DEFAULT_MODEL), metadata_path(path))
    return path


def edit_metadata(model_path, **changes) -> None:
    meta_file = metadata_path(model_path)
    metadata = json.loads(meta_file.read_text())
    metadata.update(changes)
    meta_file.write_text(json.dumps(metadata))


def glyph_crops(chars: str, seed: int = 0) -> list[CharCrop]:
    rng = np.random.default_rng(seed)
    return [CharCrop(Box(0, 0, 32, 32), 0, render_glyph(c, rng)) for c in chars]


# --- loading -----------------------------------------------------------------------------------


def test_shipped_model_metadata_matches_this_code():
    metadata = json.loads(metadata_path(DEFAULT_MODEL).read_text())
    assert tuple(metadata["classes"]) == ALL_CLASSES
    assert metadata.get("format", 0) <= MODEL_FORMAT


def test_loaded_model_reports_its_classes_and_input_size(classifier):
    assert classifier.info.classes == ALL_CLASSES
    assert classifier.input_size == 32


def test_missing_model_file_is_a_model_error_saying_how_to_get_one(tmp_path):
    with pytest.raises(ModelError, match=r"no model file at .*nothing\.keras.*python -m alpr train"):
        load_classifier(tmp_path / "nothing.keras")


def test_missing_metadata_is_a_model_error_naming_the_json(model_copy):
    metadata_path(model_copy).unlink()
    with pytest.raises(ModelError, match=r"char_cnn\.keras has no metadata file char_cnn\.json"):
        load_classifier(model_copy)


def test_unparsable_metadata_is_a_model_error(model_copy):
    metadata_path(model_copy).write_text("{not json")
    with pytest.raises(ModelError, match=r"metadata .*char_cnn\.json is unreadable"):
        load_classifier(model_copy)


def test_metadata_with_other_classes_is_a_model_error_listing_both(model_copy):
    edit_metadata(model_copy, classes=list(CLASSES))  # no "not a character" class
    with pytest.raises(ModelError, match=r"predicts 36 classes .* this alpr expects '0123456789A.*Z_'"):
        load_classifier(model_copy)


def test_metadata_from_a_newer_format_is_a_model_error_asking_to_upgrade(model_copy):
    edit_metadata(model_copy, format=MODEL_FORMAT + 1)
    with pytest.raises(ModelError, match=rf"newer alpr \(format {MODEL_FORMAT + 1} > {MODEL_FORMAT}\); upgrade alpr"):
        load_classifier(model_copy)


def test_metadata_with_the_wrong_input_size_is_a_model_error(model_copy):
    edit_metadata(model_copy, input_size=48)
    with pytest.raises(ModelError, match=r"metadata says 48x48x1"):
        load_classifier(model_copy)


def test_random_bytes_model_is_a_model_error_saying_corrupt(model_copy):
    model_copy.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelError, match=r"char_cnn\.keras is corrupt or not a Keras model"):
        load_classifier(model_copy)


def test_truncated_model_is_a_model_error_saying_corrupt(model_copy):
    data = model_copy.read_bytes()
    model_copy.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match=r"is corrupt or not a Keras model"):
        load_classifier(model_copy)


def test_model_zip_with_truncated_weights_is_a_model_error_saying_corrupt(model_copy, tmp_path):
    damaged = tmp_path / "damaged.keras"
    with zipfile.ZipFile(model_copy) as src, zipfile.ZipFile(damaged, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data[:1000] if name.endswith((".h5", ".npz")) else data)
    shutil.copyfile(metadata_path(model_copy), metadata_path(damaged))
    with pytest.raises(ModelError, match=r"damaged\.keras is corrupt or not a Keras model"):
        load_classifier(damaged)


def test_model_errors_are_one_line(model_copy):
    model_copy.write_bytes(b"")
    with pytest.raises(ModelError) as info:
        load_classifier(model_copy)
    assert "\n" not in str(info.value)


# --- predict -----------------------------------------------------------------------------------


def test_predict_returns_one_prediction_per_crop(classifier):
    assert len(classifier.predict(glyph_crops("A7X" + REJECT + "0"))) == 5


def test_predict_of_no_crops_is_an_empty_list(classifier):
    assert classifier.predict([]) == []


def test_probabilities_of_no_crops_is_an_empty_matrix(classifier):
    assert classifier.probabilities(np.zeros((0, 32, 32), np.float32)).shape == (0, len(ALL_CLASSES))


def test_prediction_topk_is_sorted_by_descending_probability(classifier):
    for p in classifier.predict(glyph_crops("ABC123")):
        probs = [prob for _, prob in p.topk]
        assert probs == sorted(probs, reverse=True)


def test_prediction_char_and_confidence_are_the_first_of_topk(classifier):
    for p in classifier.predict(glyph_crops("ABC123")):
        assert (p.char, p.confidence) == p.topk[0]


def test_prediction_topk_probabilities_sum_to_at_most_one(classifier):
    for p in classifier.predict(glyph_crops("ABC123")):
        assert sum(prob for _, prob in p.topk) <= 1.0 + 1e-5
        assert all(0.0 <= prob <= 1.0 for _, prob in p.topk)


def test_prediction_topk_holds_at_most_k_known_classes(classifier):
    for p in classifier.predict(glyph_crops("ABC123"), k=3):
        assert 1 <= len(p.topk) <= 3
        assert {c for c, _ in p.topk} <= set(ALL_CLASSES)


def test_probabilities_are_a_softmax_per_crop(classifier):
    images = np.stack([c.image for c in glyph_crops("AB12")])
    probs = classifier.probabilities(images)
    assert probs.shape == (4, len(ALL_CLASSES))
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)


def test_predict_is_deterministic(classifier):
    crops = glyph_crops("XY9")
    assert classifier.predict(crops) == classifier.predict(crops)


def test_predict_takes_segmented_crops(classifier, plate_image):
    chars = segment(plate_image.image).chars
    assert len(classifier.predict(chars)) == len(chars)


def test_constant_model_answers_a_for_every_crop(constant_classifier):
    # The fixture other test files rely on: check it is what conftest says it is.
    for p in constant_classifier.predict(glyph_crops("B8" + REJECT)):
        assert p.char == "A"
        assert [c for c, _ in p.topk] == ["A", "4"]
        assert p.confidence == pytest.approx(0.9, abs=1e-5)


# --- build_model -------------------------------------------------------------------------------


def test_small_model_takes_32x32_grey_and_gives_37_classes():
    model = build_model(backbone="small")
    assert model.input_shape == (None, 32, 32, 1)
    assert model.output_shape == (None, 37)


def test_small_model_has_a_features_part_to_fine_tune():
    assert build_model().get_layer("features") is not None


def test_unknown_backbone_is_a_model_error_listing_the_choices():
    with pytest.raises(ModelError, match=r"unknown backbone 'resnet'; choose one of small, mobilenet_v2, inception_v3"):
        build_model(backbone="resnet")


def test_inception_without_weights_is_a_model_error_saying_how_to_get_them():
    with pytest.raises(ModelError, match=r"'inception_v3' needs ImageNet weights: pass --weights PATH"):
        build_model(backbone="inception_v3")


def test_imagenet_weights_missing_from_the_keras_cache_is_a_model_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", os.fspath(tmp_path))
    with pytest.raises(ModelError, match=r"no mobilenet_v2 ImageNet weights in .*copy the '\.\.\._notop\.h5' file"):
        build_model(backbone="mobilenet_v2", weights="imagenet")


def test_missing_weights_file_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match=r"weights file .*absent\.h5 does not exist"):
        build_model(backbone="inception_v3", weights=os.fspath(tmp_path / "absent.h5"))
