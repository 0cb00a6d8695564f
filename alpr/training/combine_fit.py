"""Fit the combiner (alpr/combine.py) on the development fold of the benchmark, and store it.

The fitting reads are the benchmark's files that are neither held out (alpr.data.is_holdout) nor
seen by the whole-plate reader in training (plate_reader_train.is_combiner_fold). Each is read by
the character pipeline alone; the plate at the labeled box (a crop's only plate) is read again by
the whole-plate reader, and the strings of both become the options the combiner weighs.

The fit is a grid search over (w, t, m) for the most exact plates; among equal counts the one
nearest the character pipeline alone wins: smaller w, then smaller t, then larger m (the grid's
order, a later setting replacing an earlier one only when it reads strictly more). The search is
used only when it gains under 5-fold cross-validation of the fitting reads (searched on four
folds, counted on the fifth); else the character pipeline's choice stands and the reader scores. Then the
confidence bands: the exact-plate rate of the fitted winners per band of the reader's probability
per character, with one right and one wrong read added to each band (so a band of few reads says
little), made non-decreasing by pooling adjacent violators (isotonic). The result goes into the reader's `.json` under "combiner".
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

from alpr.combine import Combiner, Option, options
from alpr.data import is_holdout, read_dataset
from alpr.plate_reader import load_plate_reader, metadata_path

WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
TEMPLATES = (0.0, 0.5, 1.0, 2.0)
MARGINS = (math.inf, 8.0, 4.0, 2.0, 1.0, 0.5, 0.0)
BAND_EDGES = (0.5, 0.8, 0.9, 0.95, 0.99, 1.0)
CV_FOLDS = 5  # the search must gain on held-out folds of the fitting reads before it is used


@dataclass(frozen=True)
class FitRead:
    """One fitting read: the options the combiner weighs and the labeled text."""

    group: str
    truth: str
    opts: tuple[Option, ...]


def winner(opts: tuple[Option, ...], combiner: Combiner) -> Option | None:
    """The option `choose` would put first (the same rule, on precomputed scores)."""
    proposed = [o for o in opts if o.proposed]
    best = None
    for o in proposed:  # the first of equal scores, as ties.best keeps the pipeline's order
        if best is None or o.score(combiner) > best.score(combiner) + 1e-9:
            best = o
    own = next((o for o in opts if not o.proposed), None)
    if own is not None and (best is None or own.score(combiner) >= best.score(combiner) + combiner.margin - 1e-9):
        return own
    return best


def right(reads: list[FitRead], combiner: Combiner) -> int:
    return sum(1 for r in reads if (w := winner(r.opts, combiner)) is not None and w.text == r.truth)


def isotonic(rates: list[float], weights: list[float]) -> list[float]:
    """`rates` made non-decreasing by pooling adjacent violators (weighted means): a surer band
    never reports a lower rate than a less sure one because of a few reads."""
    blocks = [[r, w, 1] for r, w in zip(rates, weights)]
    i = 0
    while i < len(blocks) - 1:
        if blocks[i][0] > blocks[i + 1][0] + 1e-12:
            (r1, w1, n1), (r2, w2, n2) = blocks[i], blocks[i + 1]
            blocks[i : i + 2] = [[(r1 * w1 + r2 * w2) / (w1 + w2), w1 + w2, n1 + n2]]
            i = max(0, i - 1)
        else:
            i += 1
    return [r for r, _, n in blocks for _ in range(n)]


def search(reads: list[FitRead]) -> Combiner:
    """The grid's setting that reads the most of `reads` right; the pipeline alone on equal counts."""
    base = Combiner()
    best, best_right = base, right(reads, base)
    for w in WEIGHTS:
        for t in TEMPLATES:
            for m in MARGINS:
                c = replace(base, weight=w, template=t, margin=m)
                n = right(reads, c)
                if n > best_right:
                    best, best_right = c, n
    return best


def cross_validated(reads: list[FitRead], folds: int = CV_FOLDS) -> tuple[int, int]:
    """(right by the character pipeline alone, right by settings searched on the other folds),
    summed over `folds` folds of the reads taken in turn: what the search gains on reads it did
    not see."""
    alone = together = 0
    for k in range(folds):
        seen = [r for i, r in enumerate(reads) if i % folds != k]
        unseen = [r for i, r in enumerate(reads) if i % folds == k]
        alone += right(unseen, Combiner())
        together += right(unseen, search(seen))
    return alone, together


