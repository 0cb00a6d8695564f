"""Accuracy and speed on labeled folders in OpenALPR's benchmark layout.

Photos (`NAME.txt` boxes) are read end to end; plate crops (`labels.csv`) in plate-crop mode, as
OpenALPR's segmentation+OCR benchmark does. Numbers are broken down by folder (us, eu, br, ...),
and a folder named after a known country is read with that country's formats.
"""
from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, field

from alpr.assemble import COUNTRIES
from alpr.data import LabeledPlate, is_holdout
from alpr.types import Box, Recognition


@dataclass(frozen=True)
class PhotoResult:
    path: str
    group: str
    truth: str
    read: str  # the best plate's best string, "" when nothing was read
    candidates: tuple[str, ...]  # every candidate string of every plate read
    detected: bool  # a plate was read where the truth box is (always True for crops)
    char_correct: int
    ms: float
    stage_ms: dict = field(default_factory=dict)
    error: str = ""

    @property
    def top1(self) -> bool:
        return self.read == self.truth


def evaluate_items(items: list[LabeledPlate], classifier, country: str | None = None, topn: int = 10, progress=None):
    """Read every labeled plate; yields PhotoResult one at a time so callers can show progress."""
    from alpr.imageio import load_image
    from alpr.pipeline import recognize

    for n, item in enumerate(items):
        code = country or (item.group if item.group in COUNTRIES else "us")
        try:
            image = load_image(item.path)
        except Exception as exc:  # a broken file in a dataset is a result, not a crash
            yield PhotoResult(str(item.path), item.group, item.plate, "", (), False, 0, 0.0, {}, str(exc))
            continue
        t0 = time.perf_counter()
        rec = recognize(image, country=code, topn=topn, plate_crop=item.box is None, classifier=classifier)
        ms = (time.perf_counter() - t0) * 1000
        yield _score(item, rec, ms)
        if progress:
            progress(n + 1, len(items), item.group)


def _score(item: LabeledPlate, rec: Recognition, ms: float) -> PhotoResult:
    plates = list(rec.plates)
    if item.box is not None:
        here = [p for p in plates if _overlaps(p.box, item.box) or _overlaps(p.crop_box, item.box)]
    else:
        here = plates
    read = plates[0].plate if plates else ""
    best_here = here[0].plate if here else ""
    candidates = tuple(c.plate for p in plates for c in p.candidates)
    return PhotoResult(
        path=str(item.path),
        group=item.group,
        truth=item.plate,
        read=read,
        candidates=candidates,
        detected=bool(here) if item.box is not None else bool(plates),
        char_correct=_chars_right(best_here, item.plate),
        ms=ms,
        stage_ms=dict(rec.timings_ms),
    )


def _overlaps(a: Box, b: Box) -> bool:
    cx, cy = b.x + b.w / 2, b.y + b.h / 2
    return a.iou(b) > 0.3 or (a.x <= cx <= a.x2 and a.y <= cy <= a.y2 and a.area < 6 * b.area)


def _chars_right(read: str, truth: str) -> int:
    """Characters of the truth that the read gets right: length minus edit distance, at least 0."""
    prev = list(range(len(truth) + 1))
    for i, a in enumerate(read, 1):
        cur = [i]
        for j, b in enumerate(truth, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b)))
        prev = cur
    return max(0, len(truth) - prev[-1])


def summarize(results: list[PhotoResult]) -> list[dict]:
    """One row per group, then "all"."""
    groups = sorted({r.group for r in results})
    rows = [_row(g, [r for r in results if r.group == g]) for g in groups]
    if len(groups) > 1:
        rows.append(_row("all", results))
    return rows


def _row(name: str, rs: list[PhotoResult]) -> dict:
    n = len(rs)
    times = sorted(r.ms for r in rs if not r.error) or [0.0]
    stages = {}
    for key in ("detect", "segment", "classify", "assemble"):
        values = [r.stage_ms.get(key, 0.0) for r in rs if r.stage_ms]
        stages[key] = round(statistics.median(values), 1) if values else 0.0
    chars = sum(len(r.truth) for r in rs)
    return {
        "group": name,
        "photos": n,
        "detected": sum(r.detected for r in rs),
        "top1": sum(r.top1 for r in rs),
        "topn": sum(r.truth in r.candidates for r in rs),
        "char_accuracy": round(sum(r.char_correct for r in rs) / chars, 4) if chars else 0.0,
        "median_ms": round(statistics.median(times), 1),
        "p90_ms": round(times[min(len(times) - 1, int(0.9 * len(times)))], 1),
        "stage_median_ms": stages,
        "errors": sum(bool(r.error) for r in rs),
    }


def format_table(rows: list[dict], topn: int) -> str:
    head = f"{'group':<8}{'photos':>7}{'detected':>10}{'top-1':>16}{f'top-{topn}':>16}{'chars':>8}{'median ms':>11}{'p90 ms':>8}  per-stage median ms (detect/segment/classify/assemble)"
    lines = [head, "-" * len(head)]
    for r in rows:
        n = max(r["photos"], 1)
        s = r["stage_median_ms"]
        lines.append(
            f"{r['group']:<8}{r['photos']:>7}{r['detected']:>10}"
            f"{r['top1']:>7} ({100 * r['top1'] / n:5.1f}%)"
            f"{r['topn']:>7} ({100 * r['topn'] / n:5.1f}%)"
            f"{100 * r['char_accuracy']:>7.1f}%{r['median_ms']:>11.1f}{r['p90_ms']:>8.1f}  "
            f"{s['detect']}/{s['segment']}/{s['classify']}/{s['assemble']}"
        )
    return "\n".join(lines)


def select(items: list[LabeledPlate], holdout: bool = False, limit: int | None = None) -> list[LabeledPlate]:
    if holdout:
        items = [it for it in items if is_holdout(it)]
    return items[:limit] if limit else items


class ProgressBar:
    """A one-line progress bar on stderr (only redrawn when it changes)."""

    def __init__(self, label: str = "", stream=sys.stderr, width: int = 30):
        self.label, self.stream, self.width = label, stream, width
        self.t0 = time.perf_counter()

    def __call__(self, done: int, total: int, note: str = "") -> None:
        filled = int(self.width * done / max(total, 1))
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / max(done, 1) * (total - done)
        self.stream.write(
            f"\r{self.label}[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} {note:<4} "
            f"{elapsed:5.0f}s elapsed, {eta:4.0f}s left"
        )
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
