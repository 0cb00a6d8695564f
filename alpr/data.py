"""Labeled datasets on disk, and harvesting labeled character crops from labeled plates.

Two layouts are read, both from OpenALPR's benchmark repository:
* photos: `NAME.txt` beside each photo holding `IMAGE<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE`;
* plate crops: a `labels.csv` with `file,plate` columns (`state` optional).
A folder holding such folders (e.g. `endtoend/` with `us/`, `eu/`, `br/`) is read recursively.
"""

from __future__ import annotations

import csv
import itertools
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alpr.assemble import COUNTRIES, normalize_plate
from alpr.config import DEFAULT, Config
from alpr.errors import DatasetError
from alpr.types import ALL_CLASSES, REJECT, Box

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class LabeledPlate:
    path: Path
    plate: str  # normalized: upper case, no spaces or dashes
    box: Box | None  # None when the image is a plate crop
    group: str  # its folder relative to the dataset root, e.g. "endtoend/us"; reports break numbers down by it

    @property
    def region(self) -> str:
        """The folder's own name ("us"), which names the country when it is one."""
        return self.group.rsplit("/", 1)[-1]

    def country(self, chosen: str | None = None) -> str:
        """The country whose plate formats rank this plate's readings: `chosen` when given, else the
        folder's own name when it names a country (OpenALPR's benchmarks are in `us`, `eu`, `br`),
        else us."""
        return chosen or (self.region if self.region in COUNTRIES else "us")


def read_dataset(root: str | Path) -> list[LabeledPlate]:
    """Every labeled plate under `root`, sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist or is not a folder")
    items = _read_folder(root, root)
    if not items:
        raise DatasetError(
            f"no labeled plates in {root}: expected NAME.txt files (IMAGE<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE) "
            "or a labels.csv with file,plate columns, in it or in its sub-folders"
        )
    return sorted(items, key=lambda p: str(p.path))


def _read_folder(folder: Path, root: Path) -> list[LabeledPlate]:
    group = folder.relative_to(root).as_posix() if folder != root else folder.name
    items: list[LabeledPlate] = []
    labels = folder / "labels.csv"
    if labels.is_file():
        items += _read_labels_csv(labels, group)
    else:
        for txt in sorted(folder.glob("*.txt")):
            item = _read_endtoend_txt(txt, group)
            if item:
                items.append(item)
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        items += _read_folder(sub, root)
    return items


def _read_labels_csv(path: Path, group: str) -> list[LabeledPlate]:
    out = []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "file" not in reader.fieldnames or "plate" not in reader.fieldnames:
            raise DatasetError(f"{path} needs a header with 'file' and 'plate' columns, got {reader.fieldnames}")
        for row in reader:
            image = path.parent / row["file"]
            plate = normalize_plate(row["plate"] or "")
            if plate and image.is_file():
                out.append(LabeledPlate(image, plate, None, group))
    return out


def _read_endtoend_txt(path: Path, group: str) -> LabeledPlate | None:
    parts = path.read_text(errors="replace").strip().split("\t")
    if len(parts) < 6:
        return None
    image = path.parent / parts[0]
    if not image.is_file() or image.suffix.lower() not in IMAGE_SUFFIXES:
        return None
    try:
        x, y, w, h = (int(float(v)) for v in parts[1:5])
    except ValueError:
        return None
    return LabeledPlate(image, normalize_plate(parts[5]), Box(x, y, w, h), group)


def is_holdout(item: LabeledPlate | str | Path) -> bool:
    """True for the ~20% of files kept out of training, chosen by a hash of the file name.

    A stable hash (not a random split) keeps the same files held out across runs and machines, so
    `alpr eval --holdout` reports accuracy on photos the shipped model never trained on.
    """
    name = item.path.name if isinstance(item, LabeledPlate) else Path(item).name
    return zlib.crc32(name.encode()) % 5 == 0


@dataclass
class Harvest:
    images: list[np.ndarray]
    labels: list[int]
    plates_used: int = 0
    plates_skipped: int = 0
    aligned: int = 0  # plates whose extra segments were resolved as "not a character"


def harvest_crops(items: list[LabeledPlate], classifier=None, config: Config = DEFAULT, progress=None) -> Harvest:
    """Labeled character crops from labeled plates.

    A plate whose segmentation gives exactly as many characters as its label yields one crop per
    character. When it gives up to three more (logos, stickers, frame pieces), a classifier, if
    given, decides which extra segments are "not a character" by the most probable alignment, and
    those become real examples of the reject class. With a classifier, each of the segmentations
    the pipeline would read is tried and the best-aligned one is used, as recognition would.
    """
    from alpr.imageio import load_image
    from alpr.segment import crop_plate, segment_all

    out = Harvest([], [])
    index = {c: i for i, c in enumerate(ALL_CLASSES)}
    size = classifier.input_size if classifier else config.classify.input_size
    for n, item in enumerate(items):
        if progress:
            progress(n, len(items))
        try:
            image = load_image(item.path)
        except Exception:
            out.plates_skipped += 1
            continue
        crop = image if item.box is None else crop_plate(image, item.box, config.segment)[0]
        best, best_score, was_aligned = None, -math.inf, False
        whole = item.box is None
        views = (config.segment.crop_views_to_read if whole else config.segment.views_to_read) if classifier else 1
        for seg in segment_all(
            crop, config.segment, size, limit=views, whole_plate=whole, split_wide=classifier is not None
        ):
            chars = seg.chars
            if len(chars) == len(item.plate) and classifier is None:
                best = (chars, list(item.plate))
                break
            if classifier is not None and len(item.plate) <= len(chars) <= len(item.plate) + 3:
                assignment, score = _align(classifier, chars, item.plate)
                if assignment is not None and score > best_score:
                    best, best_score = (chars, assignment), score
                    was_aligned = len(chars) > len(item.plate)
        if best is None:
            out.plates_skipped += 1
            continue
        out.plates_used += 1
        out.aligned += was_aligned
        for c, cls in zip(*best):
            out.images.append(c.image)
            out.labels.append(index[cls])
    return out


def _align(classifier, chars, label: str) -> tuple[list[str] | None, float]:
    """Which segments are the label's characters: the drop set with the highest joint probability.

    Returns the class per segment ("_" for dropped ones) and the mean log-probability per segment,
    or (None, -inf) when even the best alignment is too unlikely to trust.
    """
    probs = np.log(np.maximum(classifier.probabilities(np.stack([c.image for c in chars])), 1e-6))
    idx = {c: i for i, c in enumerate(classifier.info.classes)}
    reject = idx[REJECT]
    extra = len(chars) - len(label)
    best, best_score = None, -math.inf
    for dropped in itertools.combinations(range(len(chars)), extra):
        kept = [i for i in range(len(chars)) if i not in dropped]
        score = sum(probs[i, idx[ch]] for i, ch in zip(kept, label)) + sum(probs[i, reject] for i in dropped)
        if score > best_score:
            best, best_score = dropped, score
    mean = best_score / len(chars)
    # Dropping segments on the model's word is trusted only when the model is fairly sure; a
    # segmentation with exactly the label's count needs no such trust.
    if best is None or (extra and mean < math.log(0.05)):
        return None, -math.inf
    assignment, it = [], iter(label)
    for i in range(len(chars)):
        assignment.append(REJECT if i in best else next(it))
    return assignment, mean