def fit(reads: list[FitRead]) -> tuple[Combiner, dict]:
    """The grid's best combiner and its bands, with a summary of what it reads. When the search
    does not gain on the reads it did not see (cross-validation), the character pipeline's choice
    stands (w = t = 0, m infinite) and the reader only scores."""
    base = Combiner()
    cv_alone, cv_searched = cross_validated(reads)
    best = search(reads) if cv_searched > cv_alone else base
    best_right = right(reads, best)
    per_band: dict[int, list[bool]] = {}
    for r in reads:
        w = winner(r.opts, best)
        if w is None:
            continue
        p = math.exp(w.reader_ll)
        band = next((i for i, e in enumerate(BAND_EDGES) if p <= e + 1e-12), len(BAND_EDGES) - 1)
        per_band.setdefault(band, []).append(w.text == r.truth)
    rates = isotonic(
        [(sum(per_band.get(i, [])) + 1) / (len(per_band.get(i, [])) + 2) for i in range(len(BAND_EDGES))],
        [len(per_band.get(i, [])) + 2 for i in range(len(BAND_EDGES))],
    )
    bands = tuple((edge, round(rate, 4)) for edge, rate in zip(BAND_EDGES, rates))
    best = replace(best, bands=bands)
    groups = sorted({r.group for r in reads})
    summary = {
        "reads": len(reads),
        "right_char_pipeline": right(reads, base),
        "right_combined": best_right,
        "cross_validated": {"folds": CV_FOLDS, "right_char_pipeline": cv_alone, "right_searched": cv_searched},
        "per_group": {
            g: [right([r for r in reads if r.group == g], base), right([r for r in reads if r.group == g], best)]
            for g in groups
        },
        "band_reads": {str(BAND_EDGES[i]): len(v) for i, v in sorted(per_band.items())},
    }
    return best, summary


def fitting_reads(benchmarks: Path, reader, log=print) -> list[FitRead]:
    """Read the fitting fold with the character pipeline alone, then the reader on its plates."""
    from alpr.assemble import country, matches
    from alpr.imageio import load_image
    from alpr.pipeline import plate_strip, recognize
    from alpr.training.plate_reader_train import is_combiner_fold

    items = [i for i in read_dataset(benchmarks) if not is_holdout(i) and is_combiner_fold(i.path)]
    out, t0 = [], time.perf_counter()
    for k, item in enumerate(items):
        code = item.country()
        rec = recognize(load_image(item.path), code, 10, plate_crop=item.box is None, plate_reader=False)
        plates = rec.plates
        if item.box is not None and plates:
            plates = sorted(plates, key=lambda p: -p.box.iou(item.box))[:1]
        if not plates or not plates[0].candidates:
            continue
        read = plates[0]
        whole = reader.read([plate_strip(read)])[0]
        templates = country(code).templates
        opts = options(read.candidates, whole, lambda t: matches(t, templates), Combiner())
        out.append(FitRead(item.group, item.plate, tuple(opts)))
        if (k + 1) % 50 == 0:
            log(f"combiner: read {k + 1}/{len(items)} in {time.perf_counter() - t0:.0f} s")
    return out


def fit_and_store(model_path: Path, benchmarks: Path, log=print) -> dict:
    """Fit the combiner for the reader at `model_path` and write it into the reader's `.json`."""
    reader = load_plate_reader(model_path)
    if reader is None or not benchmarks.is_dir():
        return {}
    reads = fitting_reads(benchmarks, reader, log)
    combiner, summary = fit(reads)
    meta_file = metadata_path(model_path)
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    meta["combiner"] = combiner.as_dict()
    meta["combiner_fit"] = summary
    meta_file.write_text(json.dumps(meta, indent=1) + "\n")
    log(
        f"combiner: w={combiner.weight} t={combiner.template} m={combiner.margin}; "
        f"{summary['right_char_pipeline']} -> {summary['right_combined']} of {summary['reads']} fitting reads right"
    )
    return meta["combiner"]
