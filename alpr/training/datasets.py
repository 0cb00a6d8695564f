"""The data of a fine-tuning run: which crops are held out, labeled folders read into crops, the
targets (one-hot, or the base model's own probabilities for replay), how often each real crop
repeats, and rendered glyphs; and the two sets a run fits and validates on."""

from __future__ import annotations

import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alpr.errors import DatasetError
from alpr.training import jobs
from alpr.types import ALL_CLASSES

VAL_MODULUS = 5  # one crop in five (by pixel hash) is held out
# Held-out replay crops check that the run did not unlearn what the base model read; only those it
# read at least this sure of are kept as answers, since a crop it hesitated on proves nothing.
REPLAY_VAL_MIN_CONF = 0.9


@dataclass(frozen=True)
class Split:
    """Crops (float32 (N, size, size) in [0, 1]) and their targets (probability vectors)."""

    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Validation:
    """The held-out crops, their class indices, and the part (PARTS index) each came from."""

    x: np.ndarray
    y: np.ndarray
    parts: np.ndarray

    def probabilities_of(self, classifier) -> np.ndarray:
        """A loaded classifier's probabilities for the crops (an empty set gives an empty array)."""
        return classifier.probabilities(self.x) if len(self.x) else np.zeros((0, len(ALL_CLASSES)))


def held_out(images: np.ndarray) -> np.ndarray:
    """Which crops are validation: one in five, chosen by a hash of the 8-bit pixels, so the same
    crop is held out in every run (and relabeling it does not move it into training)."""
    out = np.zeros(len(images), bool)
    for i, img in enumerate(images):
        q = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
        out[i] = zlib.crc32(q.tobytes()) % VAL_MODULUS == 0
    return out


def held_out_plates(plate_ids: np.ndarray) -> np.ndarray:
    """Which store crops are validation: those of one plate in five (by a hash of its id), so that a
    plate's characters are judged together and never both trained and judged on (neighbouring crops
    of one photo look alike; a pixel hash would split them)."""
    return np.array([zlib.crc32(str(int(p)).encode()) % VAL_MODULUS == 0 for p in plate_ids], bool)


def read_training_folder(folder: str | Path, size: int, classifier=None, log=print):
    """((x_train, y_train), (x_val, y_val)) from an export (labels.csv with path,label, as `alpr
    labels export` writes), a folder per class of crops, or a labeled plate folder (OpenALPR
    layouts: its plates are segmented and the crops harvested; files in the hold-out fifth of
    `alpr.data.is_holdout` validate)."""
    import csv

    from PIL import Image

    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"training data folder {folder} does not exist or is not a folder")
    index = {c: i for i, c in enumerate(ALL_CLASSES)}

    def crop(path: Path) -> np.ndarray:
        with Image.open(path) as img:
            img = img.convert("L")
            if img.size != (size, size):
                img = img.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(img, np.float32) / 255.0

    pairs: list[tuple[Path, str]] = []
    if jobs.is_char_export(folder):
        with (folder / "labels.csv").open(newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                rel, label = (row.get("path") or "").strip(), (row.get("label") or "").strip().upper()
                if rel and label in index:
                    pairs.append((folder / rel, label))
    else:
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.upper() in index):
            pairs += [
                (f, sub.name.upper())
                for f in sorted(sub.iterdir())
                if f.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp")
            ]
    if pairs:
        images, labels = [], []
        for path, label in pairs:
            try:
                images.append(crop(path))
                labels.append(index[label])
            except (OSError, ValueError) as exc:
                log(f"skipped {path}: {exc}")
        x = np.stack(images) if images else np.zeros((0, size, size), np.float32)
        y = np.array(labels, np.int64)
        val = held_out(x)
        log(f"dataset {folder}: {len(y)} character crops ({int(val.sum())} held out)")
        return (x[~val], y[~val]), (x[val], y[val])

    from alpr.data import harvest_crops, is_holdout, read_dataset

    try:
        items = read_dataset(folder)
    except DatasetError:
        raise DatasetError(
            f"{folder} is not training data: expected an `alpr labels export` (labels.csv with path,label), "
            "a folder per class of character crops, or labeled plates (OpenALPR benchmark layout)"
        ) from None
    if classifier is None:
        raise DatasetError(
            f"{folder} holds plates, which are cut into characters with a trained model: use a registry version as the base"
        )
    out = []
    for part in ([it for it in items if not is_holdout(it)], [it for it in items if is_holdout(it)]):
        h = harvest_crops(part, classifier)
        x = np.stack(h.images) if h.images else np.zeros((0, size, size), np.float32)
        out.append((x, np.array(h.labels, np.int64)))
    log(f"dataset {folder}: {len(items)} plates gave {len(out[0][1])} training and {len(out[1][1])} held-out crops")
    return out[0], out[1]


def one_hot(y: np.ndarray) -> np.ndarray:
    out = np.zeros((len(y), len(ALL_CLASSES)), np.float32)
    out[np.arange(len(y)), np.asarray(y, np.int64)] = 1.0
    return out


def soft(y: np.ndarray) -> np.ndarray:
    """Replay targets: probability rows (an older run's data may hold class indices)."""
    y = np.asarray(y)
    return one_hot(y) if y.ndim == 1 else y.astype(np.float32)


def repeats_for(labeled: int, others: int, fixed: int) -> int:
    """How often each labeled real crop appears per epoch: `fixed` when given, else enough for the
    labels to be about a sixth of an epoch beside the replayed crops and glyphs (3 to 20 times).
    A few dozen corrections among thousands of replayed crops would hardly move the model; a third
    of the epoch moved it so far that it unlearnt untouched crops (scripts/learning_loop.py)."""
    if fixed:
        return fixed
    if not labeled:
        return 1
    return int(np.clip(math.ceil(others / (5 * labeled)), 3, 20))


def split_replay(x: np.ndarray, probs: np.ndarray):
    """(x_train, probs_train, x_val, labels_val): one in five replay crops (by pixel hash, as for
    labels) validates instead of training, answered with the base model's read when it was sure."""
    val = held_out(x)
    sure = val & (probs.max(1) >= REPLAY_VAL_MIN_CONF)
    return x[~val], probs[~val], x[sure], probs[sure].argmax(1).astype(np.int64)


def per_crop_repeats(n_real: int, corrected: np.ndarray, repeats: int, correction_weight: int) -> np.ndarray:
    """How often each labeled real crop appears per epoch: `repeats`, times `correction_weight` for
    the corrections (`corrected` covers the store's crops, which come first)."""
    per_crop = np.full(n_real, repeats, dtype=np.int64)
    per_crop[: len(corrected)][corrected] *= max(1, correction_weight)
    return per_crop


def render_glyph_set(per_class: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from alpr.training.train import render_glyphs

    if per_class <= 0:
        return np.zeros((0, size, size), np.float32), np.zeros((0,), np.int64)
    n = per_class * len(ALL_CLASSES)
    workers = 1 if n < 3000 else max(1, min(4, os.cpu_count() or 1))
    x, y = render_glyphs(per_class, size, seed, workers)
    return x.astype(np.float32), y.astype(np.int64)
