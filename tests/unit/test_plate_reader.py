"""The whole-plate reader's arithmetic: CTC likelihood, greedy decoding, the strip it reads."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alpr import plate_reader as pr
from alpr.errors import InputError
from alpr.synth import render_plate
from alpr.types import Box

A, B = pr.INDEX["A"], pr.INDEX["B"]


def columns(*rows: dict[int, float]) -> np.ndarray:
    """Log-probabilities of columns given as {class: probability}; the rest share what is left."""
    out = np.zeros((len(rows), len(pr.VOCAB)))
    for t, row in enumerate(rows):
        rest = (1.0 - sum(row.values())) / (len(pr.VOCAB) - len(row))
        out[t, :] = rest
        for k, p in row.items():
            out[t, k] = p
    return np.log(out)


def test_ctc_likelihood_sums_every_alignment_of_a_tiny_case():
    lp = columns({pr.BLANK: 0.5, A: 0.3}, {pr.BLANK: 0.4, A: 0.4})
    # "A" in two columns: A A, blank A, A blank = .3*.4 + .5*.4 + .3*.4
    assert math.exp(pr.log_likelihood(lp, "A")) == pytest.approx(0.44)
    # nothing: blank blank
    assert math.exp(pr.log_likelihood(lp, "")) == pytest.approx(0.2)


def test_a_repeated_character_needs_a_blank_between_its_two_columns():
    two = columns({A: 0.9}, {A: 0.9})
    assert pr.log_likelihood(two, "AA") == -math.inf  # A A merges into one A
    three = columns({A: 0.5}, {pr.BLANK: 0.5}, {A: 0.5})
    assert math.exp(pr.log_likelihood(three, "AA")) == pytest.approx(0.125)


def test_a_string_the_columns_show_is_likelier_than_one_they_do_not():
    lp = columns({A: 0.8}, {pr.BLANK: 0.8}, {B: 0.8})
    assert pr.log_likelihood(lp, "AB") > pr.log_likelihood(lp, "BA")
    assert pr.log_likelihood(lp, "AB") > pr.log_likelihood(lp, "A")


def test_greedy_merges_repeats_drops_blanks_and_keeps_each_characters_best_column():
    lp = columns({A: 0.6}, {A: 0.9}, {pr.BLANK: 0.9}, {A: 0.7}, {B: 0.5})
    text, confs = pr.greedy(lp)
    assert text == "AAB"
    assert confs == pytest.approx((0.9, 0.7, 0.5))


def test_encode_refuses_what_the_reader_cannot_emit():
    with pytest.raises(InputError, match="only 0-9 and A-Z"):
        pr.encode("AB-1")


def test_strip_is_the_models_input_whatever_the_plate_size():
    rgb, boxes = render_plate("ABC1234", np.random.default_rng(0), "us", height=50)
    s = pr.strip(rgb)
    assert s.shape == (pr.HEIGHT, pr.WIDTH) and s.dtype == np.float32
    assert s.min() == 0.0 and s.max() == 1.0  # contrast stretched
    big = np.asarray(np.kron(rgb, np.ones((2, 2, 1))), np.uint8)
    assert np.abs(pr.strip(big) - s).mean() < 0.05  # the same plate at twice the size reads the same


def test_strip_cuts_the_box_with_a_margin_and_clips_at_the_crop():
    img = np.zeros((40, 200), np.uint8)
    img[:, 100:] = 255
    img[10:30, 140:160] = 0  # a "glyph" on the white half
    s = pr.strip(img, Box(130, 5, 40, 30))
    assert s.mean() > 0.4  # mostly the white half: the black left half is not in it
    edge = pr.strip(img, Box(190, 0, 30, 40))  # runs off the crop: clipped, still a strip
    assert edge.shape == (pr.HEIGHT, pr.WIDTH)


def test_strip_refuses_a_crop_that_is_not_an_image():
    with pytest.raises(InputError, match="image"):
        pr.strip(np.zeros((2, 3, 4, 5)))


def test_no_reader_file_means_no_reader(tmp_path):
    assert pr.load_plate_reader(tmp_path / "plate_reader.keras") is None


# ---- which reader a character model reads with


def test_a_version_reads_with_the_reader_in_its_own_folder_else_the_shipped_one(tmp_path, monkeypatch):
    monkeypatch.delenv("ALPR_PLATE_READER", raising=False)
    version = tmp_path / "v2"
    version.mkdir()
    model = version / "char_cnn.keras"
    model.write_bytes(b"")
    assert pr.reader_path(model) == pr.DEFAULT_MODEL  # a version trained without a reader of its own
    (version / "plate_reader.keras").write_bytes(b"")
    assert pr.reader_path(model) == version / "plate_reader.keras"
    assert pr.reader_path() == pr.DEFAULT_MODEL  # no model named: the shipped reader


def test_an_exported_folder_reads_with_the_reader_exported_beside_it(tmp_path, monkeypatch):
    monkeypatch.delenv("ALPR_PLATE_READER", raising=False)
    (tmp_path / "char_cnn.onnx").write_bytes(b"")
    (tmp_path / "plate_reader.onnx").write_bytes(b"")
    assert pr.reader_path(tmp_path / "char_cnn.onnx") == tmp_path / "plate_reader.onnx"


def test_the_environment_overrides_the_versions_reader(tmp_path, monkeypatch):
    (tmp_path / "plate_reader.keras").write_bytes(b"")
    monkeypatch.setenv("ALPR_PLATE_READER", "off")
    assert pr.reader_path(tmp_path / "char_cnn.keras") is None
    monkeypatch.setenv("ALPR_PLATE_READER", "/elsewhere/reader.keras")
    assert pr.reader_path(tmp_path / "char_cnn.keras") == pr.Path("/elsewhere/reader.keras")
