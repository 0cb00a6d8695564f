"""`python -m alpr labels ...`: the label store from the command line.

    labels import PATH                 OpenALPR benchmark folder, an export, an image_path,plate_text CSV, or a .zip
    labels export DIR [--zip]          a folder per class of PNG crops + labels.csv (or one zip file)
    labels add-plate IMAGE --plate T   store a photo (or, with --plate-crop, a plate crop) with its plate text
    labels stats [--json]              what the store holds and what is waiting for training

`register(subparsers)` adds the command to the main parser; `run(args)` runs it and returns the exit
status. Failures raise `AlprError` subclasses with one-line messages, which the main CLI prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from alpr.cli.argtypes import command_with_actions
from alpr.assemble import COUNTRIES
from alpr.labels.store import LabelStore
from alpr.paths import DATA_DIR_ENV, DEFAULT_DATA_DIR

# One progress line per this many plates: a benchmark of 500 photos prints 20 lines, not 500.
PROGRESS_EVERY = 25


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `labels` command (with its four actions) to an argparse sub-parsers object."""
    data_help = f"folder of the label database (default: ${DATA_DIR_ENV}, else {DEFAULT_DATA_DIR}/)"
    labels, action = command_with_actions(
        subparsers,
        "labels",
        "labels_command",
        data_help,
        help="the label store: import, export and add labeled plates, show counts",
        description="Corrections and labeled plates, kept as training data in one SQLite file.",
    )

    imp = action("import", "import labeled plates or character crops; what is already stored is skipped")
    imp.add_argument(
        "path",
        metavar="PATH",
        help="OpenALPR benchmark folder, a folder or zip made by `labels export`, a CSV with image_path,plate_text columns, or a zip of these",
    )

    exp = action("export", "write the labeled characters as a folder per class of PNG crops plus labels.csv")
    exp.add_argument("out", metavar="DIR", help="folder to write (new or empty); with --zip, the zip file to write")
    exp.add_argument("--zip", action="store_true", help="write one zip file instead of a folder")

    add = action(
        "add-plate", "store a photo with its plate text; its characters are labeled when the segmentation fits"
    )
    add.add_argument("image", metavar="IMAGE", help="photo file (JPEG, PNG, WebP, BMP, TIFF, GIF)")
    add.add_argument(
        "--plate",
        required=True,
        metavar="TEXT",
        help="the plate's characters, e.g. ABC1234 ('_' for a segment that is not one)",
    )
    add.add_argument("--country", default="us", choices=sorted(COUNTRIES), help="plate formats used to find the plate")
    add.add_argument("--plate-crop", action="store_true", help="the image is an already cropped plate")
    add.add_argument("--model", default=None, help="a .keras model (default: the shipped models/char_cnn.keras)")

    st = action("stats", "counts of plates, characters and labels per class")
    st.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    return labels


def run(args: argparse.Namespace) -> int:
    """Run `labels ACTION` from parsed arguments; returns the process exit status."""
    handler = _ACTIONS[args.labels_command]
    with LabelStore.open(getattr(args, "data_dir", None)) as store:
        return handler(store, args)


def _import(store: LabelStore, args) -> int:
    def progress(done: int, total: int) -> None:
        if done and (done % PROGRESS_EVERY == 0 or done == total):
            print(f"import {done}/{total} plates", file=sys.stderr, flush=True)

    result = store.import_path(args.path, progress=progress)
    for line in result.failed[:20]:
        print(f"  skipped: {line}", file=sys.stderr)
    if len(result.failed) > 20:
        print(f"  ... and {len(result.failed) - 20} more unreadable files", file=sys.stderr)
    print(
        f"imported {result.plates} plate(s) from {args.path} into {store.path}: {result.matched} with "
        f"{result.characters} labeled characters, {result.unmatched} kept with their text only (the segmentation "
        f"count differs from the text), {result.skipped} already stored, {len(result.failed)} unreadable"
    )
    return 1 if result.failed else 0


def _export(store: LabelStore, args) -> int:
    result = store.export_zip(args.out) if args.zip else store.export_dataset(args.out)
    classes = sum(1 for n in result.per_class.values() if n)
    print(f"exported {result.characters} labeled characters in {classes} classes to {args.out}")
    return 0


def _add_plate(store: LabelStore, args) -> int:
    from alpr.imageio import load_image

    image = load_image(args.image)
    if args.model:
        from alpr.classify import load_classifier

        classifier = load_classifier(args.model)
    else:
        from alpr.pipeline import default_classifier

        classifier = default_classifier()
    result = store.add_labeled_plate(
        image,
        args.plate,
        plate_crop=args.plate_crop,
        country=args.country,
        classifier=classifier,
        name=Path(args.image).name,
    )
    if result.matched:
        print(f"plate {result.plate_id}: {result.text}, {result.characters} characters labeled")
    elif result.plate_id is not None and result.characters == 0:
        print(f"plate {result.plate_id}: {result.text} stored, but no characters were found in it to label")
    else:
        print(f"plate {result.plate_id}: {result.text} stored; its characters were left unlabeled: {result.message}")
    return 0


def _stats(store: LabelStore, args) -> int:
    stats = store.stats()
    if args.json:
        print(json.dumps(stats, indent=1))
        return 0
    print(f"label store {store.path}")
    print(f"  photos {stats['photos']}, plates {stats['plates']} ({stats['confirmed_plates']} with confirmed text)")
    print(
        f"  characters {stats['characters']}, labeled {stats['labeled']}, corrections of the model {stats['corrections']}"
    )
    last = stats["last_training"]
    trained = f" (last training: {last['model_version']} at {last['trained_at']})" if last else " (never trained)"
    print(f"  labels waiting for training {stats['pending_training']}{trained}")
    counts = [f"{c}:{n}" for c, n in stats["per_class"].items() if n]
    print("  per class " + (" ".join(counts) if counts else "(none)"))
    return 0


_ACTIONS = {"import": _import, "export": _export, "add-plate": _add_plate, "stats": _stats}
