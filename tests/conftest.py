"""Shared fixtures: synthetic photos and plates with known answers, a benchmark folder, and models.

Everything is drawn with `alpr.synth` from a fixed seed, so every test sees the same pixels on
every machine; nothing here reads a real photo.

Two character models are offered:

* `classifier`: the shipped `models/char_cnn.keras`. It is retrained from time to time, so tests
  that use it assert only what holds for any model (shapes, ordering, determinism), never a read.
* `constant_classifier` (and `constant_model`, its file): a real Keras model in the shipped
  format whose every answer is "A" at 0.90, "4" at 0.05 and the rest below `min_topk_prob`,
  whatever the crop. It reads a plate of n segmented characters as exactly "A" * n, so tests of
  the plumbing around the classifier (detection, segmentation, ranking, the CLI, evaluation) can
  assert exact strings without depending on how well any trained model reads.

  With `ALPR_PERTURB=SEED` in the environment its probabilities move by about 1e-6, differently
  for every crop (`constant_network`): the perturbed lane (`make test-perturbed`) runs the
  plumbing tests so and must see the same answers, as a CPU with other float kernels would.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alpr import synth
from alpr.types import ALL_CLASSES, Box

# The constant model's fixed answer for every crop.
CONSTANT_CHAR = "A"
CONSTANT_PROBS = {"A": 0.90, "4": 0.05}  # the other 35 classes share the last 0.05
# `ALPR_PERTURB=SEED`: the constant model's probabilities move by about PERTURBATION (see
# `constant_network`), as another CPU's float kernels would move them.
PERTURB_ENV = "ALPR_PERTURB"
PERTURBATION = 1e-6
# How far the perturbed model's logits move, alike for every crop (another CPU's softmax) and
# each crop its own way (another CPU's sums): "A"'s 0.90 then moves by ~PERTURBATION both ways
# (d p_A = p_A (d l_A - sum_k p_k d l_k) ~ 0.1 d l).
_LOGIT_SHIFT = 10 * PERTURBATION
_CROP_LOGIT_SHIFT = 10 * PERTURBATION


@dataclass(frozen=True)
class Scene:
    """A synthetic street photo: RGB uint8 (read-only), the plate's text and its true box."""

    text: str
    image: np.ndarray
    box: Box


@dataclass(frozen=True)
class Plate:
    """A rendered plate crop: RGB uint8 (read-only), its text and one true box per character."""

    text: str
    image: np.ndarray
    boxes: tuple[Box, ...]


@dataclass(frozen=True)
class LabeledFile:
    plate: str  # the label as the dataset reader normalizes it
    box: Box | None  # None for plate crops
    group: str


def _frozen(array: np.ndarray) -> np.ndarray:
    # Session fixtures are shared: a stage that wrote into its input would fail loudly here.
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


def make_scene(text: str, seed: int, style: str = "us") -> Scene:
    image, box = synth.render_scene(text, np.random.default_rng(seed), style)
    return Scene(text, _frozen(image), box)


def make_plate(text: str, seed: int, style: str = "us", height: int = 60) -> Plate:
    image, boxes = synth.render_plate(text, np.random.default_rng(seed), style, height=height)
    return Plate(text, _frozen(image), tuple(boxes))


@pytest.fixture(scope="session")
def scene() -> Scene:
    """A US car in a street, 960x640, plate "ABC1234" at Box(372, 403, 139, 76).

    Chosen so that detection ranks the plate first and segments all 7 characters: tests on it
    check the pipeline's geometry, not a hard case.
    """
    return make_scene("ABC1234", seed=2)


@pytest.fixture(scope="session")
def plate_image() -> Plate:
    """A US plate crop, 120x60, reading "ABC123"."""
    return make_plate("ABC123", seed=1)


# --- benchmark folder --------------------------------------------------------------------------

# OpenALPR's end-to-end layout: us/NAME.jpg with us/NAME.txt = "NAME.jpg\tx\ty\tw\th\tPLATE".
BENCHMARK_PHOTOS = {"car_a": ("ABC1234", 2), "car_b": ("7ABC123", 3)}
# OpenALPR's plate-crop layout: crops/labels.csv (file,plate,state) beside the PNGs. Labels are
# written as people type them; the reader normalizes them. "AAAAAA" is what the constant model reads.
BENCHMARK_CROPS = {"crop_a.png": ("AAAAAA", "aaa-aaa", 2), "crop_b.png": ("ABC123", "abc 123", 3)}


