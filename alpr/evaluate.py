"""Accuracy and speed on labeled folders in OpenALPR's benchmark layout.

Photos (`NAME.txt` boxes) are read end to end; plate crops (`labels.csv`) in plate-crop mode, as
OpenALPR's segmentation+OCR benchmark does. Numbers are broken down by folder (us, eu, br, ...),
and a folder named after a known country is read with that country's formats.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from alpr.data import LabeledPlate, is_holdout
from alpr.types import Box, Recognition


@dataclass(frozen=True)
class PhotoResult:
    path: str
    group: str
    truth: str
    read: str  # best string of the plate read at the labeled box ("" when none was read there)
    candidates: tuple[str, ...]  # every candidate string of every plate read
    detected: bool  # a plate was read where the truth box is (always True for crops)
    char_correct: int
    ms: float
    stage_ms: dict = field(default_factory=dict)
    error: str = ""
    # Plates reported away from the labeled box: junk (timestamps, grilles, badges) or other cars'
    # plates; the budget is 0.3 per photo. Always 0 for crops, where only one plate is read.
    extra: int = 0
    crop: bool = False  # a plate crop read in plate-crop mode (labels.csv), not a photo
    confidence: float = 0.0  # 0..100, of `read` as the page shows it

    @property
    def top1(self) -> bool:
        return self.read == self.truth


def evaluate_items(
    items: list[LabeledPlate], classifier, country: str | None = None, topn: int = 10, progress=None, config=None
):
    """Read every labeled plate; yields PhotoResult one at a time so callers can show progress.
    `config` (default: `alpr.config.DEFAULT`) is what an ablation switches a rule off in."""
    from alpr.config import DEFAULT
    from alpr.imageio import load_image
    from alpr.pipeline import recognize

    for n, item in enumerate(items):
        code = item.country(country)
        try:
            image = load_image(item.path)
        except Exception as exc:  # a broken file in a dataset is a result, not a crash
            yield PhotoResult(
                str(item.path), item.group, item.plate, "", (), False, 0, 0.0, {}, str(exc), crop=item.box is None
            )
            continue
        t0 = time.perf_counter()
        rec = recognize(
            image, country=code, topn=topn, plate_crop=item.box is None, classifier=classifier, config=config or DEFAULT
        )
        ms = (time.perf_counter() - t0) * 1000
        yield _score(item, rec, ms)
        if progress:
            progress(n + 1, len(items), item.group)


def _score(item: LabeledPlate, rec: Recognition, ms: float) -> PhotoResult:
    plates = list(rec.plates)
    if item.box is not None:
        here = [p for p in plates if overlaps(p.box, item.box) or overlaps(p.crop_box, item.box)]
    else:
        here = plates
    # A photo may show several cars and the label names one plate: the read that counts is the
    # plate found at the labeled box (photos), or the one read (crops).
    read = here[0].plate if here else ""
    confidence = here[0].confidence if here else 0.0
    candidates = tuple(c.plate for p in here for c in p.candidates)
    return PhotoResult(
        path=str(item.path),
        group=item.group,
        truth=item.plate,
        read=read,
        candidates=candidates,
        detected=bool(here) if item.box is not None else bool(plates),
        char_correct=_chars_right(read, item.plate),
        ms=ms,
        stage_ms=dict(rec.timings_ms),
        extra=len(plates) - len(here) if item.box is not None else 0,
        crop=item.box is None,
        confidence=round(confidence, 1),
    )


# Why a file was or was not read right, one kind per file, in the order they are tested: the
# classes issue 11 counts its losses by (the README's error table is these counts).
ERROR_KINDS = {
    "right": "read right",
    "in_top": "right plate among the candidates, not first",
    "length": "plate read, another number of characters",
    "chars": "plate read, same length, wrong characters",
    "missed": "nothing reported at the plate",
    "unreadable": "file could not be read",
}


def error_kind(result: PhotoResult) -> str:
    """The key of `ERROR_KINDS` that says how `result` went."""
    if result.error:
        return "unreadable"
    if result.top1:
        return "right"
    if result.truth in result.candidates:
        return "in_top"
    if not result.read:
        return "missed"
    return "length" if len(result.read) != len(result.truth) else "chars"


def overlaps(a: Box, b: Box) -> bool:
    """True when box `a` is at box `b` (a read or candidate at a labeled plate): they overlap by
    an IoU over 0.3, or `a` holds `b`'s centre without being 6 times its size."""
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
    stages, stages_p90 = {}, {}
    for key in ("detect", "segment", "classify", "assemble"):
        values = sorted(r.stage_ms.get(key, 0.0) for r in rs if r.stage_ms)
        stages[key] = round(statistics.median(values), 1) if values else 0.0
        stages_p90[key] = round(values[min(len(values) - 1, int(0.9 * len(values)))], 1) if values else 0.0
    chars = sum(len(r.truth) for r in rs)
    kinds = Counter(error_kind(r) for r in rs)
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
        "stage_p90_ms": stages_p90,
        "extra_plates": sum(r.extra for r in rs),
        "extra_per_photo": round(sum(r.extra for r in rs) / n, 3) if n else 0.0,
        "errors": sum(bool(r.error) for r in rs),
        "crops": bool(rs) and all(r.crop for r in rs),
        "kinds": {kind: kinds[kind] for kind in ERROR_KINDS},
    }


