"""Real character crops from OpenALPR's OCR training repository, and plate crops split by plate.

Two layouts of `openalpr-train-ocr` are read (see its README):

* character folders (`br/chars`, `gb/chars`): one crop per file, `CHAR-V-N_PLATE.jpg`; the class is
  the first field (lower case letters in `br/`), the plate is what follows the first `_`;
* Tesseract box sheets (`eu/input/*.box`, `fr/input/*.box` beside a `.tif`): one line per character,
  `CHAR LEFT BOTTOM RIGHT TOP PAGE`, origin at the bottom-left of the page.

`br/input` and `gb/input` are sheets made from the `chars/` folders, so they are skipped.

Hold-out splits are by plate, never by file: the 2-3 variants of one glyph are near copies, and a
split by file would put one variant in training and its twin in the hold-out. Sheets carry no plate
names; their characters are laid out in rows, a glyph's variants side by side, so a sheet is split
by runs of `SHEET_RUN` neighbouring boxes on one row.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from alpr.errors import DatasetError
from alpr.types import ALL_CLASSES

# Boxes per hold-out unit on a sheet: a few neighbouring crops, more than a glyph's 2-3 variants.
SHEET_RUN = 8
# Box lines whose bottoms are within this many pixels belong to one row of a sheet.
SHEET_ROW_TOLERANCE = 12
# Folders holding one crop per file, and the source name they report under.
CHAR_FOLDERS = {"br": "br/chars", "gb": "gb/chars"}
# Sheets in these folders are read; br/input and gb/input repeat the chars/ folders.
SHEET_FOLDERS = ("eu/input", "fr/input")


@dataclass(frozen=True, eq=False)
class CharSample:
    image: np.ndarray  # (size, size) float32 in [0, 1], as `normalize_crop` gives the classifier
    label: str  # one of ALL_CLASSES
    source: str  # "br", "gb", "eu-belgium", ...
    group: str  # the plate (or sheet run) it came from: the unit of the hold-out split


def holdout_group(group: str) -> bool:
    """True for the ~20% of plates (or sheet runs) kept out of training, by a stable hash."""
    return zlib.crc32(group.encode()) % 5 == 0


def split(samples: list[CharSample]) -> tuple[list[CharSample], list[CharSample]]:
    """(train, hold-out), split by `group`."""
    train = [s for s in samples if not holdout_group(f"{s.source}/{s.group}")]
    held = [s for s in samples if holdout_group(f"{s.source}/{s.group}")]
    return train, held


def as_arrays(samples: list[CharSample]) -> tuple[np.ndarray, np.ndarray]:
    index = {c: i for i, c in enumerate(ALL_CLASSES)}
    if not samples:
        return np.zeros((0, 32, 32), np.float32), np.zeros((0,), np.int32)
    return np.stack([s.image for s in samples]), np.array([index[s.label] for s in samples], np.int32)


def _label(char: str) -> str | None:
    label = char.upper()
    return label if len(label) == 1 and label in ALL_CLASSES and label != "_" else None


def _grey(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"), np.float32) / 255.0


def read_char_folder(folder: str | Path, source: str, size: int = 32) -> list[CharSample]:
    """Every `CHAR-...-..._PLATE.jpg` crop in `folder`; files whose class is not a character are skipped."""
    from alpr.segment import normalize_crop

    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"character folder {folder} does not exist")
    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png") or "_" not in path.stem or "-" not in path.stem:
            continue
        label = _label(path.stem.split("-", 1)[0])
        if label is None:
            continue
        # `-2014-11-04.185357.-IMAGE...` and `2014-11-04.185357.IMAGE...` name the same plate.
        plate = re.sub(r"[^0-9A-Za-z]", "", path.stem.split("_", 1)[1]).upper()
        with Image.open(path) as img:
            out.append(CharSample(normalize_crop(_grey(img), None, size), label, source, plate))
    return out


def read_box_sheet(box_file: str | Path, source: str, size: int = 32) -> list[CharSample]:
    """The characters of one Tesseract box sheet (the `.tif` of the same name beside it)."""
    from alpr.segment import normalize_crop
    from alpr.types import Box

    box_file = Path(box_file)
    image_file = box_file.with_suffix(".tif")
    if not image_file.is_file():
        raise DatasetError(f"box file {box_file} has no sheet {image_file.name} beside it")
    with Image.open(image_file) as img:
        grey = _grey(img)
    height = grey.shape[0]
    rows: list[tuple[int, list[tuple[str, Box]]]] = []  # (bottom, boxes) per row of the sheet
    for line in box_file.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) < 5 or _label(parts[0]) is None:
            continue
        try:
            left, bottom, right, top = (int(v) for v in parts[1:5])
        except ValueError:
            continue
        if right <= left or top <= bottom:
            continue
        box = Box(left, height - top, right - left, top - bottom)
        if not rows or abs(rows[-1][0] - bottom) > SHEET_ROW_TOLERANCE:
            rows.append((bottom, []))
        rows[-1][1].append((_label(parts[0]), box))
    out = []
    for r, (_, boxes) in enumerate(rows):
        for k, (label, box) in enumerate(boxes):
            out.append(CharSample(normalize_crop(grey, box, size), label, source, f"row{r}-run{k // SHEET_RUN}"))
    return out


def read_ocr_root(root: str | Path, size: int = 32) -> dict[str, list[CharSample]]:
    """Every source of an `openalpr-train-ocr` folder: {"br": [...], "gb": [...], "eu-belgium": [...], ...}."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"OCR data folder {root} does not exist")
    sources: dict[str, list[CharSample]] = {}
    for name, sub in CHAR_FOLDERS.items():
        if (root / sub).is_dir():
            sources[name] = read_char_folder(root / sub, name, size)
    for sub in SHEET_FOLDERS:
        for box_file in sorted((root / sub).glob("*.box")):
            # leu.belgium.exp0.box -> eu-belgium; leu.france.exp0.box -> fr-france
            name = f"{sub.split('/')[0]}-{box_file.name.split('.')[1]}"
            sources[name] = read_box_sheet(box_file, name, size)
    if not any(sources.values()):
        raise DatasetError(f"no character crops in {root}: expected br/chars, gb/chars or */input/*.box")
    return sources


