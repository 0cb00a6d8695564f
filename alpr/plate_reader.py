"""The whole-plate reader: a small CNN with a CTC head that reads a plate strip without cutting it.

The character pipeline (segment -> classify -> assemble) reads a plate glyph by glyph, so a plate cut
into the wrong number of pieces can never read right. This reader looks at the whole strip at once
and emits, for each of `STEPS` columns, a probability over the 36 characters and the CTC blank.
The pipeline uses it as a second opinion (alpr/combine.py): it scores each candidate string of the
character pipeline by its CTC likelihood, and its own greedy read may win when it is sure enough.

    reader = load_plate_reader(Path("models/plate_reader.keras"))   # None when the file is absent
    reader = load_plate_reader(path, runtime="onnx")                 # plate_reader.onnx, no TensorFlow
    reads = reader.read([strip(crop), ...])                          # one batched predict
    reads[0].text, reads[0].confidences, reader.log_likelihood(reads[0].log_probs, "ABC123")

Training lives in alpr/training/plate_reader_train.py (`python -m alpr train-reader`).
Nothing here imports Keras until a model is loaded; with the onnx runtime (alpr/runtime.py) the
`.onnx` exported beside the `.keras` file is read and Keras is never imported.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from alpr.errors import InputError, ModelError
from alpr.paths import PLATE_READER_ENV, REPO_ROOT
from alpr.runtime import open_network
from alpr.types import CLASSES, Box

# The model's input contract, stored in its metadata too: a model made for another is refused.
HEIGHT, WIDTH = 32, 128
STEPS = 32  # output columns: WIDTH / 4; a plate of 10 characters with repeats still fits (2L - 1 <= 32)
BLANK = 0  # CTC's blank is class 0, characters are 1..36 in CLASSES order (Keras' CTC convention)
VOCAB = ("",) + CLASSES
INDEX = {ch: i + 1 for i, ch in enumerate(CLASSES)}
MODEL_FORMAT = 1
DEFAULT_MODEL = REPO_ROOT / "models" / "plate_reader.keras"
# Air kept around the characters' box when a read's strip is cut: the reader was trained on plate
# crops whose labeled boxes run a little past the lettering.
MARGIN_X, MARGIN_Y = 0.06, 0.18


@dataclass(frozen=True, eq=False)
class WholeRead:
    """What the whole-plate reader made of one plate strip."""

    text: str  # greedy CTC decode: best class per column, repeats merged, blanks dropped
    confidences: tuple[float, ...]  # per character of `text`: its best column's probability, 0..1
    log_probs: np.ndarray  # (STEPS, 37) float64 log-probabilities per column, kept for scoring strings

    @property
    def confidence(self) -> float:
        """The product of the per-character confidences, 0..1 (0 for an empty read)."""
        return float(np.prod(self.confidences)) if self.confidences else 0.0


def strip(crop: np.ndarray, box: Box | None = None) -> np.ndarray:
    """The reader's input for a plate: (HEIGHT, WIDTH) float32 in [0, 1], contrast stretched.

    `crop` is an RGB or grey image holding the plate; `box` (relative to it) the plate's lettering,
    cut with a margin of MARGIN_X/MARGIN_Y and clipped to the crop. Training and reading both cut
    their strips here, so the two cannot drift apart.
    """
    img = np.asarray(crop)
    if img.ndim == 3:
        img = img[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    elif img.ndim != 2:
        raise InputError(f"a plate crop must be an (H, W) or (H, W, 3) image, got shape {img.shape}")
    img = img.astype(np.float32)
    if box is not None:
        mx, my = box.w * MARGIN_X, box.h * MARGIN_Y
        x0, y0 = max(0, int(box.x - mx)), max(0, int(box.y - my))
        x1, y1 = min(img.shape[1], int(math.ceil(box.x2 + mx))), min(img.shape[0], int(math.ceil(box.y2 + my)))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            img = img[y0:y1, x0:x1]
    if img.shape[0] < 2 or img.shape[1] < 2:
        raise InputError(f"a plate crop must be at least 2x2 pixels, got {img.shape[1]}x{img.shape[0]}")
    pil = Image.fromarray(img).resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)
    out = np.asarray(pil, np.float32)
    lo, hi = np.percentile(out, (2, 98))
    return np.clip((out - lo) / max(hi - lo, 1.0), 0.0, 1.0).astype(np.float32)


def encode(text: str) -> list[int]:
    """Class indices of a plate string; characters outside 0-9 A-Z are refused."""
    try:
        return [INDEX[ch] for ch in text]
    except KeyError as exc:
        raise InputError(f"plate text {text!r} holds {exc.args[0]!r}; only 0-9 and A-Z are read") from None


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def greedy(log_probs: np.ndarray) -> tuple[str, tuple[float, ...]]:
    """Best class per column, repeats merged and blanks dropped; each character's confidence is the
    highest probability among the columns that emitted it. Ties go to the lower class index."""
    best = np.argmax(log_probs, axis=-1)
    text, confs, prev = [], [], BLANK
    for t, k in enumerate(best):
        p = float(np.exp(log_probs[t, k]))
        if k != BLANK and k == prev:
            confs[-1] = max(confs[-1], p)
        elif k != BLANK:
            text.append(VOCAB[k])
            confs.append(p)
        prev = k
    return "".join(text), tuple(confs)


def log_likelihood(log_probs: np.ndarray, text: str) -> float:
    """log P(text | strip) under CTC: the sum over every column alignment of `text`, by the forward
    algorithm in log space. -inf when the text cannot fit the columns; 0-length text is all blanks."""
    return log_likelihoods(log_probs, [text])[0]


def log_likelihoods(log_probs: np.ndarray, texts: list[str]) -> list[float]:
    """`log_likelihood` of several strings at once: one pass over the columns for all of them
    (a photo's ten candidates cost about what one does)."""
    if not texts:
        return []
    lp = np.asarray(log_probs, np.float64)
    steps = lp.shape[0]
    rows = []
    for text in texts:
        ext = [BLANK]
        for k in encode(text):
            ext += [k, BLANK]
        rows.append(ext)
    n = max(len(r) for r in rows)
    ext = np.zeros((len(rows), n), np.int64)
    valid = np.zeros((len(rows), n), bool)
    for i, r in enumerate(rows):
        ext[i, : len(r)] = r
        valid[i, : len(r)] = True
    # A label may skip the blank before it unless it repeats the label two places back.
    skip = np.zeros((len(rows), n), bool)
    skip[:, 2:] = (ext[:, 2:] != BLANK) & (ext[:, 2:] != ext[:, :-2])
    emit = np.where(valid[None], lp[:, ext], -np.inf)  # (steps, strings, n)
    alpha = np.full((len(rows), n), -np.inf)
    alpha[:, :2] = emit[0, :, :2]
    none = np.full((len(rows), 2), -np.inf)
    for t in range(1, steps):
        prev1 = np.concatenate((none[:, :1], alpha[:, :-1]), axis=1)
        prev2 = np.where(skip, np.concatenate((none, alpha[:, :-2]), axis=1), -np.inf)
        with np.errstate(invalid="ignore"):
            alpha = np.logaddexp(np.logaddexp(alpha, prev1), prev2) + emit[t]
    out = []
    for i, r in enumerate(rows):
        last = len(r) - 1
        out.append(float(alpha[i, 0] if last == 0 else np.logaddexp(alpha[i, last], alpha[i, last - 1])))
    return out


def reader_path(model_path: str | Path | None = None) -> Path | None:
    """The reader the pipeline uses: $ALPR_PLATE_READER when set ("off" for none); else the one in
    the folder of the character model at `model_path` (a registry version trained with the store:
    `plate_reader.keras`, or `plate_reader.onnx` beside an exported `char_cnn.onnx`); else the
    shipped one."""
    chosen = os.environ.get(PLATE_READER_ENV, "").strip()
    if chosen.lower() in ("off", "none", "0"):
        return None
    if chosen:
        return Path(chosen)
    if model_path is not None:
        for suffix in dict.fromkeys((Path(model_path).suffix, ".keras")):
            own = Path(model_path).with_name(DEFAULT_MODEL.stem + suffix)
            if own.is_file():
                return own
    return DEFAULT_MODEL


def metadata_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".json")


