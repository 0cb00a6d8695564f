"""The whole-plate reader's part of a training run (`alpr train`, the Train page): read top to bottom.

1. the parent reader: the one the active version reads with (`plate_reader.reader_path`:
   $ALPR_PLATE_READER, else the version's own `plate_reader.keras`, else the shipped one);
2. fine-tune it on the plates people confirmed or corrected in the label store (a corrected plate
   the character pipeline cut into the wrong number of pieces is exactly what the reader is for),
   with rendered plates of every style mixed in so what nobody labeled is not unlearnt. The store's
   plates are split as the character CNN's run splits them (`datasets.held_out_plates`): a held-out
   plate trains neither;
3. the gate, on whole photos: the store's held-out labeled plates and the held-out files of any
   labeled dataset folder the run was given (the project's benchmark hold-out with
   `--dataset ../shared/datasets/openalpr-benchmarks`). Each photo is read by the version's
   character pipeline once, without the plate memory (which would recall the store's plates for
   both), and the plate at the labeled box is chosen again by each reader with its combiner
   (alpr/combine.py), exactly as `recognize` chooses it. The new reader is kept when it reads at
   least as many of those photos right as the parent; a tie keeps it, because it has also learnt
   the store's training plates, which the gate cannot count. Otherwise the version carries the
   parent reader. Either way the version folder holds the reader it reads with, so a version is
   whole on its own (and `models export` converts both parts);
4. the version on the same photos: when the run's character network passed its crop gate
   (alpr/training/gate.py), the photos are read again with the active version's network and
   reader (both sides rank candidates by the version's plate scorer, which rank_step gated on its
   own, so the count compares the networks and readers). A version that reads fewer of them right
   than the active one keeps the active network (its reader chosen again for that network), as a
   network the crop gate turned down does: the version never reads fewer gate photos than the one
   it would replace. This step reads photos even without a reader.

The combiner's weights travel with the reader (its `.json`); they are refitted by
`python -m alpr train-reader` on the benchmark's combiner fold, not here.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from alpr import plate_reader as pr
from alpr.errors import DatasetError
from alpr.types import Box

READER_FILE = "plate_reader.keras"


@dataclass(frozen=True)
class ReaderStepConfig:
    epochs: int = 4  # a short fine-tune: the parent already reads; the store adds plates
    learning_rate: float = 3e-4  # low, like the character CNN's head stage: move, do not relearn
    synth_plates: int = 600  # rendered plates per epoch, every style: the guard against unlearning
    real_repeat: int = 4  # each store plate seen this often per epoch, augmented afresh each time
    min_plates: int = 1  # store plates needed to fine-tune at all


@dataclass(frozen=True)
class GatePhoto:
    """One photo the gate reads: the labeled plate's box (None: the image is the plate) and text."""

    image: np.ndarray  # RGB
    box: Box | None
    text: str
    country: str
    source: str  # "store" or the dataset's group (endtoend/us, plates/us, ...)


@dataclass(frozen=True)
class GateResult:
    """What the gate counted: photos right with the parent reader and with the new one."""

    photos: int
    parent_right: int
    new_right: int
    per_source: dict  # source -> [photos, parent right, new right]
    kept: str  # "new" or "parent"
    line: str  # the decision in one line, for the log and the version's metadata


def gate_photos(held_store: list, datasets: list[str]) -> list[GatePhoto]:
    """The store's held-out plates, then the held-out files of every labeled dataset folder."""
    from alpr.data import is_holdout, read_dataset
    from alpr.imageio import load_image

    photos = [GatePhoto(np.asarray(p), b, t, c, "store") for p, b, t, c, _ in held_store]
    for folder in datasets:
        try:
            items = read_dataset(folder)
        except DatasetError:
            continue  # an export (a folder per class) has no plates to read
        for item in items:
            if is_holdout(item) and item.plate:
                photos.append(GatePhoto(load_image(item.path), item.box, item.plate, item.country(), item.group))
    return photos


def fine_tune(parent: Path, train_rows: list, out: Path, config: ReaderStepConfig, log=print):
    """Fine-tune the reader at `parent` on the store's training plates; writes `out` and its `.json`
    (the parent's combiner copied in). Returns plate_reader_train's Report."""
    from alpr.training import plate_reader_train as prt

    plates = [prt.store_plate(photo, box, text) for photo, box, text, _c, _id in train_rows]
    recipe = prt.ReaderTrainConfig(
        epochs=config.epochs,
        synth_plates=config.synth_plates,
        synth_per_epoch=config.synth_plates,
        real_repeat=config.real_repeat,
        learning_rate=config.learning_rate,
        val_synth=200,
    )
    report = prt.train(out, None, None, recipe, log=log, init=parent, extra=plates)
    parent_meta = _metadata(parent)
    meta = _metadata(out)
    for key in ("combiner", "combiner_fit"):
        if key in parent_meta:
            meta[key] = parent_meta[key]
    meta["parent"] = str(parent)
    pr.metadata_path(out).write_text(json.dumps(meta, indent=1) + "\n")
    return report


