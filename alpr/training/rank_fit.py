"""Fit the plate-candidate rank (config.RankConfig) on labeled photos, and show what it changes.

Every distinct candidate detection finds in a photo (kept or not) is one example:
positive when it lies at the labeled plate (the rule `alpr eval` counts a read by), negative
otherwise. A logistic regression of the features `detect.candidate_features` measures gives the
log-odds that a candidate holds the plate; detection ranks by it and reads the best first.

    python -m alpr.training.rank_fit ../shared/datasets/openalpr-benchmarks/endtoend

prints the weights to paste into RankConfig, and per region how many photos have their plate among
the first k candidates under the current and the fitted rank, on the files outside the hold-out
(which fit it) and on the hold-out. Photos are the unit: the hold-out is the same fifth
`alpr eval --holdout` reads.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, fields

import numpy as np

from alpr.config import DEFAULT, RankConfig
from alpr.data import LabeledPlate, is_holdout, read_dataset
from alpr.detect import candidate_features, find_plates, rank_score
from alpr.errors import AlprError
from alpr.evaluate import overlaps
from alpr.imageio import load_image
from alpr.types import Box, PlateCandidate

FEATURES = tuple(f.name for f in fields(RankConfig) if f.name != "bias")
TOP_K = (1, 2, 4, 6, 8, 12)


@dataclass(frozen=True)
class Example:
    photo: str
    region: str
    holdout: bool
    features: np.ndarray  # in FEATURES order
    at_plate: bool
    score: float  # the log-odds the current RankConfig gives it


# The rank detection used before it was fitted: characters found, up to 8, a penalty for more than
# 9, and half a character for a plate-shaped blob. The examples are the candidates it leaves after
# merging near-duplicates, so that refitting gives the same examples whatever RankConfig holds.
HAND_SET = RankConfig(
    chars=1.0,
    chars_over_9=-0.7,
    plate_shaped=0.5,
    local_dark=0.0,
    local_light=0.0,
    otsu_dark=0.0,
    otsu_light=0.0,
    log_aspect=0.0,
    log_height=0.0,
    bias=0.0,
)


def distinct_candidates(image: np.ndarray, rank: RankConfig = HAND_SET) -> list[tuple[PlateCandidate, np.ndarray]]:
    """Every candidate detection finds in IMAGE that is not a near-duplicate of a better one, with
    its features in FEATURES order: one example each (here, and for a training run's store photos)."""
    out = []
    for c in find_plates(image, DEFAULT.detect, rank).candidates:
        if c.reason == "overlaps a better candidate":
            continue
        f = candidate_features(c, image.shape)
        out.append((c, np.array([f[name] for name in FEATURES])))
    return out


def at_box(candidate: Box, box: Box) -> bool:
    """Whether a candidate lies at a labeled plate box, as `alpr eval` counts a read (either way round)."""
    return overlaps(candidate, box) or overlaps(box, candidate)


def collect(items: list[LabeledPlate], rank: RankConfig = HAND_SET, progress=None) -> list[Example]:
    """One example per distinct candidate of every labeled photo, kept or not."""
    out = []
    for n, item in enumerate(items):
        image = load_image(item.path)
        for c, features in distinct_candidates(image, rank):
            out.append(
                Example(
                    item.path.name,
                    item.region,
                    is_holdout(item.path),
                    features,
                    at_box(c.box, item.box),
                    rank_score(c, image.shape, DEFAULT.rank),
                )
            )
        if progress:
            progress(n + 1, len(items))
    return out


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 6000, lr: float = 0.5) -> RankConfig:
    """Logistic regression by gradient descent on standardised features, returned in raw units.

    Unweighted, so that the probabilities stay calibrated (the API reports them as `dscore`)."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        w -= lr * (z.T @ (p - y) / len(y) + l2 * np.append(w[:-1], 0.0))
    raw = w[:-1] / std
    bias = w[-1] - float(np.sum(raw * mean))
    return RankConfig(**{name: round(float(v), 3) for name, v in zip(FEATURES, raw)}, bias=round(bias, 3))


def log_odds(x: np.ndarray, rank: RankConfig) -> np.ndarray:
    """The log-odds `rank` gives each row of features `x` (in FEATURES order)."""
    weights = np.array([getattr(rank, name) for name in FEATURES])
    return rank.bias + np.asarray(x, np.float64).reshape(-1, len(FEATURES)) @ weights


def scores(examples: list[Example], rank: RankConfig) -> np.ndarray:
    return log_odds(np.array([e.features for e in examples]), rank)


def coverage(examples: list[Example], score: np.ndarray) -> dict[str, dict[int, int]]:
    """Per region: photos whose plate is among the first k candidates by `score`, and photos ("n")."""
    photos: dict[tuple[str, str], list[tuple[float, bool]]] = {}
    for e, s in zip(examples, score):
        photos.setdefault((e.region, e.photo), []).append((s, e.at_plate))
    out: dict[str, dict[int, int]] = {}
    for (region, _), cands in photos.items():
        ranked = [at for _, at in sorted(cands, key=lambda c: -c[0])]
        first = ranked.index(True) if True in ranked else None
        row = out.setdefault(region, {"n": 0, **{k: 0 for k in TOP_K}})
        row["n"] += 1
        for k in TOP_K:
            row[k] += first is not None and first < k
    return out


def save_examples(examples: list[Example], path) -> None:
    """The examples as numbers only (features, at the plate, hold-out, photo number, region): no
    pixels, so the shipped file carries what the fit needs and none of the benchmark's images."""
    photos = {key: i for i, key in enumerate(dict.fromkeys((e.region, e.photo) for e in examples))}
    np.savez_compressed(
        path,
        features=np.array([e.features for e in examples], np.float64),
        at_plate=np.array([e.at_plate for e in examples], bool),
        holdout=np.array([e.holdout for e in examples], bool),
        photo=np.array([photos[(e.region, e.photo)] for e in examples], np.int32),
        region=np.array([e.region for e in examples]),
        feature_names=np.array(FEATURES),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alpr.training.rank_fit", description=__doc__.split("\n")[0])
    parser.add_argument("data", help="a folder of labeled photos (NAME.txt with the plate's box), searched recursively")
    parser.add_argument(
        "--save-examples",
        metavar="NPZ",
        help="also write every candidate's features, label, photo and hold-out flag there: the development "
        "examples a training run refits the scorer with, beside the store's (models/plate_scorer_examples.npz)",
    )
    args = parser.parse_args(argv)
    try:
        items = [i for i in read_dataset(args.data) if i.box is not None]
    except AlprError as exc:
        parser.error(str(exc))
    if not items:
        parser.error(f"{args.data} holds no labeled photos with a plate box (NAME.txt files); plate crops cannot rank")
    examples = collect(
        items, progress=lambda n, total: print(f"\rcandidates of {n}/{total} photos", end="", file=sys.stderr)
    )
    print(file=sys.stderr)
    if args.save_examples:
        save_examples(examples, args.save_examples)
    train = [e for e in examples if not e.holdout]
    fitted = fit(np.array([e.features for e in train]), np.array([e.at_plate for e in train], float))
    print(f"{len(train)} candidates of {len({(e.region, e.photo) for e in train})} photos outside the hold-out\n")
    print("RankConfig(")
    for f in fields(RankConfig):
        print(f"    {f.name}={getattr(fitted, f.name)},")
    print(")\n")
    for split, subset in (("outside the hold-out", train), ("hold-out", [e for e in examples if e.holdout])):
        current = coverage(subset, np.array([e.score for e in subset]))
        new = coverage(subset, scores(subset, fitted))
        print(f"photos with the plate among the first k candidates, {split}: current -> fitted")
        print(f"{'region':8} {'photos':>6} " + " ".join(f"{'k=' + str(k):>9}" for k in TOP_K))
        for region in sorted(current):
            cells = " ".join(f"{current[region][k]:>4}->{new[region][k]:<4}" for k in TOP_K)
            print(f"{region:8} {current[region]['n']:>6} {cells}")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
