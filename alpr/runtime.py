"""Stage 3's engine: a learned part of a model behind one `predict(batch) -> probabilities`.

A model version's learned parts are its `.keras` files (today `char_cnn.keras`, the character
network). Each can be read by one of two runtimes:

    keras  the `.keras` file under Keras 3 and TensorFlow: what training writes, the default
    onnx   the `.onnx` file that `python -m alpr models export --format onnx` writes beside it,
           under ONNX Runtime, without importing TensorFlow or Keras (a start-up of a fraction
           of a second instead of TensorFlow's seconds; docs/runtime.md has the numbers)

An exported file records the SHA-256 of the `.keras` file it came from, so an export left behind
by a model that was trained again is refused rather than read. Nothing here imports a framework
until a network is opened.

    network = open_network(Path("models/char_cnn.keras"), "onnx")
    probabilities = network.predict(batch)   # (n, 32, 32, 1) float32 -> (n, classes)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from alpr.errors import ModelError

RUNTIMES = ("keras", "onnx")
DEFAULT_RUNTIME = "keras"
# Export format -> the suffix of the file it writes beside (or instead of) each `.keras` file.
EXPORT_SUFFIXES = {"onnx": ".onnx", "tflite": ".tflite"}
# Keys of the ONNX file's metadata_props that say where it came from.
SOURCE_KEY = "alpr.source"
SOURCE_SHA256_KEY = "alpr.source_sha256"
VERSION_KEY = "alpr.version"


def learned_parts(folder: str | Path) -> list[Path]:
    """Every learned part of the model version in `folder`: its `.keras` files, by name."""
    return sorted(Path(folder).glob("*.keras"))


def exported_path(part: str | Path, fmt: str) -> Path:
    """Where a part's export in `fmt` lives beside it: `char_cnn.keras` -> `char_cnn.onnx`."""
    return Path(part).with_suffix(EXPORT_SUFFIXES[fmt])


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def runtime_for(path: str | Path, runtime: str | None) -> str:
    """The runtime that reads `path`: the one asked for, else ONNX for a `.onnx` file, else Keras."""
    if runtime is None:
        return "onnx" if Path(path).suffix == ".onnx" else DEFAULT_RUNTIME
    if runtime not in RUNTIMES:
        raise ModelError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    if runtime == "keras" and Path(path).suffix == ".onnx":
        raise ModelError(f"{Path(path).name} is an ONNX file: read it with the onnx runtime (--runtime onnx)")
    return runtime


class KerasNetwork:
    """A Keras model. Under TensorFlow the forward pass is one traced graph for every batch size."""

    runtime = "keras"

    def __init__(self, model):
        import keras

        self.model = model
        self.input_shape = tuple(model.input_shape)
        self.output_shape = tuple(model.output_shape)
        if keras.backend.backend() != "tensorflow":
            # JAX / PyTorch (a training run under them): Keras compiles the forward pass per batch shape.
            self._forward = model.predict_on_batch
            return
        import tensorflow as tf

        # A traced graph runs a batch in ~3 ms where an eager call costs ~20 ms of overhead.
        self._forward = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec((None, *self.input_shape[1:]), tf.float32)],
            autograph=False,
        )

    @classmethod
    def load(cls, path: Path) -> KerasNetwork:
        from alpr.framework import quiet_tensorflow

        quiet_tensorflow()
        import keras

        try:
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises many types for a damaged zip/h5; all mean the same here
            raise ModelError(
                f"model file {path} is corrupt or not a Keras model ({type(exc).__name__}: {exc})"
            ) from None
        return cls(model)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self._forward(batch), dtype=np.float32)


class OnnxNetwork:
    """An exported `.onnx` file under ONNX Runtime (its CPU provider); imports no TensorFlow or Keras."""

    runtime = "onnx"

    def __init__(self, path: Path):
        try:
            import onnxruntime
        except ImportError:
            raise ModelError(
                "the onnx runtime needs the onnxruntime package: pip install -r requirements.txt"
            ) from None
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # its warnings about unused initializers are not for users
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ONNX Runtime raises its own Fail/InvalidGraph types for a bad file
            raise ModelError(
                f"model file {path} is corrupt or not an ONNX model ({type(exc).__name__}: {exc})"
            ) from None
        self.path = Path(path)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        self._input = inputs[0].name
        # ONNX names a free dimension with a string ("batch"); Keras says None.
        self.input_shape = tuple(d if isinstance(d, int) else None for d in inputs[0].shape)
        self.output_shape = tuple(d if isinstance(d, int) else None for d in outputs[0].shape)
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self._input: batch})[0], dtype=np.float32)


def onnx_file_for(path: str | Path) -> Path:
    """The `.onnx` file the onnx runtime reads for the model `path`; a ModelError saying how to
    write it when there is none."""
    path = Path(path)
    onnx_file = path if path.suffix == ".onnx" else exported_path(path, "onnx")
    if not onnx_file.is_file():
        raise ModelError(
            f"no ONNX export {onnx_file.name} beside {path}; write it with "
            "`python -m alpr models export VERSION --format onnx` (VERSION from `python -m alpr models list`)"
        )
    return onnx_file


def open_network(path: str | Path, runtime: str | None = None) -> KerasNetwork | OnnxNetwork:
    """The network of the learned part `path` under `runtime` (see `runtime_for`).

    With the onnx runtime, `path` is the `.onnx` file itself or the `.keras` file it was exported
    from (then the `.onnx` beside it is read, and refused when that `.keras` has changed since)."""
    path = Path(path)
    runtime = runtime_for(path, runtime)
    if runtime == "keras":
        return KerasNetwork.load(path)
    onnx_file = onnx_file_for(path)
    network = OnnxNetwork(onnx_file)
    source = network.metadata.get(SOURCE_SHA256_KEY)
    if path.suffix == ".keras" and source and source != file_sha256(path):
        raise ModelError(
            f"{onnx_file} was exported from another {path.name} than the one beside it (trained again?); "
            "export it again with `python -m alpr models export VERSION --format onnx`"
        )
    return network