def read_at_boxes(photos: list[GatePhoto], classifier, log=print) -> list[tuple[GatePhoto, object]]:
    """Each gate photo with the plate `classifier`'s character pipeline reads at its labeled box
    (None: no plate there), read once, without the plate memory (which would recall the store's
    plates for every version alike) and without a whole-plate reader (the counts add it)."""
    from alpr.pipeline import recognize

    alone = classifier.without_memory()
    found = []
    t0 = time.perf_counter()
    for k, photo in enumerate(photos):
        rec = recognize(
            photo.image, photo.country, 10, plate_crop=photo.box is None, classifier=alone, plate_reader=False
        )
        plates = [p for p in rec.plates if p.candidates]
        if photo.box is not None:
            plates = [p for p in plates if p.box.iou(photo.box) > 0]
            plates.sort(key=lambda p: -p.box.iou(photo.box))  # stable: equal overlaps keep the report order
        found.append((photo, plates[0] if plates else None))
        if (k + 1) % 50 == 0:
            log(f"gate: read {k + 1}/{len(photos)} photos in {time.perf_counter() - t0:.0f} s")
    return found


def right(found: list[tuple[GatePhoto, object]], reader) -> dict[str, int]:
    """Photos right per source when `reader` (None: none) and its combiner choose each plate's
    string, exactly as `recognize` chooses it."""
    from alpr.combine import Combiner
    from alpr.pipeline import plate_strip, with_whole_read

    out = {ph.source: 0 for ph, _ in found}
    reads = [(ph, p) for ph, p in found if p is not None]
    if reader is None:
        chosen = [(ph, p.candidates) for ph, p in reads]
    else:
        combiner = Combiner.from_dict(reader.combiner)
        wholes = reader.read([plate_strip(p) for _, p in reads]) if reads else []
        chosen = [(ph, with_whole_read(p, w, combiner, ph.country).candidates) for (ph, p), w in zip(reads, wholes)]
    for ph, candidates in chosen:
        out[ph.source] += bool(candidates) and candidates[0].plate == ph.text
    return out


def judge(photos: list[GatePhoto], classifier, parent, new, log=print, found=None) -> GateResult:
    """Count the gate photos whose plate at the labeled box each reader, with its combiner, chooses
    right after `classifier`'s character pipeline read them (`found`: read already)."""
    found = read_at_boxes(photos, classifier, log) if found is None else found
    before, after = right(found, parent), right(found, new)
    per_source = {s: [sum(ph.source == s for ph in photos), before.get(s, 0), after.get(s, 0)] for s in sorted(before)}
    parent_right, new_right = sum(before.values()), sum(after.values())
    kept = "new" if new_right >= parent_right else "parent"
    where = ", ".join(f"{s} {v[1]}->{v[2]} of {v[0]}" for s, v in per_source.items())
    line = (
        f"reader: the fine-tuned one reads {new_right}/{len(photos)} gate photos right vs {parent_right} "
        f"for the parent ({where}); {'kept' if kept == 'new' else 'not kept: the version carries the parent reader'}"
    )
    return GateResult(len(photos), parent_right, new_right, per_source, kept, line)


@dataclass(frozen=True)
class ReaderOutcome:
    """The reader a version carries (a folder holding plate_reader.keras and .json) and why."""

    folder: Path | None  # None: no reader at all (none shipped, or $ALPR_PLATE_READER=off)
    summary: dict  # for the version's metadata: parent, trained plates, epochs, gate, network_gate

    @property
    def network_rejected(self) -> bool:
        """Whether the version's new network read fewer gate photos than the active version."""
        return self.summary.get("network_gate", {}).get("kept") == "active"

    def copy_into(self, version_folder: Path) -> None:
        if self.folder is None:
            return
        for name in (READER_FILE, pr.metadata_path(Path(READER_FILE)).name):
            shutil.copyfile(self.folder / name, Path(version_folder) / name)


