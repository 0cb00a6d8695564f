"""Stage 3: classify character crops with a Keras CNN (36 characters plus "not a character").

The shipped network is the project's own small CNN (`backbone="small"`), pretrained on rendered
glyphs and fine-tuned on real crops by `python -m alpr train`. ImageNet backbones (`inception_v3`,
`mobilenet_v2`) are offered for users who have their weights locally; nothing is downloaded.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alpr import ties
from alpr.config import DEFAULT, ClassifyConfig
from alpr.errors import ModelError
from alpr.framework import quiet_tensorflow
from alpr.memory import PlateMemory, memory_path
from alpr.paths import REPO_ROOT, keras_cache
from alpr.priors import from_json as priors_from_json
from alpr.runtime import open_network
from alpr.types import ALL_CLASSES, CharCrop, Prediction

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter is not for users

MODELS_DIR = REPO_ROOT / "models"
DEFAULT_MODEL = MODELS_DIR / "char_cnn.keras"
# Bumped when the model's inputs or classes change meaning; a model with a newer one is refused.
MODEL_FORMAT = 1
BACKBONES = ("small", "mobilenet_v2", "inception_v3")


def metadata_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".json")


def build_model(
    num_classes: int = len(ALL_CLASSES), input_size: int = 32, backbone: str = "small", weights: str | None = None
):
    """A fresh classifier: a feature extractor named "features" and a small dense head.

    `weights` is only for ImageNet backbones: a local `.h5`/`.weights.h5` file, or "imagenet" to use
    the Keras cache (~/.keras/models) when it already holds the file.
    """
    quiet_tensorflow()
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 1), name="glyph")
    if backbone == "small":
        features = _small_features(input_size)
    elif backbone in ("mobilenet_v2", "inception_v3"):
        features = _imagenet_features(backbone, input_size, weights)
    else:
        raise ModelError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")
    x = features(inputs)
    x = layers.Dropout(0.3, name="head_dropout")(x)
    x = layers.Dense(256, activation="relu", name="head_dense")(x)
    x = layers.Dropout(0.3, name="head_dropout2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="head_softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"char_cnn_{backbone}")


def _small_features(input_size: int):
    import keras
    from keras import layers

    def block(filters: int, name: str, convs: int) -> list:
        out = []
        for k in range(1, convs + 1):
            out += [
                layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{k}"),
                layers.BatchNormalization(name=f"{name}_bn{k}"),
                layers.ReLU(name=f"{name}_relu{k}"),
            ]
        return out + [layers.MaxPooling2D(name=f"{name}_pool")]

    # 16-32-64 filters: trains at ~2,200 crops/s on a 2-core CPU and reads a plate's crops in ~3 ms;
    # twice the width trained 5x slower for no gain on glyphs this small.
    return keras.Sequential(
        [keras.Input((input_size, input_size, 1))]
        + block(16, "block1", 1)
        + block(32, "block2", 2)
        + block(64, "block3", 2)
        + [layers.Flatten(name="flatten")],
        name="features",
    )


def _imagenet_features(backbone: str, input_size: int, weights: str | None):
    import keras
    from keras import layers

    if weights is None:
        raise ModelError(
            f"backbone {backbone!r} needs ImageNet weights: pass --weights PATH to a local weights file, "
            "or --weights imagenet when ~/.keras/models already holds it (this machine cannot download)"
        )
    if weights == "imagenet":
        cache = keras_cache()
        if not any(cache.glob(f"{backbone}*notop*.h5")):
            raise ModelError(
                f"no {backbone} ImageNet weights in {cache}; copy the '..._notop.h5' file there "
                "from a machine with internet access, or pass --weights PATH"
            )
    elif not Path(weights).is_file():
        raise ModelError(f"weights file {weights} does not exist")
    # ImageNet networks want 3 channels and at least 75 px (InceptionV3) / 32 px (MobileNetV2).
    side = 96 if backbone == "inception_v3" else max(input_size, 64)
    app = keras.applications.InceptionV3 if backbone == "inception_v3" else keras.applications.MobileNetV2
    base = app(include_top=False, weights=weights, input_shape=(side, side, 3), pooling="avg")
    return keras.Sequential(
        [
            keras.Input((input_size, input_size, 1)),
            layers.Resizing(side, side, name="to_backbone_size"),
            layers.Conv2D(3, 1, name="grey_to_rgb"),  # learnt grey-to-RGB instead of a Lambda
            layers.Rescaling(2.0, offset=-1.0, name="to_pm1"),  # both backbones expect [-1, 1]
            base,
        ],
        name="features",
    )


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    version: str
    classes: tuple[str, ...]
    input_size: int
    metadata: dict


class CharClassifier:
    """A loaded character model: its network, the plate memory and the format priors saved with it.

    The network is a `KerasNetwork` or an `OnnxNetwork` (alpr/runtime.py): anything whose
    `predict(batch)` turns (n, size, size, 1) crops into (n, classes) probabilities. Safe to share
    between threads (Streamlit sessions, the HTTP server's reads)."""

    def __init__(self, network, info: ModelInfo, config: ClassifyConfig = DEFAULT.classify, memory=None):
        self.network = network
        self.info = info
        self.config = config
        # What a person's confirmed plates say of each format's positions (alpr/priors.py), saved
        # with a fine-tuned version; empty for the shipped model. The assembler ranks with them.
        self.priors = priors_from_json(info.metadata.get("format_priors"))
        # The plates a person labeled, saved beside a fine-tuned model (alpr/memory.py); None for
        # the shipped model. The pipeline asks it about every read.
        self.memory = memory
        self._lock = threading.Lock()

    @property
    def runtime(self) -> str:
        """Which runtime computes the probabilities: "keras" or "onnx"."""
        return self.network.runtime

    @property
    def input_size(self) -> int:
        return self.info.input_size

    def without_memory(self) -> "CharClassifier":
        """The same network reading without the plate memory: what the network alone has learnt."""
        alone = copy.copy(self)
        alone.memory = None
        return alone

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """(n, classes) softmax for a batch of (n, size, size) crops in [0, 1]."""
        if len(images) == 0:
            return np.zeros((0, len(self.info.classes)), np.float32)
        batch = np.asarray(images, np.float32)[..., None]
        with self._lock:
            return self.network.predict(batch)

    def predict(self, crops: list[CharCrop] | tuple[CharCrop, ...], k: int = 5) -> list[Prediction]:
        probs = self.probabilities(np.stack([c.image for c in crops]) if crops else np.zeros((0,)))
        return [self._prediction(p, k) for p in probs]

    def _prediction(self, p: np.ndarray, k: int) -> Prediction:
        # The classes at min_topk_prob or more (the best one always), most likely first; classes
        # whose probabilities tie (alpr/ties.py) in the classes' own order, so the top-k does not
        # hang on the last bits of a float.
        floor = self.config.min_topk_prob
        pool = np.flatnonzero(p >= floor - ties.margin(floor)).tolist() or [int(ties.argmax(p))]
        order = ties.ranked(pool, lambda i: float(p[i]))[:k]
        topk = tuple((self.info.classes[i], float(p[i])) for i in order)
        return Prediction(char=topk[0][0], confidence=topk[0][1], topk=topk)


def load_classifier(
    path: str | Path | None = None, config: ClassifyConfig = DEFAULT.classify, runtime: str | None = None
) -> CharClassifier:
    """Load a model and its metadata JSON, refusing anything that does not fit this code.

    `path` is a `.keras` file (default: the shipped model) or an exported `.onnx` file; `runtime`
    is "keras" or "onnx" (alpr/runtime.py; default: from the file's suffix). With "onnx" neither
    TensorFlow nor Keras is imported: the `.onnx` exported beside the `.keras` file is read."""
    path = Path(path) if path else DEFAULT_MODEL
    if not path.is_file():
        raise ModelError(f"no model file at {path}; train one with `python -m alpr train` or restore models/")
    meta_file = metadata_path(path)
    try:
        metadata = json.loads(meta_file.read_text())
    except FileNotFoundError:
        raise ModelError(f"model {path.name} has no metadata file {meta_file.name} beside it") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"metadata {meta_file} is unreadable: {exc}") from None
    fmt = metadata.get("format", 0)
    if fmt > MODEL_FORMAT:
        raise ModelError(f"model {path.name} was made by a newer alpr (format {fmt} > {MODEL_FORMAT}); upgrade alpr")
    classes = tuple(metadata.get("classes", ()))
    if classes != ALL_CLASSES:
        raise ModelError(
            f"model {path.name} predicts {len(classes)} classes {''.join(classes)!r}, this alpr expects {''.join(ALL_CLASSES)!r}"
        )
    network = open_network(path, runtime)
    size = int(metadata.get("input_size", 32))
    if tuple(network.input_shape[1:]) != (size, size, 1) or network.output_shape[-1] != len(classes):
        raise ModelError(
            f"model {path.name} takes {network.input_shape} and gives {network.output_shape[-1]} classes; "
            f"metadata says {size}x{size}x1 and {len(classes)}"
        )
    info = ModelInfo(path, str(metadata.get("version", path.stem)), classes, size, metadata)
    plates = memory_path(path)
    return CharClassifier(network, info, config, PlateMemory.load(plates) if plates.is_file() else None)