def format_table(rows: list[dict], topn: int) -> str:
    head = f"{'group':<14}{'photos':>7}{'detected':>10}{'top-1':>16}{f'top-{topn}':>16}{'chars':>8}{'median ms':>11}{'p90 ms':>8}{'extra/photo':>12}  per-stage median | p90 ms (detect/segment/classify/assemble)"
    lines = [head, "-" * len(head)]
    for r in rows:
        n = max(r["photos"], 1)
        s, q = r["stage_median_ms"], r.get("stage_p90_ms") or r["stage_median_ms"]
        lines.append(
            f"{r['group']:<14}{r['photos']:>7}{r['detected']:>10}"
            f"{r['top1']:>7} ({100 * r['top1'] / n:5.1f}%)"
            f"{r['topn']:>7} ({100 * r['topn'] / n:5.1f}%)"
            f"{100 * r['char_accuracy']:>7.1f}%{r['median_ms']:>11.1f}{r['p90_ms']:>8.1f}"
            f"{r.get('extra_per_photo', 0.0):>12.2f}  "
            f"{s['detect']}/{s['segment']}/{s['classify']}/{s['assemble']} | "
            f"{q['detect']}/{q['segment']}/{q['classify']}/{q['assemble']}"
        )
    return "\n".join(lines)


def select(items: list[LabeledPlate], holdout: bool = False, limit: int | None = None) -> list[LabeledPlate]:
    if holdout:
        items = [it for it in items if is_holdout(it)]
    return items[:limit] if limit else items


class ProgressBar:
    """A one-line progress bar on stderr (only redrawn when it changes)."""

    def __init__(self, label: str = "", stream=None, width: int = 30):
        # sys.stderr is looked up now, not when the module loaded, so a redirected stderr gets the bar.
        self.label, self.stream, self.width = label, stream or sys.stderr, width
        self.t0 = time.perf_counter()
        self._drawn = 0  # characters of the bar now on the line, 0 once it ended with a newline

    def __call__(self, done: int, total: int, note: str = "") -> None:
        filled = int(self.width * done / max(total, 1))
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / max(done, 1) * (total - done)
        line = (
            f"{self.label}[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} {note:<4} "
            f"{elapsed:5.0f}s elapsed, {eta:4.0f}s left"
        )
        self.stream.write(f"\r{line}")
        self._drawn = len(line)
        if done >= total:
            self.stream.write("\n")
            self._drawn = 0
        self.stream.flush()

    def clear(self) -> None:
        """Blank the bar's line, so that a line printed next (to this stream or to a terminal
        showing both stdout and stderr) starts at the left edge instead of after the bar."""
        if self._drawn:
            self.stream.write(f"\r{' ' * self._drawn}\r")
            self.stream.flush()
            self._drawn = 0


# --- for the app's Evaluate page -----------------------------------------------------------------