class PlateReader:
    """A loaded whole-plate reader: its network and its metadata (training config, combiner).

    The network is a `KerasNetwork` or an `OnnxNetwork` (alpr/runtime.py) whose `predict(batch)`
    turns (n, HEIGHT, WIDTH, 1) strips into (n, STEPS, 37) logits."""

    def __init__(self, network, metadata: dict, path: Path | None = None):
        self.network = network
        self.metadata = metadata
        self.path = path

    @property
    def model(self):
        """The Keras model (the keras runtime only): training starts from its weights."""
        return self.network.model

    @property
    def runtime(self) -> str:
        return self.network.runtime

    @property
    def combiner(self) -> dict:
        """The combiner's fitted weights (alpr/combine.py), {} before one was fitted."""
        return dict(self.metadata.get("combiner") or {})

    def predict(self, strips: np.ndarray) -> np.ndarray:
        """(n, STEPS, 37) log-probabilities for (n, HEIGHT, WIDTH) strips, in one batched call."""
        if len(strips) == 0:
            return np.zeros((0, STEPS, len(VOCAB)))
        x = np.asarray(strips, np.float32)[..., None]
        return log_softmax(self.network.predict(x))

    def read(self, strips: list[np.ndarray] | np.ndarray) -> list[WholeRead]:
        """Read each strip (from `strip()`); one batched predict for all of them."""
        out = []
        for lp in self.predict(np.asarray(strips, np.float32).reshape(-1, HEIGHT, WIDTH)):
            text, confs = greedy(lp)
            out.append(WholeRead(text, confs, lp))
        return out

    log_likelihood = staticmethod(log_likelihood)


