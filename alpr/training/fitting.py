"""Keras pieces of a fine-tuning run: the learning-rate schedule, evaluation on the validation
parts, which layers train, weights saved and loaded, and TensorBoard scalars (where TensorFlow or
`tensorboard` is installed). Batches come from `alpr.training.batches`; nothing here needs TensorFlow."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from alpr import ties
from alpr.training.batches import pad_to_multiple
from alpr.types import ALL_CLASSES

PARTS = ("store", "datasets", "glyphs", "replay")  # where a validation crop came from


def cosine(lr: float, epoch: int, epochs: int) -> float:
    """Cosine decay per epoch, from `lr` at the first epoch to a tenth of it at the last."""
    if epochs <= 1:
        return lr
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * epoch / (epochs - 1))))


def predict(model, x: np.ndarray, replicas: int = 1) -> np.ndarray:
    """Softmax of (n, size, size) crops; under data parallelism the batch is padded to split evenly."""
    if not len(x):
        return np.zeros((0, len(ALL_CLASSES)), np.float32)
    batch = 512 - 512 % max(1, replicas)
    probs = model.predict(pad_to_multiple(x, replicas)[..., None], batch_size=batch, verbose=0)
    return np.asarray(probs, np.float32)[: len(x)]


def evaluate(probs: np.ndarray, y: np.ndarray, parts: np.ndarray) -> dict:
    """Loss, accuracy (overall and per data source), per-class accuracy and the confusion matrix."""
    n = len(y)
    k = len(ALL_CLASSES)
    if not n:
        return {
            "loss": 0.0,
            "accuracy": 0.0,
            "n": 0,
            "correct": 0,
            "parts": {},
            "parts_list": [None] * len(PARTS),
            "per_class": {},
            "confusion": [],
        }
    # A crop whose two best classes tie (alpr/ties.py) counts as the first of them: the gate's
    # counts, and so its decision, must not hang on a float's last bits.
    pred = ties.argmax(probs)
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(n), y], 1e-7, 1.0))))
    right = pred == y
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (y, pred), 1)
    per_class = {}
    for i, cls in enumerate(ALL_CLASSES):
        mask = y == i
        if mask.any():
            per_class[cls] = {"n": int(mask.sum()), "accuracy": round(float(right[mask].mean()), 4)}
    parts_list = []
    for i in range(len(PARTS)):
        mask = parts == i
        parts_list.append(
            {"n": int(mask.sum()), "correct": int(right[mask].sum()), "accuracy": round(float(right[mask].mean()), 4)}
            if mask.any()
            else None
        )
    return {
        "loss": loss,
        "accuracy": round(float(right.mean()), 4),
        "n": int(n),
        "correct": int(right.sum()),
        "parts": {PARTS[i]: p for i, p in enumerate(parts_list) if p},
        "parts_list": parts_list,
        "per_class": per_class,
        "confusion": confusion.tolist(),
    }


def public(ev: dict) -> dict:
    """The model metadata's `validation` block (as `alpr.train.per_class_accuracy` writes it)."""
    return {"accuracy": ev["accuracy"], "n": ev["n"], "per_class": ev["per_class"], "parts": ev["parts"]}


def set_trainable(model, what: str, backbone: str) -> None:
    """Freeze for a stage. BatchNormalization stays frozen (inference statistics) whenever the
    features are not all trained: a few hundred crops would pull its statistics off."""
    features = model.get_layer("features")
    features.trainable = True
    for layer in model.layers:
        if layer is not features:
            layer.trainable = True  # the head (head_*) always trains
    inner = [l for l in features.layers if hasattr(l, "layers") and l.layers]  # an ImageNet backbone
    for layer in features.layers:
        if what == "all":
            layer.trainable = True
        elif layer in inner:
            layer.trainable = what == "top"
            if what == "top":
                sub = layer.layers
                cut = int(len(sub) * 0.8)
                for j, s in enumerate(sub):
                    s.trainable = j >= cut and "BatchNormalization" not in type(s).__name__
        elif layer.name in ("grey_to_rgb",):
            layer.trainable = True  # learnt grey-to-RGB in front of an ImageNet backbone
        elif what == "top" and layer.name.startswith("block3") and "BatchNormalization" not in type(layer).__name__:
            layer.trainable = True
        else:
            layer.trainable = False