# How deep under a data root the page looks for labeled folders: root/benchmarks/endtoend/us is 3.
FOLDER_SEARCH_DEPTH = 3
# An uploaded archive is smaller than the app's upload limit; what it may unpack to is bounded too.
UPLOAD_MAX_BYTES = 1024 * 1024 * 1024
UPLOAD_MAX_MEMBERS = 20_000


def holds_labels(folder: Path) -> bool:
    """True when `folder` itself holds labeled plates: a labels.csv with file,plate columns, or a
    NAME.txt beside an image (OpenALPR's benchmark layouts, as `read_dataset` reads them)."""
    import csv

    from alpr.data import IMAGE_SUFFIXES

    labels = folder / "labels.csv"
    if labels.is_file():
        try:
            with labels.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
                header = {h.strip().lower() for h in next(csv.reader(fh), [])}
        except (OSError, csv.Error):
            return False
        return {"file", "plate"} <= header
    try:
        files = [p for p in folder.iterdir() if p.is_file()]
    except OSError:
        return False
    return any(p.suffix.lower() == ".txt" for p in files) and any(p.suffix.lower() in IMAGE_SUFFIXES for p in files)


def find_labeled_folders(root: Path, max_depth: int = FOLDER_SEARCH_DEPTH) -> list[Path]:
    """Folders under `root` (itself included, `max_depth` levels down) that `read_dataset` can read:
    those holding labels, and those above them, so `endtoend/` (with us/, eu/, br/) is offered whole.

    Hidden folders are skipped, and so is anything whose real path (symbolic links resolved) is not
    inside `root`: a link in a data root must not lead the app elsewhere. Paths are resolved, sorted.
    """
    root = Path(root).resolve()
    found: set[Path] = set()

    def walk(folder: Path, depth: int) -> bool:
        labeled = holds_labels(folder)
        if depth < max_depth:
            try:
                subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
            except OSError:
                subs = []
            for sub in subs:
                real = sub.resolve()
                if real != root and real.is_relative_to(root) and walk(real, depth + 1):
                    labeled = True
        if labeled:
            found.add(folder)
        return labeled

    if root.is_dir():
        walk(root, 0)
    return sorted(found)


def inside_roots(path: Path, roots: list[Path]) -> Path:
    """`path` resolved (links followed), when it lies inside one of `roots`; else DatasetError."""
    from alpr.errors import DatasetError

    resolved = Path(path).resolve()
    for root in roots:
        if resolved.is_relative_to(Path(root).resolve()):
            return resolved
    raise DatasetError(f"{path} is not inside the allowed data folders; only folders under them are read")


def safe_extract_zip(zip_path: Path, dest: Path) -> None:
    """Unpack an uploaded archive with the label store's checks (no absolute paths, no '..', no
    links, bounded member count and size); nothing is written when a check fails. StoreError says why."""
    from alpr.labels.archives import safe_extract

    safe_extract(Path(zip_path), Path(dest), max_bytes=UPLOAD_MAX_BYTES, max_members=UPLOAD_MAX_MEMBERS)


def char_confusion(results: list[PhotoResult]) -> tuple[dict[tuple[str, str], int], int, int]:
    """Per-character (truth, read) counts over the plates whose read has as many characters as the
    truth; the others cannot be paired up character by character (a missed or extra character
    shifts every pair after it). Returns (counts, plates used, plates in all)."""
    counts: dict[tuple[str, str], int] = {}
    used = 0
    for r in results:
        if r.read and len(r.read) == len(r.truth):
            used += 1
            for t, p in zip(r.truth, r.read):
                counts[(t, p)] = counts.get((t, p), 0) + 1
    return counts, used, len(results)


def class_accuracy(counts: dict[tuple[str, str], int]) -> dict[str, tuple[int, int]]:
    """Truth class -> (read right, seen), from `char_confusion` counts; classes in sorted order."""
    out: dict[str, list[int]] = {}
    for (t, p), n in counts.items():
        right_seen = out.setdefault(t, [0, 0])
        right_seen[1] += n
        if t == p:
            right_seen[0] += n
    return {c: (v[0], v[1]) for c, v in sorted(out.items())}