def build_model(width: int = 32):
    """A fresh reader: conv blocks that pool height to 1 and width to STEPS columns, then a 1-D
    convolution over the columns (context of a few characters) and per-column logits."""
    import keras
    from keras import layers

    inputs = keras.Input((HEIGHT, WIDTH, 1), name="strip")
    x = inputs
    # (filters, pool): height 32 -> 16 -> 8 -> 4 -> 2 -> 1, width 128 -> 64 -> 32.
    for i, (filters, pool) in enumerate(
        [(width // 2, (2, 2)), (width, (2, 2)), (width, (2, 1)), (2 * width, (2, 1)), (2 * width, (2, 1))]
    ):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i + 1}")(x)
        x = layers.BatchNormalization(name=f"bn{i + 1}")(x)
        x = layers.ReLU(name=f"relu{i + 1}")(x)
        x = layers.MaxPooling2D(pool, name=f"pool{i + 1}")(x)
    x = layers.Reshape((STEPS, 2 * width), name="columns")(x)
    x = layers.Dropout(0.2, name="dropout")(x)
    x = layers.Conv1D(2 * width, 5, padding="same", activation="relu", name="context")(x)
    outputs = layers.Dense(len(VOCAB), name="logits", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="plate_reader")


def load_plate_reader(path: str | Path, runtime: str | None = None) -> PlateReader | None:
    """The reader saved at `path` with its `.json` metadata; None when there is no such file.
    `runtime`: "keras" or "onnx" (alpr/runtime.py; default: from the file's suffix)."""
    path = Path(path)
    if not path.is_file():
        return None
    meta_file = metadata_path(path)
    try:
        metadata = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    except (OSError, ValueError) as exc:
        raise ModelError(f"plate reader metadata {meta_file} is unreadable ({exc})") from None
    fmt = int(metadata.get("format", MODEL_FORMAT))
    if fmt > MODEL_FORMAT or tuple(metadata.get("input", (HEIGHT, WIDTH))) != (HEIGHT, WIDTH):
        raise ModelError(f"plate reader {path} was made for another version of this code (format {fmt})")
    return PlateReader(open_network(path, runtime), metadata, path)