def stop_on_signal(guard):
    """A Keras callback that ends `fit` after the current batch once a stop was asked for."""
    import keras

    class StopOnSignal(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if guard.requested:
                self.model.stop_training = True

    return StopOnSignal()


def save_weights(model, path: Path) -> None:
    tmp = path.with_name(path.name.replace(".weights.h5", ".tmp.weights.h5"))
    model.save_weights(tmp)
    os.replace(tmp, path)


def load_weights(model, path: Path) -> None:
    """Load a checkpoint's model weights; its optimizer state belongs to the stage that wrote it."""
    import warnings

    if not path.is_file():
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Skipping variable loading for optimizer.*")
        model.load_weights(path)


def with_dtype(model, policy: str):
    """The same network with every layer's dtype policy set to `policy`, and the same weights."""
    import keras

    def clone(layer):
        config = layer.get_config()
        if layer.name != "head_softmax":  # the softmax stays float32 for a stable loss
            config["dtype"] = policy
        return layer.__class__.from_config(config)

    try:
        copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
        copy.set_weights(model.get_weights())
        return copy
    except Exception:  # noqa: BLE001 - an architecture that does not clone trains in float32
        return model


def save_float32(model, path: Path, backbone: str) -> None:
    """A float32, weights-only copy (no optimizer state, every layer trainable) as the shipped model."""
    import keras

    if keras.mixed_precision.global_policy().name != "float32":
        keras.mixed_precision.set_global_policy("float32")
        copy = with_dtype(model, "float32")
    else:
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
    for layer in copy.layers:
        layer.trainable = True
    if hasattr(copy.get_layer("features"), "layers"):
        for layer in copy.get_layer("features").layers:
            layer.trainable = True
    copy.save(path)


class TensorBoardWriter:
    """Scalars per epoch as TensorBoard event files: with TensorFlow's summary ops where TensorFlow is
    installed, else with the `tensorboard` package's own writer, else none (metrics.jsonl holds the
    same numbers, so a JAX machine without either loses nothing but the TensorBoard view)."""

    TAGS = {
        "loss/train": "loss",
        "loss/validation": "val_loss",
        "accuracy/train": "acc",
        "accuracy/validation": "val_acc",
        "learning_rate": "lr",
        "samples_per_second": "samples_per_s",
    }

    def __init__(self, folder: Path):
        import importlib.util

        from alpr.framework import name, quiet_tensorflow

        self.kind = None
        has_tf = importlib.util.find_spec("tensorflow") is not None
        # Under JAX/PyTorch the small `tensorboard` writer is preferred to loading all of TensorFlow.
        if has_tf and (name() == "tensorflow" or importlib.util.find_spec("tensorboard") is None):
            quiet_tensorflow(always=True)
            import tensorflow as tf

            if name() != "tensorflow":
                tf.config.set_visible_devices([], "GPU")  # only its summary ops: the GPU is the backend's
            from tensorflow.core.framework import summary_pb2

            self.tf, self.kind = tf, "tensorflow"
            self.writer = tf.summary.create_file_writer(str(folder))
            self.meta = summary_pb2.SummaryMetadata(
                plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
            ).SerializeToString()
        elif importlib.util.find_spec("tensorboard") is not None:
            from tensorboard.summary.writer.event_file_writer import EventFileWriter

            folder.mkdir(parents=True, exist_ok=True)
            self.writer, self.kind = EventFileWriter(str(folder)), "tensorboard"

    def epoch(self, row) -> None:
        row = row.as_dict() if hasattr(row, "as_dict") else row  # an EpochRow
        values = {tag: float(row[key]) for tag, key in self.TAGS.items()}
        if self.kind == "tensorflow":
            with self.writer.as_default():
                for tag, value in values.items():
                    self.tf.summary.write(
                        tag, self.tf.constant(value, self.tf.float32), step=row["global_epoch"], metadata=self.meta
                    )
            self.writer.flush()
        elif self.kind == "tensorboard":
            import time

            from tensorboard.compat.proto import event_pb2, summary_pb2

            summary = summary_pb2.Summary(
                value=[summary_pb2.Summary.Value(tag=t, simple_value=v) for t, v in values.items()]
            )
            self.writer.add_event(event_pb2.Event(wall_time=time.time(), step=row["global_epoch"], summary=summary))
            self.writer.flush()

    def close(self) -> None:
        if self.kind:
            self.writer.close()