def compare_results(a: list[PhotoResult], b: list[PhotoResult]) -> dict[str, list[str]]:
    """Paths read right by one model and wrong by the other, on the same items (matched by path)."""
    right_a = {r.path: r.top1 for r in a}
    out: dict[str, list[str]] = {"fixed": [], "broken": []}
    for r in b:
        if r.path not in right_a:
            continue
        if r.top1 and not right_a[r.path]:
            out["fixed"].append(r.path)
        elif not r.top1 and right_a[r.path]:
            out["broken"].append(r.path)
    return out


# --- evaluating models one after another, uploads, sending plates to the label store ---------------

# Uploaded archives are unpacked once per content here and kept, so a rerun reads the same folder.
UPLOAD_CACHE = Path(tempfile.gettempdir()) / "alpr-eval-uploads"


@dataclass(frozen=True)
class ModelRun:
    """One model read on every item of an evaluation."""

    label: str  # the model picker's label
    path: Path
    version: str
    results: tuple  # PhotoResult per item, in item order
    seconds: float


@dataclass(frozen=True)
class Evaluation:
    """What was read, how, and each model's results (first the model, then the one compared with)."""

    source: str  # what was read, for people: "datasets/endtoend/us" or "upload cars.zip"
    root: Path  # the folder the items were read from
    items: tuple  # LabeledPlate
    available: int  # labeled plates in the folder before the limit and hold-out filter
    country: str | None  # None: each plate's own folder name says (LabeledPlate.country)
    holdout: bool
    runs: tuple  # ModelRun


def run_models(
    items: list[LabeledPlate],
    models: list[tuple[str, Path]],
    load: Callable,
    country: str | None,
    topn: int,
    progress: Callable[[float, str], None] | None = None,
) -> tuple[ModelRun, ...]:
    """Read every item with each (label, path) model in turn, `load(path)` giving its classifier;
    `progress(fraction done, what)` after each plate."""
    runs = []
    total = max(len(items) * len(models), 1)
    for k, (label, path) in enumerate(models):
        classifier = load(path)
        results = []
        t0 = time.perf_counter()
        for i, result in enumerate(evaluate_items(items, classifier, country, topn)):
            results.append(result)
            if progress is not None:
                progress(
                    (k * len(items) + i + 1) / total,
                    f"{classifier.info.version}: {i + 1} of {len(items)} · {Path(result.path).name}",
                )
        runs.append(ModelRun(label, Path(path), classifier.info.version, tuple(results), time.perf_counter() - t0))
    return tuple(runs)


def extract_upload(name: str, data: bytes, cache: Path | None = None) -> Path:
    """An uploaded zip unpacked (once per content) into a private folder under `cache` (default
    UPLOAD_CACHE), with the label store's archive checks; returns the folder holding its files.
    An archive that fails a check raises StoreError naming the upload, and leaves nothing behind."""
    from alpr.errors import AlprError

    cache = Path(cache or UPLOAD_CACHE)
    digest = hashlib.sha256(data).hexdigest()[:24]
    done = cache / digest
    if (done / ".complete").is_file():
        return done / "data"
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="upload-", dir=cache))
    try:
        archive = work / "upload.zip"
        archive.write_bytes(data)
        try:
            safe_extract_zip(archive, work / "data")
        except AlprError as exc:
            raise type(exc)(str(exc).replace(str(archive), name)) from None
        archive.unlink()
        (work / ".complete").touch()
        try:
            os.replace(work, done)
        except OSError:  # another session unpacked the same archive first
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return done / "data"


@dataclass(frozen=True)
class SentPlate:
    """A labeled plate of an evaluation, now in the label store for the Relabel page."""

    path: Path
    name: str  # relative to the evaluated folder
    plate_id: int
    matched: bool  # its characters were labeled from its truth (the segmentation count fitted)
    characters: int  # segments it was cut into
    expected: int  # characters of its truth


