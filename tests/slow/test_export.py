"""`python -m alpr models export`: every learned part of a version as ONNX or LiteRT (TFLite), each
reading rendered glyphs as Keras does (within 1e-4) in its own runtime, with any batch size.

Versions are made from conftest's constant model (a real Keras file in the shipped format) and the
shipped model; each export converts with TensorFlow, so seconds apiece.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from alpr import synth
from alpr.classify import DEFAULT_MODEL, load_classifier, metadata_path
from alpr.cli import main
from alpr.config import DEFAULT
from alpr.memory import PlateMemory, memory_path
from alpr.runtime import exported_path
from alpr.training import registry
from alpr.types import CLASSES

TOLERANCE = DEFAULT.classify.export_tolerance


def glyph_batch(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([synth.render_glyph(c, rng) for c in CLASSES * 2]).astype(np.float32)


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("ALPR_DATA_DIR", str(folder))
    return folder


def _register(folder: Path, model: Path, extra_parts: dict[str, Path] | None = None) -> registry.Version:
    """A version holding `model` as char_cnn.keras and, beside it, `extra_parts` (name -> .keras file)."""

    def write(path: Path) -> None:
        shutil.copyfile(model, path)
        for name, source in (extra_parts or {}).items():
            shutil.copyfile(source, path.parent / name)

    meta = json.loads(metadata_path(model).read_text())
    meta["registry"] = {"parent": "shipped", "status": registry.STATUS_ACCEPTED, "run_id": "test"}
    return registry.register(write, meta, folder)


def test_export_writes_every_learned_part_beside_the_active_version_and_onnx_reads_it(
    data, constant_model, tmp_path, capsys
):
    version = _register(data, constant_model, {"plate_reader.keras": DEFAULT_MODEL})
    registry.activate(version.name, data)

    assert main(["models", "export"]) == 0  # the active version, as ONNX, beside its .keras files

    said = capsys.readouterr().out
    folder = version.path.parent
    for part in ("char_cnn", "plate_reader"):
        assert (folder / f"{part}.onnx").is_file()
        assert f"{part}.keras -> {folder / (part + '.onnx')}" in said
    keras_reader = load_classifier(version.path, runtime="keras")
    onnx_reader = load_classifier(version.path, runtime="onnx")
    batch = glyph_batch()
    assert np.abs(onnx_reader.probabilities(batch) - keras_reader.probabilities(batch)).max() <= TOLERANCE

    photo = tmp_path / "car.png"
    from PIL import Image

    Image.fromarray(synth.sample_scenes(1, seed=4)[0][1]).save(photo)
    assert main(["recognize", str(photo), "--runtime", "onnx", "--json"]) == 0
    read = json.loads(capsys.readouterr().out)
    assert read["results"] and {r["plate"] for r in read["results"]} <= {"A" * n for n in range(1, 12)}


def test_export_to_a_folder_takes_the_metadata_and_plate_memory_and_reads_on_its_own(data, scene, tmp_path, capsys):
    version = _register(data, DEFAULT_MODEL)
    PlateMemory.from_photos([(scene.image, scene.box, scene.text, "us", 1)]).save(memory_path(version.path))
    out = tmp_path / "edge"

    assert main(["models", "export", version.name, "--format", "onnx", "--out", str(out)]) == 0

    assert sorted(p.name for p in out.iterdir()) == ["char_cnn.json", "char_cnn.onnx", "char_cnn.plates.npz"]
    assert not exported_path(version.path, "onnx").exists()  # the version's own folder is left as it was
    alone = load_classifier(out / "char_cnn.onnx")
    original = load_classifier(version.path)
    assert (alone.runtime, alone.info.version) == ("onnx", version.name)
    assert alone.memory is not None and len(alone.memory) == len(original.memory) == 1
    assert alone.priors == original.priors
    batch = glyph_batch(seed=3)
    assert np.abs(alone.probabilities(batch) - original.probabilities(batch)).max() <= TOLERANCE
    assert "largest difference from Keras" in capsys.readouterr().out


def test_the_tflite_export_reads_like_keras_in_the_tflite_interpreter(classifier, tmp_path):
    import tensorflow as tf

    assert main(["models", "export", "shipped", "--format", "tflite", "--out", str(tmp_path)]) == 0

    with warnings.catch_warnings():  # TF 2.21 calls its own interpreter deprecated in favour of ai_edge_litert
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(tmp_path / "char_cnn.tflite"))
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert list(source["shape_signature"]) == [-1, 32, 32, 1]  # a free batch dimension
    batch = glyph_batch(seed=1)[..., None]
    for size in (1, len(batch)):
        interpreter.resize_tensor_input(source["index"], (size, 32, 32, 1))
        interpreter.allocate_tensors()
        interpreter.set_tensor(source["index"], batch[:size])
        interpreter.invoke()
        got = interpreter.get_tensor(target["index"])
        assert np.abs(got - classifier.probabilities(batch[:size, ..., 0])).max() <= TOLERANCE
    assert (tmp_path / "char_cnn.json").is_file()
