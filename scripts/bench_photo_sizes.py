"""Benchmark reading photos at phone sizes: decode ms, warm recognize ms per stage, peak memory.

    nice -n 10 .venv/bin/python scripts/bench_photo_sizes.py [PHOTO ...] [--repeat 5]

Each PHOTO (any photo with a plate; a rendered street scene when none is given) is resized, keeping
its aspect, to 0.9 Mpx (1280x720's worth), 9.1 Mpx (4032x2268's, a phone's main camera), 12 Mpx
(4000x3000's, issue 23's "a 12 MP photo <= 300 ms") and 24 Mpx, saved as JPEG quality 90 and read
back the way the CLI and the app read uploads. The model is loaded once; each photo at each size is
read once to warm up, then `--repeat` times, and its median kept. A row gives the median of those
over the photos and the slowest photo's. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import io
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alpr import synth
from alpr.imageio import load_image
from alpr.pipeline import default_classifier, recognize

SIZES = (
    ("1280x720's pixels", 1280 * 720),
    ("4032x2268's pixels", 4032 * 2268),
    ("12 Mpx", 12_000_000),
    ("24 Mpx", 24_000_000),
)


def source(path: str | None) -> tuple[Image.Image, str]:
    """The photo, and its plate's text when known (a rendered scene's)."""
    if path:
        return Image.open(path).convert("RGB"), "?"
    text, image = synth.sample_scenes(n=1, seed=3)[0]
    return Image.fromarray(image), text


def read_at(original: Image.Image, pixels: int, classifier, repeat: int) -> tuple:
    """(size, decode ms, median recognize ms, median ms per stage, plates) of ORIGINAL at PIXELS."""
    scale = (pixels / (original.width * original.height)) ** 0.5
    size = (int(original.width * scale), int(original.height * scale))
    buffer = io.BytesIO()
    original.resize(size, Image.Resampling.BICUBIC).save(buffer, "JPEG", quality=90)
    t0 = time.perf_counter()
    image = load_image(io.BytesIO(buffer.getvalue()))
    decode_ms = (time.perf_counter() - t0) * 1000
    recognize(image, classifier=classifier)  # warm: the model's first batch of this shape
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        rec = recognize(image, classifier=classifier)
        runs.append(((time.perf_counter() - t0) * 1000, rec.timings_ms))
    total = statistics.median(ms for ms, _ in runs)
    stages = {k: statistics.median(t[k] for _, t in runs) for k in STAGES}
    return size, decode_ms, total, stages, [p.plate for p in rec.plates]


STAGES = ("detect", "segment", "classify", "assemble")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("photos", nargs="*", help="photos with a plate (default: a rendered street scene)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sources = [source(p) for p in args.photos] if args.photos else [source(None)]
    classifier = default_classifier()
    rows = []
    for label, pixels in SIZES:
        reads = [read_at(original, pixels, classifier, args.repeat) for original, _ in sources]
        size = reads[0][0]
        decode_ms = statistics.median(r[1] for r in reads)
        total = statistics.median(r[2] for r in reads)
        slowest = max(r[2] for r in reads)
        stages = {k: statistics.median(r[3][k] for r in reads) for k in STAGES}
        plates = ", ".join(reads[0][4]) if len(reads) == 1 else f"{sum(bool(r[4]) for r in reads)} of {len(reads)} read"
        rows.append((label, f"{size[0]}x{size[1]}", decode_ms, total, slowest, stages, plates))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if len(sources) == 1:
        print(f"plate: {sources[0][1]}\n")
    else:
        print(f"{len(sources)} photos; pixels shown for the first\n")
    print(
        "| size | pixels | decode ms | recognize ms (median) | slowest photo ms | detect / segment / classify / assemble ms | plates |"
    )
    print("|---|---|---:|---:|---:|---|---|")
    for label, dims, decode_ms, total, slowest, st, plates in rows:
        per_stage = " / ".join(f"{st[k]:.0f}" for k in STAGES)
        print(f"| {label} | {dims} | {decode_ms:.0f} | {total:.0f} | {slowest:.0f} | {per_stage} | {plates or '-'} |")
    print(f"\npeak memory of the process: {peak:.0f} MB; {np.__name__} {np.__version__}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