def send_to_store(
    store, evaluation: Evaluation, indices: list[int], classifier, author: str | None
) -> Iterator[SentPlate]:
    """Store the evaluation's plates at `indices` with their labeled text (and the model's guesses),
    each in the country the evaluation read it with; yields each as it is stored. Raises AlprError
    (one line) on the first plate that cannot be stored; those before it stay stored."""
    from alpr.imageio import load_image

    for i in indices:
        item = evaluation.items[i]
        root = evaluation.root
        name = item.path.relative_to(root).as_posix() if item.path.is_relative_to(root) else item.path.name
        result = store.add_labeled_plate(
            load_image(item.path, name=name),
            item.plate,
            country=item.country(evaluation.country),
            plate_crop=item.box is None,
            classifier=classifier,
            name=name,
            box=item.box,
            source="import",
            author=author,
        )
        yield SentPlate(item.path, name, result.plate_id, result.matched, result.characters, len(item.plate))


# --- how the Evaluate page says its numbers (pure, so the wording is tested without Streamlit) -------


def share_text(n: float, total: float = 1) -> str:
    """A share as people read it: 100% and 0% without decimals (they are exact), others with one."""
    if not total:
        return "–"
    share = n / total
    return f"{share:.0%}" if share in (0, 1) else f"{share:.1%}"


def read_markdown(read: str, truth: str) -> str:
    """The read in Markdown, its characters that differ from the truth in red."""
    if not read:
        return ":red[nothing]"
    if len(read) != len(truth):
        return f":red[**{read}**]"
    # One span per run of right or wrong characters: two bold spans side by side ("**A****B**") are
    # not closed and reopened by Markdown but printed as literal asterisks.
    runs: list[tuple[bool, str]] = []
    for a, b in zip(read, truth):
        if runs and runs[-1][0] == (a == b):
            runs[-1] = (a == b, runs[-1][1] + a)
        else:
            runs.append((a == b, a))
    return "".join(f"**{text}**" if right else f":red[**{text}**]" for right, text in runs)


def why_wrong(result: PhotoResult, topn: int) -> str:
    """Why a plate missed top-1, in a few words ("" when nothing more than the read itself says it)."""
    why = result.error or ("" if result.detected else "no plate found at the labeled box")
    if not why and result.truth in result.candidates:
        why = f"right plate among the top {topn}"
    return why


def group_rows(runs: list[ModelRun], topn: int) -> list[dict]:
    """One row per model and folder group (the last, "all"), shares in percent, for the groups table."""
    rows = []
    for run in runs:
        for r in summarize(list(run.results)):
            n = max(r["photos"], 1)
            rows.append(
                {
                    "Model": run.version,
                    "Group": r["group"],
                    "Plates": r["photos"],
                    "Found": 100 * r["detected"] / n,
                    "Top-1": 100 * r["top1"] / n,
                    f"Top-{topn}": 100 * r["topn"] / n,
                    "Characters": 100 * r["char_accuracy"],
                    "Median ms": r["median_ms"],
                    "p90 ms": r["p90_ms"],
                    "Unreadable files": r["errors"],
                }
            )
    return rows


def sent_messages(sent: list[SentPlate]) -> list[tuple[str, str]]:
    """What sending plates to the relabel queue says, one (kind, text) per plate: a warning for a
    plate whose cut did not fit its truth, since its characters were not labeled."""
    messages = []
    for plate in sent:
        if plate.matched:
            messages.append(
                (
                    "success",
                    f"{plate.name} is plate #{plate.plate_id} in the relabel queue: "
                    f"{plate.characters} characters labeled from its truth",
                )
            )
        else:
            messages.append(
                (
                    "warning",
                    f"{plate.name} is plate #{plate.plate_id} in the relabel queue, but it was "
                    f"cut into {plate.characters} segments for {plate.expected} characters: "
                    "fix it on the Relabel page",
                )
            )
    return messages


SENT_MESSAGES_SHOWN = 3  # more than this many plates sent at once are said in one line (errors still one each)


def fold_messages(messages: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Many messages of one send folded into a count, keeping every error."""
    if len(messages) <= SENT_MESSAGES_SHOWN:
        return messages
    kinds = [k for k, _ in messages]
    return [
        (
            "success",
            f"Sent {kinds.count('success') + kinds.count('warning')} plates to the relabel queue "
            f"({kinds.count('warning')} need their segmentation fixed)",
        )
    ] + [m for m in messages if m[0] == "error"]
