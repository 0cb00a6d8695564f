"""`python -m alpr models export`: a model version's learned parts as ONNX or LiteRT (TFLite) files.

Every learned part of the version (each `.keras` file in its folder: the character CNN
`char_cnn.keras` and, where there is one, the whole-plate reader `plate_reader.keras`) is
converted by Keras 3's own exporter (`model.export`: tf2onnx for ONNX, TensorFlow's LiteRT
converter for `.tflite`) with a free batch dimension, then read back by its runtime (ONNX
Runtime, the TFLite interpreter) and compared with Keras on the same inputs: an export whose
outputs (the CNN's probabilities, the reader's logits) differ by more than
`classify.export_tolerance` is refused, not written.

Without `--out` the files go beside the version's `.keras` files, where `--runtime onnx` looks
for them. With `--out FOLDER` each part's metadata (`.json`, with the format priors) and plate
memory (`.plates.npz`) are copied beside its export, so the folder is a whole model that reads
without the registry: `python -m alpr recognize car.jpg --model FOLDER/char_cnn.onnx`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alpr.classify import metadata_path
from alpr.config import DEFAULT, ClassifyConfig
from alpr.errors import ModelError
from alpr.memory import memory_path
from alpr.runtime import (
    EXPORT_SUFFIXES,
    SOURCE_KEY,
    SOURCE_SHA256_KEY,
    VERSION_KEY,
    exported_path,
    file_sha256,
    learned_parts,
)
from alpr.training.records import now_utc

FORMATS = tuple(EXPORT_SUFFIXES)
_CHECK_BATCH = 16  # inputs compared with Keras after export; the first alone too (a batch of one)


@dataclass(frozen=True)
class Exported:
    """One written file: the part it came from, where it is, and how far it is from Keras."""

    part: Path  # the .keras file
    path: Path  # the .onnx / .tflite file
    largest_difference: float  # max |export - keras| over the check inputs' probabilities
    copied: tuple[Path, ...]  # metadata and plate memory copied beside it (with --out)


def export_parts(
    parts: list[Path],
    fmt: str,
    out: str | Path | None = None,
    version: str = "",
    config: ClassifyConfig = DEFAULT.classify,
) -> list[Exported]:
    """Export each `.keras` file in `parts` to `fmt` into `out` (default: beside each part)."""
    if fmt not in FORMATS:
        raise ModelError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not parts:
        raise ModelError("nothing to export: no .keras file")
    from alpr.framework import name as backend_name

    if backend_name() != "tensorflow":
        raise ModelError(
            f"exporting needs Keras' TensorFlow backend (KERAS_BACKEND is {backend_name()!r}); "
            "run it with KERAS_BACKEND=tensorflow"
        )
    done = []
    for part in parts:
        folder = Path(out) if out else part.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModelError(f"cannot write to {folder}: {exc.strerror or exc}") from None
        done.append(_export_one(part, fmt, exported_path(folder / part.name, fmt), version, config))
    return done


def _export_one(part: Path, fmt: str, target: Path, version: str, config: ClassifyConfig) -> Exported:
    from alpr.runtime import KerasNetwork

    network = KerasNetwork.load(part)
    model = network.model
    if len(model.inputs) != 1:
        raise ModelError(f"{part.name} takes {len(model.inputs)} inputs; export reads models of one input")
    # A temporary name in the target folder, renamed into place once checked: a failed or
    # interrupted export never leaves a half-written file where --runtime onnx would read it.
    tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex[:8]}{target.suffix}")
    try:
        try:
            _convert(model, fmt, tmp)
            if fmt == "onnx":
                _label_onnx(tmp, part, version, _output_name(model))
        except ModelError:
            raise
        except Exception as exc:  # the converters raise anything from ValueError to ConverterError
            raise ModelError(f"exporting {part.name} to {fmt} failed ({type(exc).__name__}: {exc})") from None
        inputs = np.random.default_rng(0).random((_CHECK_BATCH, *model.input_shape[1:]), dtype=np.float32)
        expected = network.predict(inputs)
        with _captured_stderr():  # the TFLite interpreter announces its XNNPACK delegate
            read = _reader(fmt, tmp)
            got = np.concatenate([read(inputs[:1]), read(inputs[1:])])  # two batch sizes: the batch is free
        difference = float(np.abs(got - expected).max())
        if difference > config.export_tolerance:
            raise ModelError(
                f"the {fmt} export of {part.name} differs from Keras by {difference:.2g} "
                f"(> classify.export_tolerance {config.export_tolerance:g}); not written"
            )
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    copied = []
    for extra in (metadata_path(part), memory_path(part)):
        beside = target.parent / extra.name
        if extra.is_file() and beside.resolve() != extra.resolve():
            shutil.copyfile(extra, beside)
            copied.append(beside)
    return Exported(part, target, difference, tuple(copied))


def _input_signature(model):
    import tensorflow as tf

    spec = model.inputs[0]
    return [tf.TensorSpec((None, *spec.shape[1:]), tf.float32, name=spec.name.split(":")[0] or "input")]


def _convert(model, fmt: str, path: Path) -> None:
    """Keras' exporter with the batch dimension left free; the converters' log lines are kept
    off the terminal and shown only when the conversion fails."""
    with _captured_stderr() as log:
        try:
            model.export(
                str(path),
                format="onnx" if fmt == "onnx" else "litert",
                input_signature=_input_signature(model),
                verbose=False,
            )
        except Exception as exc:
            tail = " | ".join(line for line in log().splitlines()[-3:] if line.strip())
            raise ModelError(
                f"exporting to {fmt} failed ({type(exc).__name__}: {exc}){' - ' + tail if tail else ''}"
            ) from None


@contextlib.contextmanager
def _captured_stderr():
    """Redirect file descriptor 2 (TensorFlow's C++ logs write there) to a temporary file."""
    with tempfile.TemporaryFile(mode="w+") as log:
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            yield lambda: (log.flush(), log.seek(0), log.read())[2]
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _output_name(model) -> str:
    """ "probabilities" for a network ending in a softmax (the character CNN), else "logits" (the
    whole-plate reader's per-column scores)."""
    activation = getattr(model.layers[-1], "activation", None)
    return "probabilities" if getattr(activation, "__name__", "") == "softmax" else "logits"


def _label_onnx(path: Path, part: Path, version: str, output: str) -> None:
    """Name the free dimension "batch" and the output `output`, and record the part the file came
    from (its SHA-256: alpr/runtime.py refuses an export of another .keras file)."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    old_output = graph.output[0].name
    for node in graph.node:
        node.output[:] = [output if name == old_output else name for name in node.output]
    graph.output[0].name = output
    for value in (graph.input[0], graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    props = {
        SOURCE_KEY: part.name,
        SOURCE_SHA256_KEY: file_sha256(part),
        VERSION_KEY: version,
        "alpr.exported": now_utc(),
    }
    del model.metadata_props[:]
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _reader(fmt: str, path: Path):
    """A function that runs a batch through the exported file with its own runtime."""
    if fmt == "onnx":
        from alpr.runtime import OnnxNetwork

        return OnnxNetwork(path).predict
    return tflite_reader(path)


def tflite_reader(path: str | Path):
    """Run a `.tflite` file with the TFLite interpreter (batch resized per call)."""
    import warnings

    import tensorflow as tf

    with warnings.catch_warnings():  # "tf.lite.Interpreter is deprecated": it is still TF 2.21's own
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(path))
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

    def read(batch: np.ndarray) -> np.ndarray:
        interpreter.resize_tensor_input(source["index"], batch.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(source["index"], np.ascontiguousarray(batch, np.float32))
        interpreter.invoke()
        return np.array(interpreter.get_tensor(target["index"]))

    return read


def parts_of(version) -> list[Path]:
    """The learned parts of a registry version: the `.keras` files in its folder."""
    return learned_parts(Path(version.path).parent)