def plate_holdout(item) -> bool:
    """Hold-out test for a labeled plate crop of a set with several crops per plate (the detector
    set's 1,144 crops of 616 plates): by the plate's text, so every crop of one car falls one side."""
    return holdout_group(item.plate)


def char_accuracy(classifier, samples: list[CharSample]) -> dict:
    """Argmax accuracy of `classifier` on `samples`, with the commonest confusions."""
    if not samples:
        return {"n": 0, "accuracy": 0.0, "confusions": []}
    x, y = as_arrays(samples)
    pred = classifier.probabilities(x).argmax(1)
    classes = classifier.info.classes
    pairs: dict[str, int] = {}
    for t, p in zip(y, pred):
        if t != p:
            key = f"{classes[t]}->{classes[p]}"
            pairs[key] = pairs.get(key, 0) + 1
    top = sorted(pairs.items(), key=lambda kv: -kv[1])[:6]
    return {"n": len(y), "accuracy": round(float((pred == y).mean()), 4), "confusions": top}


def main(argv: list[str] | None = None) -> int:
    """Per-source hold-out accuracy of a model: `python -m alpr.training.ocr_data --ocr DIR [--plates DIR]`."""
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m alpr.training.ocr_data", description=main.__doc__)
    ap.add_argument("--ocr", help="an openalpr-train-ocr folder")
    ap.add_argument("--plates", action="append", default=[], help="plate crops (labels.csv), split by plate text")
    ap.add_argument("--model", default=None)
    ap.add_argument("--all", action="store_true", help="every sample, not only the hold-out")
    args = ap.parse_args(argv)
    from alpr.classify import load_classifier

    classifier = load_classifier(args.model)
    report = {}
    if args.ocr:
        for name, samples in read_ocr_root(args.ocr, classifier.input_size).items():
            report[name] = char_accuracy(classifier, samples if args.all else split(samples)[1])
    for folder in args.plates:
        from alpr.data import harvest_crops, read_dataset

        items = [it for it in read_dataset(folder) if args.all or plate_holdout(it)]
        harvest = harvest_crops(items, None)  # exact-count segmentations only: no model decides the labels
        samples = [CharSample(im, ALL_CLASSES[lb], "plates", "") for im, lb in zip(harvest.images, harvest.labels)]
        report[f"plates:{Path(folder).name}"] = {
            **char_accuracy(classifier, samples),
            "plates_used": harvest.plates_used,
            "plates": len(items),
        }
    print(json.dumps({"model": classifier.info.version, "holdout": not args.all, "sources": report}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