@pytest.fixture(scope="session")
def _benchmark(tmp_path_factory) -> tuple[Path, dict[str, LabeledFile]]:
    root = tmp_path_factory.mktemp("benchmark")
    labels: dict[str, LabeledFile] = {}

    photos = root / "us"
    photos.mkdir()
    for name, (text, seed) in BENCHMARK_PHOTOS.items():
        s = make_scene(text, seed)
        Image.fromarray(s.image).save(photos / f"{name}.jpg", quality=95)
        b = s.box
        (photos / f"{name}.txt").write_text(f"{name}.jpg\t{b.x}\t{b.y}\t{b.w}\t{b.h}\t{text}\n")
        labels[f"us/{name}.jpg"] = LabeledFile(text, b, "us")

    crops = root / "crops"
    crops.mkdir()
    with (crops / "labels.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "plate", "state"])
        for file, (text, typed, seed) in BENCHMARK_CROPS.items():
            Image.fromarray(make_plate(text, seed).image).save(crops / file)
            writer.writerow([file, typed, "ca"])
            labels[f"crops/{file}"] = LabeledFile(text, None, "crops")
    return root, labels


@pytest.fixture(scope="session")
def benchmark_dir(_benchmark) -> Path:
    """Read-only tmp folder: `us/` holds 2 labelled photos, `crops/` 2 labelled plate crops."""
    return _benchmark[0]


@pytest.fixture(scope="session")
def benchmark_labels(_benchmark) -> dict[str, LabeledFile]:
    """What `benchmark_dir` holds, keyed by path relative to it (e.g. "us/car_a.jpg")."""
    return _benchmark[1]


# --- models ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def classifier():
    """The shipped model (whatever its accuracy today), loaded once."""
    from alpr.classify import load_classifier

    return load_classifier()


def perturb_seed() -> int | None:
    """The perturbed lane's seed (`ALPR_PERTURB`), None in the ordinary run."""
    value = os.environ.get(PERTURB_ENV, "").strip()
    return int(value) if value else None


def constant_network(perturb: int | None = None):
    """The constant model's Keras network. With `perturb` (a seed), its probabilities move by
    about PERTURBATION the same way for every crop (the bias), as a CPU whose softmax rounds
    otherwise would, and as much again each crop its own way (a tiny kernel), as its sums would:
    a read that hangs on float noise changes."""
    import keras

    from alpr.classify import build_model

    keras.utils.set_random_seed(0)
    model = build_model(len(ALL_CLASSES), 32, "small")
    head = model.get_layer("head_softmax")
    kernel, _ = head.get_weights()
    probs = np.full(len(ALL_CLASSES), (1.0 - sum(CONSTANT_PROBS.values())) / (len(ALL_CLASSES) - len(CONSTANT_PROBS)))
    for char, p in CONSTANT_PROBS.items():
        probs[ALL_CLASSES.index(char)] = p
    bias = np.log(probs)
    # A zero kernel makes the logits equal the bias whatever the input: softmax(log p) = p.
    kernel = np.zeros_like(kernel)
    if perturb is not None:
        rng = np.random.default_rng(perturb)
        bias = bias + rng.normal(0.0, _LOGIT_SHIFT, bias.shape)
        # What reaches the head is much alike for every glyph crop: the kernel is drawn orthogonal
        # to its mean, so each crop moves by as much as it differs from the others, and scaled so
        # that this is _CROP_LOGIT_SHIFT.
        head_input = np.asarray(keras.Model(model.input, head.input)(_reference_crops()), np.float64)
        mean = head_input.mean(axis=0)
        unit = mean / np.linalg.norm(mean)
        drawn = rng.normal(0.0, 1.0, kernel.shape)
        drawn -= np.outer(unit, unit @ drawn)
        spread = float(np.linalg.norm(head_input - mean, axis=1).mean())
        kernel = drawn * _CROP_LOGIT_SHIFT / spread
    head.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return model


def _reference_crops() -> np.ndarray:
    """(n, 32, 32, 1) glyph crops as the pipeline cuts them from rendered plates."""
    from alpr.config import DEFAULT
    from alpr.segment import segment_all

    crops = []
    for text, seed, style in (("ABC1234", 2, "us"), ("7XYZ890", 3, "us"), ("RK857AD", 5, "eu")):
        for seg in segment_all(make_plate(text, seed, style).image, DEFAULT.segment, 32, limit=2):
            crops += [c.image for c in seg.chars]
    return np.stack(crops).astype(np.float32)[..., None]


def save_constant_model(folder: Path, perturb: int | None = None) -> Path:
    """Write the constant model (perturbed by seed `perturb`, if given) into `folder`; its path."""
    from alpr.classify import MODEL_FORMAT, metadata_path

    path = folder / "constant.keras"
    constant_network(perturb).save(path)
    metadata = {"format": MODEL_FORMAT, "version": "constant-A", "classes": list(ALL_CLASSES), "input_size": 32}
    metadata_path(path).write_text(json.dumps(metadata))
    return path


@pytest.fixture(scope="session")
def constant_model(tmp_path_factory) -> Path:
    """Path of a .keras model (with its .json metadata) that answers the same for every crop
    (perturbed by ALPR_PERTURB's seed in the perturbed lane)."""
    return save_constant_model(tmp_path_factory.mktemp("model"), perturb_seed())


@pytest.fixture(scope="session")
def constant_classifier(constant_model):
    from alpr.classify import load_classifier

    return load_classifier(constant_model)


@pytest.fixture(scope="session", autouse=True)
def _private_data_dir(tmp_path_factory):
    """Every test (and every app or CLI it starts) writes labels and models into a temporary folder.

    The app stores each photo it reads; without this the suite would fill the checkout's data/.
    Tests that need their own folder still set ALPR_DATA_DIR themselves.
    """
    import os

    folder = tmp_path_factory.mktemp("alpr-data")
    old = os.environ.get("ALPR_DATA_DIR")
    os.environ["ALPR_DATA_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("ALPR_DATA_DIR", None)
    else:
        os.environ["ALPR_DATA_DIR"] = old


@pytest.fixture(scope="session", autouse=True)
def _no_whole_plate_reader():
    """Tests read with the character pipeline alone: their stand-in classifiers (a constant model)
    and their expected strings are the character pipeline's. The tests of the whole-plate reader
    and its combiner (test_plate_reader, test_combine, the Recognize page's panel) turn it on by
    passing a reader or setting ALPR_PLATE_READER to the shipped file."""
    import os

    old = os.environ.get("ALPR_PLATE_READER")
    os.environ["ALPR_PLATE_READER"] = "off"
    yield
    if old is None:
        os.environ.pop("ALPR_PLATE_READER", None)
    else:
        os.environ["ALPR_PLATE_READER"] = old


LANES = ("unit", "app", "browser", "slow")


def pytest_collection_modifyitems(items):
    """Mark every test with its folder's lane (tests/unit -> unit, ...), so `-m` selects lanes too."""
    for item in items:
        lane = item.path.parent.name
        if lane in LANES:
            item.add_marker(getattr(pytest.mark, lane))
