"""The plate scorer's part of a training run (`alpr train`, the Train page): read top to bottom.

Detection ranks its plate candidates by a logistic model of what it measures (config.RankConfig,
alpr/training/rank_fit.py). A run refits it:

1. the examples: every distinct candidate of the benchmark's development photos, shipped as numbers
   (`models/plate_scorer_examples.npz`, written by `rank_fit --save-examples`: features, label,
   photo, hold-out flag; no pixels), and every candidate of the store's photos where a person
   confirmed a plate (positive at the plate's box, negative elsewhere) or marked a box "not a
   plate" (the candidates at that box are negatives; on a photo with no confirmed plate the other
   candidates are left out, because the real plate may be among them);
2. the fit: the same logistic regression as `rank_fit`, on the development photos outside the
   benchmark's hold-out and the store's photos outside the run's held-out plates
   (`datasets.held_out_plates`, by each photo's first confirmed plate);
3. the gate: the held-out photos (the benchmark's hold-out and the store's) must have their plate
   first, and among the first `read.first_candidates` (the ones read before any other), at least as
   often under the refit as under the rank the active version uses, and one of the two more often
   (every read so far was tuned with the active rank: a refit must show a gain). Else the version
   keeps that rank.

The version stores the rank it reads with in its metadata ("rank"); `recognize` uses it (unless
the caller passed a config whose rank differs from the default).
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from alpr.config import DEFAULT, RankConfig
from alpr.paths import REPO_ROOT
from alpr.training.rank_fit import FEATURES, at_box, distinct_candidates, fit, log_odds

EXAMPLES_FILE = REPO_ROOT / "models" / "plate_scorer_examples.npz"


@dataclass(frozen=True)
class Examples:
    """Candidates as the fit sees them: features (n, len(FEATURES)), at the plate, held out, photo key."""

    x: np.ndarray
    y: np.ndarray  # bool
    held: np.ndarray  # bool
    photo: np.ndarray  # str: "dev:N" or "store:N"

    @classmethod
    def empty(cls) -> Examples:
        return cls(np.zeros((0, len(FEATURES))), np.zeros(0, bool), np.zeros(0, bool), np.zeros(0, str))

    def __add__(self, other: Examples) -> Examples:
        return Examples(
            np.concatenate([self.x, other.x]),
            np.concatenate([self.y, other.y]),
            np.concatenate([self.held, other.held]),
            np.concatenate([self.photo.astype(object), other.photo.astype(object)]),
        )

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class RankOutcome:
    rank: RankConfig  # what the version reads with
    refitted: bool  # False: the active version's rank, kept
    summary: dict  # for the version's metadata


def development_examples(path: Path = EXAMPLES_FILE) -> Examples:
    """The shipped development examples; none when the file is missing or was made for other features."""
    if not Path(path).is_file():
        return Examples.empty()
    with np.load(path, allow_pickle=False) as f:
        if tuple(f["feature_names"]) != FEATURES:
            return Examples.empty()
        return Examples(f["features"], f["at_plate"], f["holdout"], np.array([f"dev:{p}" for p in f["photo"]]))


def store_examples(store) -> Examples:
    """Every candidate of the store's photos with a confirmed plate or a "not a plate" mark (see 1.)."""
    from alpr.training.datasets import held_out_plates

    x, y, held, photo = [], [], [], []
    for photo_id, image, confirmed, rejected in store.plate_box_photos():
        key = confirmed[0][0] if confirmed else -photo_id
        is_held = (
            bool(held_out_plates(np.array([key]))[0]) if confirmed else zlib.crc32(str(photo_id).encode()) % 5 == 0
        )
        for c, features in distinct_candidates(image):
            at = any(at_box(c.box, b) for _, b in confirmed)
            marked = any(at_box(c.box, b) for b in rejected)
            if not confirmed and not marked:
                continue
            x.append(features)
            y.append(at and not marked)
            held.append(is_held)
            photo.append(f"store:{photo_id}")
    if not x:
        return Examples.empty()
    return Examples(np.array(x, np.float64), np.array(y, bool), np.array(held, bool), np.array(photo))


def found(examples: Examples, rank: RankConfig, k: int) -> int:
    """Photos whose plate is among the first `k` candidates under `rank`. Equal scores keep the
    examples' order (a stable sort), which is detection's order: the count is the same on any CPU."""
    score = np.round(log_odds(examples.x, rank), 6)  # the last bits of a float never reorder candidates
    out = 0
    for key in dict.fromkeys(examples.photo.tolist()):
        on = np.flatnonzero(examples.photo == key)
        if not examples.y[on].any():
            continue
        order = on[np.argsort(-score[on], kind="stable")]
        out += bool(examples.y[order[:k]].any())
    return out


def run(store, parent: RankConfig, first_candidates: int = DEFAULT.read.first_candidates, log=print) -> RankOutcome:
    """Steps 1-3 above; `parent` is the rank the active version reads with."""
    dev = development_examples()
    mine = store_examples(store) if store is not None else Examples.empty()
    summary: dict = {
        "examples": {"development": len(dev), "store": len(mine), "store_at_plate": int(mine.y.sum())},
        "store_photos": len(set(mine.photo.tolist())),
    }
    if not len(mine):
        log("plate scorer: no confirmed or rejected plate box in the store; the version keeps the active rank")
        return RankOutcome(parent, False, {**summary, "kept": "parent", "gate": "nothing new to learn from"})
    every = dev + mine
    train = ~every.held
    if every.y[train].all() or not every.y[train].any():
        log("plate scorer: the examples are all of one kind; the version keeps the active rank")
        return RankOutcome(parent, False, {**summary, "kept": "parent", "gate": "examples of one kind"})
    fitted = fit(every.x[train], every.y[train].astype(float))
    held = Examples(every.x[every.held], every.y[every.held], every.held[every.held], every.photo[every.held])
    counts = {
        name: {"first": found(held, rank, 1), f"first_{first_candidates}": found(held, rank, first_candidates)}
        for name, rank in (("parent", parent), ("refit", fitted))
    }
    photos = sum(1 for key in set(held.photo.tolist()) if held.y[held.photo == key].any())
    # The active rank is what every read so far was tuned with: the refit must show a gain.
    kept = all(counts["refit"][k] >= counts["parent"][k] for k in counts["parent"]) and any(
        counts["refit"][k] > counts["parent"][k] for k in counts["parent"]
    )
    line = (
        f"plate scorer: refitted on {int(train.sum())} candidates ({int((~mine.held).sum())} from the store); "
        f"of {photos} held-out photos the plate ranks first in {counts['refit']['first']} "
        f"(active {counts['parent']['first']}) and among the first {first_candidates} in "
        f"{counts['refit'][f'first_{first_candidates}']} (active {counts['parent'][f'first_{first_candidates}']}); "
        + ("kept" if kept else "not kept: the version keeps the active rank")
    )
    log(line)
    summary.update(kept="refit" if kept else "parent", gate=line, held_out_photos=photos, counts=counts)
    if kept:
        summary["rank"] = asdict(fitted)
    return RankOutcome(fitted if kept else parent, kept, summary)
