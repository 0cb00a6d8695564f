"""The learning loop, measured: read photos, fix the wrong reads, fine-tune, check they now read right.

    .venv/bin/python scripts/learning_loop.py [--data DIR ...] [--work DIR] [-- TRAIN OPTIONS]

What a user of the app does, on a labeled benchmark (default: the OpenALPR benchmark in ../shared):

1. Recognize: every photo outside the hold-out fifth (`alpr.data.is_holdout`) is read with the
   active model and stored in a fresh label store, as the Recognize page stores each read.
2. Relabel: every plate read wrong is given its true text, as a person types it on the Relabel
   page (all of the plate's characters get person labels; "_" for the segments the model itself
   called "not a character").
3. Train: `python -m alpr train --data-dir WORK` (the Train page's job), default options.
4. Measure, before and after: the corrected characters (those the run trained on, and those it
   held out by pixel hash), the characters of corrected plates that were already right, the
   hold-out files' character crops ("the rest": never stored, never trained on), and exact plate
   reads on the corrected photos and on the hold-out photos.

With `--teach-half`, the check that teaching reaches photos nobody labeled (and never makes one of
them report a taught plate): the photos are split in two halves by a hash of the file name; every
photo of half A whose plate was found is labeled with its true text (right reads confirmed,
misreads corrected, as `labels add-plate` does), one default `alpr train --activate` runs, and both
halves are read again. Prints, per half and region, exact reads before -> after, and how many
photos of half B now report a plate of half A (must be 0).

Needs the dataset; the test suite does not run this (tests/slow/test_train_job.py checks the same loop
on rendered crops). Prints a table and, with --json FILE, writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alpr.training import registry  # noqa: E402
from alpr.classify import load_classifier  # noqa: E402
from alpr.data import harvest_crops, is_holdout, read_dataset  # noqa: E402
from alpr.evaluate import evaluate_items  # noqa: E402
from alpr.training.datasets import held_out_plates  # noqa: E402
from alpr.assemble import COUNTRIES  # noqa: E402
from alpr.imageio import load_image  # noqa: E402
from alpr.pipeline import recognize  # noqa: E402
from alpr.labels.store import LabelStore  # noqa: E402
from alpr.types import ALL_CLASSES, REJECT  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets" / "openalpr-benchmarks"


def harvest(items, classifier):
    """(crops, labels) from labeled plates, each plate's crops aligned to its label with `classifier`."""
    h = harvest_crops(items, classifier)
    return np.stack(h.images), np.array(h.labels)


def accuracy(clf, x, y) -> tuple[float, int]:
    if not len(y):
        return float("nan"), 0
    return float((clf.probabilities(x).argmax(1) == y).mean()), int(len(y))


def plate_rate(items, clf) -> tuple[float, int]:
    results = list(evaluate_items(items, clf))
    return (sum(r.top1 for r in results) / len(results) if results else float("nan")), len(results)


def recalls(items, clf) -> list[list[str]]:
    """Per item, the texts its reads recalled from the plate memory (alpr/memory.py)."""
    out = []
    for item in items:
        code = item.region if item.region in COUNTRIES else "us"
        rec = recognize(load_image(item.path), country=code, topn=1, plate_crop=item.box is None, classifier=clf)
        out.append([p.recalled.text for p in rec.plates if p.recalled is not None])
    return out


def overlaps(a, b) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def typed_text(read, truth: str) -> str:
    """What a person types on the Relabel page for this read: the truth, with "_" where the model
    itself said a segment is not a character. When the segments cannot match the truth, the
    truth as it is: the store keeps it as the plate's text and labels no character."""
    if len(read.chars) == len(truth):
        return truth
    kept = [p.char != REJECT for p in read.predictions]
    if sum(kept) != len(truth):
        return truth
    it = iter(truth)
    return "".join(next(it) if k else REJECT for k in kept)


def half_of(item) -> str:
    """ "A" or "B", by a hash of the file name (another hash than the hold-out's)."""
    return "AB"[zlib.crc32(("half:" + item.path.name).encode()) % 2]


def read_all(items, clf) -> dict:
    """{item path: (plate read at the labeled plate or "", every plate text reported)}."""
    out = {}
    for item in items:
        code = item.region if item.region in COUNTRIES else "us"
        rec = recognize(load_image(item.path), country=code, topn=1, plate_crop=item.box is None, classifier=clf)
        here = [p for p in rec.plates if item.box is None or overlaps(p.box, item.box)]
        out[item.path] = (here[0].plate if here else "", [p.plate for p in rec.plates])
    return out


