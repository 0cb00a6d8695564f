"""The same fine-tuning code under JAX: `KERAS_BACKEND=jax python -m alpr train` registers a version
that the TensorFlow app reads with, giving the predictions JAX gave; and data parallelism over two
virtual CPU devices. Tiny runs (40 crops, 1 epoch); each is a minute or two of JAX start and compile."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from train_helpers import ROOT, run_cli, seed_store

from alpr.classify import load_classifier, metadata_path
from alpr.synth import render_glyph
from alpr.training import jobs, registry

pytest.importorskip("jax")
JAX = {"KERAS_BACKEND": "jax"}
TINY = ["--base", "shipped", "--glyphs-per-class", "2", "--epochs", "1", "--unfreeze-epochs", "0"]


def _folder(tmp_path_factory, name: str, constant_model) -> object:
    """A data folder with 40 labeled crops whose active model is the constant one, so a fine-tune of
    the shipped model reads better and is accepted."""
    folder = tmp_path_factory.mktemp(name) / "data"
    assert seed_store(folder, 40) == 40
    meta = json.loads(metadata_path(constant_model).read_text())
    registry.register(lambda path: shutil.copyfile(constant_model, path), meta, folder)
    registry.activate("v2", folder, force=True)
    return folder


@pytest.fixture(scope="module")
def jax_run(tmp_path_factory, constant_model):
    folder = _folder(tmp_path_factory, "jax", constant_model)
    proc, _ = run_cli("train", "--data-dir", folder, *TINY, "--activate", env=JAX, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    return folder, proc


def _crops() -> np.ndarray:
    rng = np.random.default_rng(11)
    return np.stack([render_glyph(c, rng, 32) for c in "AB80OI1Z2S5"])


def test_a_jax_run_says_its_backend_and_registers_an_active_version(jax_run):
    folder, proc = jax_run
    assert "on JAX " in proc.stdout
    assert registry.active_name(folder) == "v3"
    assert registry.get("v3", folder).status == "accepted"
    run = jobs.list_runs(folder)[0]
    assert run.state == "succeeded" and len(run.metrics()) == 1  # metrics.jsonl on any backend


def test_the_tensorflow_app_reads_the_jax_version_as_jax_does(jax_run, tmp_path):
    folder, _ = jax_run
    crops = tmp_path / "crops.npy"
    np.save(crops, _crops())
    out = tmp_path / "jax.npy"
    script = (
        "import sys, numpy as np; from alpr.training import registry; "
        "clf = registry.load_active(sys.argv[1])[0]; np.save(sys.argv[3], clf.probabilities(np.load(sys.argv[2])))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(folder), str(crops), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, **JAX},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    import keras

    assert keras.backend.backend() == "tensorflow"  # this process is the app's backend
    clf, version, _ = registry.load_active(folder)
    assert version.name == "v3"
    by_tf = clf.probabilities(_crops())
    by_jax = np.load(out)
    assert by_tf.shape == by_jax.shape == (11, 37)
    np.testing.assert_allclose(by_tf, by_jax, atol=1e-5)
    assert (by_tf.argmax(1) == by_jax.argmax(1)).all()


def test_data_parallel_over_two_virtual_devices_in_bfloat16_registers_a_float32_version(
    tmp_path_factory, constant_model
):
    """As a GPU run trains (mixed_bfloat16, the batch split over the devices), on two CPU devices."""
    folder = _folder(tmp_path_factory, "dp", constant_model)
    env = {**JAX, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    proc, _ = run_cli("train", "--data-dir", folder, *TINY, "--precision", "mixed_bfloat16", env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    assert "data parallel: keras.distribution.DataParallel over 2 devices, global batch 128" in proc.stdout
    assert "mixed precision mixed_bfloat16" in proc.stdout
    version = registry.get("v3", folder)
    assert version.metadata["registry"]["comparison"]["new"]["n"] > 0
    model = load_classifier(version.path).network.model  # the Keras runtime's model
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}  # shipped in float32
