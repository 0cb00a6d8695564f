"""The onnx runtime (alpr/runtime.py): the shipped `.onnx` files are the shipped Keras models
exported (the character CNN and the whole-plate reader), read rendered glyphs, strips and plates
as Keras does (outputs within 1e-4, the same plates), load without TensorFlow or Keras, and an
export that is missing or stale is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from alpr import plate_reader as pr
from alpr import synth
from alpr.classify import DEFAULT_MODEL, load_classifier, metadata_path
from alpr.config import DEFAULT
from alpr.errors import ModelError
from alpr.pipeline import recognize
from alpr.runtime import SOURCE_SHA256_KEY, OnnxNetwork, exported_path, file_sha256, learned_parts
from alpr.types import ALL_CLASSES, CLASSES

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_ONNX = exported_path(DEFAULT_MODEL, "onnx")
TOLERANCE = DEFAULT.classify.export_tolerance


@pytest.fixture(scope="module")
def onnx_classifier():
    return load_classifier(runtime="onnx")


def glyph_batch(seed: int = 0) -> np.ndarray:
    """Every character rendered three times, and as many not-characters: (n, 32, 32) in [0, 1]."""
    rng = np.random.default_rng(seed)
    glyphs = [synth.render_glyph(c, rng) for c in CLASSES * 3]
    noise = [rng.random((32, 32), dtype=np.float32) for _ in range(len(CLASSES))]
    return np.stack(glyphs + noise).astype(np.float32)


@pytest.fixture(scope="module")
def readers():
    """The shipped whole-plate reader under each runtime."""
    return {r: pr.load_plate_reader(pr.DEFAULT_MODEL, r) for r in ("keras", "onnx")}


def test_every_shipped_learned_part_has_an_onnx_export_of_itself():
    parts = learned_parts(DEFAULT_MODEL.parent)
    assert {p.name for p in parts} >= {"char_cnn.keras", "plate_reader.keras"}
    for part in parts:
        recorded = OnnxNetwork(exported_path(part, "onnx")).metadata[SOURCE_SHA256_KEY]
        assert recorded == file_sha256(part), (
            f"models/{part.stem}.onnx is stale: run `python -m alpr models export shipped --format onnx`"
        )


def test_onnx_gives_keras_probabilities_within_the_tolerance(classifier, onnx_classifier):
    batch = glyph_batch()
    keras_probs = classifier.probabilities(batch)
    onnx_probs = onnx_classifier.probabilities(batch)
    assert onnx_classifier.runtime == "onnx" and classifier.runtime == "keras"
    assert onnx_probs.shape == keras_probs.shape == (len(batch), len(ALL_CLASSES))
    assert np.abs(onnx_probs - keras_probs).max() <= TOLERANCE
    assert (onnx_probs.argmax(1) == keras_probs.argmax(1)).all()


def test_the_onnx_plate_reader_gives_keras_log_probabilities_within_the_tolerance(readers):
    rng = np.random.default_rng(3)
    strips = np.stack([pr.strip(synth.render_plate(synth.random_plate_text(rng), rng)[0]) for _ in range(6)])
    by_keras, by_onnx = readers["keras"].read(strips), readers["onnx"].read(strips)
    assert readers["onnx"].runtime == "onnx"
    for k, o in zip(by_keras, by_onnx):
        assert o.log_probs.shape == (pr.STEPS, len(pr.VOCAB))
        assert np.abs(o.log_probs - k.log_probs).max() <= TOLERANCE
        assert o.text == k.text


def test_the_onnx_batch_size_is_free(onnx_classifier):
    batch = glyph_batch(seed=1)
    whole = onnx_classifier.probabilities(batch)
    one_by_one = np.concatenate([onnx_classifier.probabilities(batch[i : i + 1]) for i in range(5)])
    np.testing.assert_allclose(one_by_one, whole[:5], atol=1e-6)
    assert onnx_classifier.probabilities(batch[:0]).shape == (0, len(ALL_CLASSES))


def test_onnx_reads_the_same_plates_as_keras_on_rendered_photos(classifier, onnx_classifier, readers):
    for text, photo in synth.sample_scenes(4, seed=5):
        by_keras = recognize(photo, country="us", topn=5, classifier=classifier, plate_reader=readers["keras"])
        by_onnx = recognize(photo, country="us", topn=5, classifier=onnx_classifier, plate_reader=readers["onnx"])
        assert [(p.plate, p.box) for p in by_onnx.plates] == [(p.plate, p.box) for p in by_keras.plates], text
        for a, b in zip(by_onnx.plates, by_keras.plates):
            assert [c.plate for c in a.candidates] == [c.plate for c in b.candidates]
            assert a.confidence == pytest.approx(b.confidence, abs=0.01)  # percent


def test_the_onnx_classifier_keeps_the_metadata_of_its_version(classifier, onnx_classifier):
    assert onnx_classifier.info.version == classifier.info.version
    assert onnx_classifier.info.path == DEFAULT_MODEL  # the version's own file, as the registry names it


# --- reading without TensorFlow ---------------------------------------------------------------

NO_TENSORFLOW = """
import sys
{body}
loaded = sorted(m for m in ("tensorflow", "keras", "tf2onnx") if m in sys.modules)
assert not loaded, f"the onnx runtime imported {{loaded}}"
print("clean")
"""

READS = {
    "recognize": """
        from alpr.cli import main
        assert main(["recognize", "--runtime", "onnx", "--json", PHOTO]) == 0
    """,
    "eval": """
        from alpr.cli import main
        assert main(["eval", BENCHMARK, "--runtime", "onnx"]) == 0
    """,
    "batch worker": """
        from alpr.batch.engines import read_chunk
        from alpr.batch.job import model_settings
        row, = read_chunk([PHOTO], model_settings(None, "us", 5, "onnx"))
        assert row.error is None, row.error
    """,
    "serve": """
        from fastapi.testclient import TestClient
        from alpr.api.server import create_app, load_model
        from alpr.api.settings import ServerConfig
        app = create_app(ServerConfig(runtime="onnx"))
        load_model(app)
        with TestClient(app) as client:
            answer = client.post("/v1/plate-reader/", files={"upload": ("car.png", open(PHOTO, "rb"))})
            assert answer.status_code == 200, answer.text
            assert client.get("/healthz").json()["runtime"] == "onnx"
    """,
}


@pytest.mark.parametrize("command", sorted(READS))
def test_a_read_with_the_onnx_runtime_imports_neither_tensorflow_nor_keras(command, tmp_path, benchmark_dir):
    photo = tmp_path / "car.png"
    from PIL import Image

    Image.fromarray(synth.sample_scenes(1, seed=2)[0][1]).save(photo)
    body = f"PHOTO, BENCHMARK = {str(photo)!r}, {str(benchmark_dir)!r}\n" + textwrap.dedent(READS[command])
    env = {k: v for k, v in os.environ.items() if k != "ALPR_PLATE_READER"}  # the shipped reader reads too
    done = subprocess.run(
        [sys.executable, "-c", NO_TENSORFLOW.format(body=body)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.rstrip().endswith("clean")


# --- refusals ---------------------------------------------------------------------------------


def _model_copy(folder: Path, source: Path = DEFAULT_MODEL) -> Path:
    path = folder / "char_cnn.keras"
    shutil.copyfile(source, path)
    shutil.copyfile(metadata_path(source), metadata_path(path))
    return path


def test_a_model_without_an_onnx_export_says_how_to_write_one(tmp_path):
    path = _model_copy(tmp_path)
    with pytest.raises(ModelError, match=r"no ONNX export char_cnn\.onnx beside .*python -m alpr models export"):
        load_classifier(path, runtime="onnx")


def test_an_export_of_another_keras_file_is_refused(tmp_path, constant_model):
    path = _model_copy(tmp_path, constant_model)  # trained again: the .keras changed, the .onnx did not
    shutil.copyfile(SHIPPED_ONNX, exported_path(path, "onnx"))
    with pytest.raises(ModelError, match=r"exported from another char_cnn\.keras .*export it again"):
        load_classifier(path, runtime="onnx")


def test_a_damaged_onnx_file_is_a_model_error(tmp_path):
    path = _model_copy(tmp_path)
    exported_path(path, "onnx").write_bytes(SHIPPED_ONNX.read_bytes()[:5000])
    with pytest.raises(ModelError, match=r"corrupt or not an ONNX model"):
        load_classifier(path, runtime="onnx")


def test_an_onnx_file_given_as_the_model_reads_with_the_onnx_runtime_and_its_own_metadata(tmp_path):
    onnx_file = tmp_path / "plates.onnx"
    shutil.copyfile(SHIPPED_ONNX, onnx_file)
    metadata = json.loads(metadata_path(DEFAULT_MODEL).read_text())
    metadata_path(onnx_file).write_text(json.dumps(metadata | {"version": "exported-copy"}))
    clf = load_classifier(onnx_file)
    assert (clf.runtime, clf.info.version) == ("onnx", "exported-copy")
    with pytest.raises(ModelError, match=r"plates\.onnx is an ONNX file: read it with the onnx runtime"):
        load_classifier(onnx_file, runtime="keras")


def test_the_cli_says_when_the_active_version_has_no_onnx_export(tmp_path, capsys):
    from alpr.cli import main

    photo = tmp_path / "car.png"
    photo.write_bytes(b"not read: the model fails first")
    (tmp_path / "model").mkdir()
    model = _model_copy(tmp_path / "model")
    assert main(["recognize", str(photo), "--model", str(model), "--runtime", "onnx"]) == 2
    assert "no ONNX export char_cnn.onnx" in capsys.readouterr().err


def test_exporting_a_version_that_does_not_exist_names_the_versions(capsys):
    from alpr.cli import main

    assert main(["models", "export", "v99", "--format", "onnx"]) == 2
    assert "no model version 'v99'" in capsys.readouterr().err