def run(
    work: Path,
    active_model: Path,
    classifier,
    store,
    datasets: list[str],
    config: ReaderStepConfig,
    log=print,
    active_classifier=None,
) -> ReaderOutcome:
    """Steps 1-4 above; `work` is a folder of the run, `classifier` the version's character model,
    `active_classifier` the active version's when the run's network is new (None: the version
    keeps the active network, so there is no network to judge)."""
    import os

    from alpr.paths import PLATE_READER_ENV
    from alpr.training import plate_reader_train as prt

    summary: dict = {}
    parent_folder = None
    parent_path = pr.reader_path(active_model)
    if parent_path is None:  # $ALPR_PLATE_READER says "off"
        chosen = os.environ.get(PLATE_READER_ENV, "").strip()
        log(f"reader: ${PLATE_READER_ENV}={chosen}: the version carries no whole-plate reader")
        summary["skipped"] = f"{PLATE_READER_ENV}={chosen}"
    elif not parent_path.is_file():
        log("reader: no whole-plate reader to start from; the version carries none")
        summary["skipped"] = "no parent reader"
    else:
        parent_folder = _copy_reader(parent_path, Path(work) / "reader_parent")
        summary["parent"] = str(parent_path)
    train_rows, held_rows = prt.store_plates(store) if store is not None else ([], [])
    new_folder = None
    if parent_folder is not None:
        summary["store_plates"] = {"train": len(train_rows), "held_out": len(held_rows)}
        if config.epochs < 1 or len(train_rows) < config.min_plates:
            why = "reader_epochs is 0" if config.epochs < 1 else "no store plate to train on"
            log(f"reader: {why}; the version carries {parent_path} as it is")
            summary.update(kept="parent", gate=why)
        else:
            new_folder = Path(work) / "reader_new"
            new_folder.mkdir(parents=True, exist_ok=True)
            log(f"reader: fine-tuning {parent_path} on {len(train_rows)} store plates ({len(held_rows)} held out)")
            report = fine_tune(parent_folder / READER_FILE, train_rows, new_folder / READER_FILE, config, log)
            summary["config"] = asdict(config)
            summary["epochs"] = report.epochs
    if new_folder is None and active_classifier is None:
        return ReaderOutcome(parent_folder, summary)
    photos = gate_photos(held_rows, datasets)
    if not photos:
        if new_folder is not None:
            line = "reader: no held-out labeled photo to judge it on; the fine-tuned reader is kept"
            log(line)
            summary.update(kept="new", gate=line)
        if active_classifier is not None:
            summary["network_gate"] = {"kept": "new", "line": "network: no held-out labeled photo to judge it on"}
        return ReaderOutcome(new_folder or parent_folder, summary)
    parent = pr.load_plate_reader(parent_folder / READER_FILE) if parent_folder is not None else None
    new = pr.load_plate_reader(new_folder / READER_FILE) if new_folder is not None else None
    found = read_at_boxes(photos, classifier, log)
    chosen = parent_folder
    if new is not None:
        chosen = _choose_reader(
            judge(photos, classifier, parent, new, log, found), summary, log, parent_folder, new_folder
        )
    if active_classifier is not None:
        active_found = read_at_boxes(photos, active_classifier, log)
        mine = sum(right(found, new if chosen == new_folder else parent).values())
        theirs = sum(right(active_found, parent).values())
        kept = "new" if mine >= theirs else "active"
        line = (
            f"network: the version reads {mine}/{len(photos)} gate photos right vs {theirs} for the active version"
            + ("" if kept == "new" else "; fewer, so the version keeps the active network")
        )
        log(line)
        summary["network_gate"] = {
            "photos": len(photos),
            "version_right": mine,
            "active_right": theirs,
            "kept": kept,
            "line": line,
        }
        if kept == "active" and new is not None:
            # The reader is chosen again for the network the version now keeps.
            result = judge(photos, active_classifier, parent, new, log, active_found)
            chosen = _choose_reader(result, summary, log, parent_folder, new_folder)
    return ReaderOutcome(chosen, summary)


def _choose_reader(result: GateResult, summary: dict, log, parent_folder: Path, new_folder: Path) -> Path:
    log(result.line)
    summary.update(
        kept=result.kept,
        gate=result.line,
        gate_counts={"photos": result.photos, "parent_right": result.parent_right, "new_right": result.new_right},
        gate_per_source=result.per_source,
    )
    return new_folder if result.kept == "new" else parent_folder


def _copy_reader(path: Path, folder: Path) -> Path:
    """`folder` holding a copy of the reader at `path` and its metadata, as a version holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, folder / READER_FILE)
    meta = pr.metadata_path(path)
    if meta.is_file():
        shutil.copyfile(meta, pr.metadata_path(folder / READER_FILE))
    return folder


def _metadata(path: Path) -> dict:
    meta = pr.metadata_path(path)
    return json.loads(meta.read_text()) if meta.is_file() else {}