def teach_half(folders, work: Path, train_opts, json_path) -> int:
    """Teach every found plate of half A, train once, read half B (module docstring)."""
    before = load_classifier()
    items = [it for d in folders for it in read_dataset(d)]
    halves = {h: [it for it in items if half_of(it) == h] for h in "AB"}
    print(f"model before: {before.info.version}; {len(items)} files: A {len(halves['A'])}, B {len(halves['B'])}")
    t0 = time.time()
    reads_before = read_all(items, before)
    taught = {}
    with LabelStore.open(work) as store:
        for item in halves["A"]:
            image = load_image(item.path)
            code = item.region if item.region in COUNTRIES else "us"
            rec = recognize(image, country=code, topn=1, plate_crop=item.box is None, classifier=before)
            ids = store.add_recognition(image, rec, item.path.name, before.info.version)
            here = [(pid, p) for pid, p in zip(ids, rec.plates) if item.box is None or overlaps(p.box, item.box)]
            if here:
                store.label_plate(here[0][0], typed_text(here[0][1], item.plate), author="loop")
                taught[item.path] = item.plate
    print(f"half A: {len(taught)} plates found and labeled ({time.time() - t0:.0f} s)")
    cmd = [sys.executable, "-m", "alpr", "train", "--data-dir", str(work), "--activate", *train_opts]
    print("$ " + " ".join(cmd[1:]), flush=True)
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True)
    train_s = time.time() - t0
    if proc.returncode:
        print(proc.stderr[-2000:], file=sys.stderr)
        return 1
    after, version, _ = registry.load_active(work)
    print(f"trained {version.name} ({version.status}) in {train_s:.0f} s")
    reads_after = read_all(items, after)
    taught_texts = set(taught.values())
    report = {"version": version.name, "train_seconds": round(train_s, 1), "taught": len(taught), "halves": {}}
    print(f"\n{'half':5} {'set':14} {'files':>6} {'right before':>13} {'right after':>12} {'now a taught plate':>19}")
    for h in "AB":
        groups = Counter(it.group for it in halves[h])
        for group in sorted(groups) + ["all"]:
            its = [it for it in halves[h] if group in ("all", it.group)]
            right_b = sum(reads_before[it.path][0] == it.plate for it in its)
            right_a = sum(reads_after[it.path][0] == it.plate for it in its)
            # A photo nobody taught that now reports a taught plate it did not report before: another car's.
            wrong = sum(
                any(
                    t in taught_texts and t != it.plate and t not in reads_before[it.path][1]
                    for t in reads_after[it.path][1]
                )
                for it in its
                if it.path not in taught
            )
            report["halves"].setdefault(h, {})[group] = {
                "files": len(its),
                "before": right_b,
                "after": right_a,
                "taught_plate_reported": wrong,
            }
            print(f"{h:5} {group:14} {len(its):6d} {right_b:13d} {right_a:12d} {wrong:19d}")
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=1))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", action="append", default=[], help="labeled plate folders (default: the shared benchmark)"
    )
    parser.add_argument(
        "--work", default=None, help="data folder for the store and the registry (default: a new temp folder)"
    )
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    parser.add_argument("--corrections", type=int, default=None, help="correct only the first N plates read wrong")
    parser.add_argument(
        "--reuse", action="store_true", help="--work holds an earlier run's store: only train and measure"
    )
    parser.add_argument(
        "--teach-half", action="store_true", help="teach half A of the photos, read half B (module docstring)"
    )
    parser.add_argument("train", nargs=argparse.REMAINDER, help="options for `alpr train` after --")
    args = parser.parse_args()
    folders = args.data or [str(SHARED / "plates" / "us"), str(SHARED / "endtoend")]
    work = Path(args.work or tempfile.mkdtemp(prefix="alpr-loop-"))
    work.mkdir(parents=True, exist_ok=True)
    train_opts = [a for a in args.train if a != "--"]
    if args.teach_half:
        return teach_half(args.data or [str(SHARED / "endtoend")], work, train_opts, args.json)

    before = load_classifier()  # the shipped model
    print(f"model before: {before.info.version} ({before.info.path})")
    items = [it for d in folders for it in read_dataset(d)]
    train_items = [it for it in items if not is_holdout(it)]
    rest_items = [it for it in items if is_holdout(it)]
    print(f"{len(items)} labeled plates: {len(train_items)} read and corrected, {len(rest_items)} held out")

    # 1-2. Recognize and store every photo; type the true text of each plate read wrong.
    t0 = time.time()
    corrected_items, skipped = [], 0
    done_file = work / "loop-corrected.json"
    reuse = args.reuse and done_file.is_file()
    if reuse:  # the store of an earlier measurement: only train and measure again
        names = set(json.loads(done_file.read_text()))
        corrected_items = [it for it in train_items if str(it.path) in names]
    with LabelStore.open(work) as store:
        for n, item in enumerate([] if reuse else train_items):
            image = load_image(item.path)
            code = item.region if item.region in COUNTRIES else "us"
            rec = recognize(image, country=code, topn=1, plate_crop=item.box is None, classifier=before)
            ids = store.add_recognition(image, rec, item.path.name, before.info.version)
            here = [(pid, p) for pid, p in zip(ids, rec.plates) if item.box is None or overlaps(p.box, item.box)]
            if (
                here
                and here[0][1].plate != item.plate
                and (args.corrections is None or len(corrected_items) < args.corrections)
            ):
                result = store.label_plate(here[0][0], typed_text(here[0][1], item.plate), author="loop")
                skipped += not result.matched
                corrected_items.append(item)
            if n % 100 == 0:
                print(f"  recognize {n}/{len(train_items)}", file=sys.stderr, flush=True)
        stats = store.stats()
        labeled = store.review_queue(limit=100000, status="all")
    if not reuse:
        done_file.write_text(json.dumps([str(it.path) for it in corrected_items]))
    print(
        f"stored {stats['plates']} plates, {stats['characters']} characters in {time.time() - t0:.0f} s; "
        f"{len(corrected_items)} plates corrected ({stats['labeled']} characters labeled, {stats['corrections']} "
        f"of them differ from the model's guess); {skipped} of them cut into another number of segments than the "
        "text has (the text kept, no character labeled)"
    )

    index = {c: i for i, c in enumerate(ALL_CLASSES)}
    person = [c for c in labeled if c.source == "person"]
    fixed = [c for c in person if c.label != c.pred_char]
    right = [c for c in person if c.label == c.pred_char]
    xf = np.stack([c.image for c in fixed])
    yf = np.array([index[c.label] for c in fixed])
    pf = np.array([c.plate_id for c in fixed])
    xk = np.stack([c.image for c in right])
    yk = np.array([index[c.label] for c in right])
    xr, yr = harvest(rest_items, before)

    # 3. Train, as the Train page would.
    cmd = [sys.executable, "-m", "alpr", "train", "--data-dir", str(work), *train_opts]
    print("$ " + " ".join(cmd[1:]), flush=True)
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True)
    train_s = time.time() - t0
    print(
        "\n".join(
            l
            for l in proc.stdout.splitlines()
            if l.startswith(("stage ", "data ", "validation", "gate", "learnt", "registered", "device", "active"))
        )
    )
    if proc.returncode:
        print(proc.stderr[-2000:], file=sys.stderr)
        return 1
    version = registry.versions(work)[-1]
    after = load_classifier(version.path)

    # 4. Measure.
    val = held_out_plates(pf)  # as the run holds out the store's plates
    table = {
        "corrected characters the run trained on": (xf[~val], yf[~val]),
        "corrected characters it held out": (xf[val], yf[val]),
        "corrected plates' characters already right": (xk, yk),
        "the rest: hold-out files' characters": (xr, yr),
    }
    report = {
        "model_before": before.info.version,
        "version_after": version.name,
        "status": version.status,
        "corrected_plates": len(corrected_items),
        "corrected_characters": len(fixed),
        "train_seconds": round(train_s, 1),
        "device": version.metadata.get("device"),
        "train_options": train_opts,
        "data": version.metadata.get("data"),
        "crops": {},
        "plates": {},
    }
    print(f"\n{'':46} {'n':>6} {'before':>8} {'after':>8}")
    for name, (xs, ys) in table.items():
        a, n = accuracy(before, xs, ys)
        b, _ = accuracy(after, xs, ys)
        report["crops"][name] = {"n": n, "before": round(a, 4), "after": round(b, 4)}
        print(f"{name:46} {n:6d} {a:8.1%} {b:8.1%}")
    print(f"\n{'':46} {'n':>6} {'before':>8} {'after':>8} {'network alone':>14}")
    for name, plates in (
        ("corrected photos (exact plate read)", corrected_items),
        ("hold-out photos (exact plate read)", rest_items),
    ):
        a, n = plate_rate(plates, before)
        b, _ = plate_rate(plates, after)
        c, _ = plate_rate(plates, after.without_memory())
        report["plates"][name] = {"n": n, "before": round(a, 4), "after": round(b, 4), "network_alone": round(c, 4)}
        print(f"{name:46} {n:6d} {a:8.1%} {b:8.1%} {c:14.1%}")
    recalled = sum(bool(r) for r in recalls(rest_items, after))
    report["hold_out_photos_recalling_a_taught_plate"] = recalled
    print(f"hold-out photos where the memory recalled a taught plate: {recalled} of {len(rest_items)}")
    print(
        f"\nfine-tune: {train_s:.0f} s (process, TensorFlow start included) on {report['device']}; "
        f"{version.name} {version.status}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
