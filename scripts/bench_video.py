"""Benchmark clip reading on a rendered 60-second 720p clip: frames/s, groups, memory, accuracy.

    nice -n 10 .venv/bin/python scripts/bench_video.py [--seconds 60] [--size 1280x720] [--fps 4]

Renders cars with known random plates driving across a street (alpr.video.synthclip, blurred a
little, plates ~6% of the frame's width), encodes them as H.264, then reads the clip with the
default settings. Accuracy compares, per car, the group's voted plate and the plate of the group's
single most confident frame against the truth. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alpr import synth
from alpr.pipeline import default_classifier
from alpr.video import decode, synthclip
from alpr.video.config import DEFAULT_VIDEO
from alpr.video.reader import read_clip


def rss_mb() -> float:
    """Resident memory now (Linux), to see it stay flat while the clip is read."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--clip-fps", type=float, default=15.0)
    ap.add_argument("--fps", type=float, default=DEFAULT_VIDEO.default_fps, help="frames read per second")
    ap.add_argument("--cars", type=int, default=12)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(args.seed)
    plates = tuple(synth.random_plate_text(rng, "us") for _ in range(args.cars))
    cars = [
        c.__class__(**{**c.__dict__, "plate_width": 0.06})
        for c in synthclip.traffic(args.seconds, plates=plates, seed=args.seed)
    ]
    # Rendering takes longer than reading: a clip rendered with the same settings is reused.
    path = (
        Path(tempfile.gettempdir())
        / f"alpr-bench-{args.seconds:g}s-{args.size}-{args.clip_fps:g}-{args.cars}-{args.seed}.mp4"
    )
    t0 = time.perf_counter()
    if not path.exists():
        partial = path.with_suffix(".part.mp4")
        synthclip.encode(
            synthclip.render_frames(cars, size=size, fps=args.clip_fps, seconds=args.seconds, blur=0.7, seed=args.seed),
            partial,
            fps=args.clip_fps,
        )
        partial.rename(path)
    render_s = time.perf_counter() - t0
    mb_after_render = peak_mb()

    t0 = time.perf_counter()
    decoded = sum(1 for _ in decode.frames(path, DEFAULT_VIDEO.sampling(every=1)))
    decode_s = time.perf_counter() - t0

    classifier = default_classifier()
    from alpr.pipeline import recognize

    recognize(next(decode.frames(path)).image, classifier=classifier)  # trace the model's graph before timing
    half: list[float] = []
    rss: dict[str, float] = {}
    t0 = time.perf_counter()

    def progress(done_s, total_s):
        if not half and done_s >= args.seconds / 2:
            half.append(time.perf_counter() - t0)
        if "tenth" not in rss and done_s >= args.seconds / 10:
            rss["tenth"] = rss_mb()
        rss["end"] = rss_mb()

    clip = read_clip(path, classifier, DEFAULT_VIDEO.sampling(fps=args.fps), progress=progress)
    read_s = time.perf_counter() - t0

    matched_group = matched_best = 0
    rows = []
    for car in cars:
        overlapping = [g for g in clip.groups if g.time_start_s <= car.leave_s and g.time_end_s >= car.enter_s]
        exact = [g for g in overlapping if g.plate == car.plate]
        best_of = exact[0] if exact else (max(overlapping, key=lambda g: g.frame_count) if overlapping else None)
        single = max(best_of.reads, key=lambda r: r.confidence).plate if best_of else ""
        matched_group += bool(exact)
        matched_best += single == car.plate
        rows.append((car.plate, best_of.plate if best_of else "-", single or "-"))
    n = len(cars)
    print(
        f"clip: {args.seconds:g} s, {size[0]}x{size[1]} H.264 at {args.clip_fps:g} fps, {n} cars "
        f"({path.stat().st_size / 2**20:.1f} MB; {'rendered' if render_s > 1 else 'reused'} in {render_s:.0f} s)\n"
    )
    print("| measure | value |")
    print("|---|---|")
    print(f"| decode only, every frame | {decoded} frames in {decode_s:.1f} s = {decoded / decode_s:.0f} frames/s |")
    print(
        f"| read at {args.fps:g} frames/s of clip | {len(clip.frames)} frames in {read_s:.1f} s = "
        f"{clip.frames_per_s:.1f} frames/s ({read_s / args.seconds:.2f} s per s of clip) |"
    )
    if half:
        print(f"| first {args.seconds / 2:g} s of clip read after | {half[0]:.1f} s |")
    print(f"| vehicle groups found | {len(clip.groups)} (cars in the clip: {n}) |")
    print(f"| group plate exact (vote) | {matched_group}/{n} |")
    print(f"| best single frame's plate exact | {matched_best}/{n} |")
    print(f"| peak memory (RSS) | {peak_mb():.0f} MB (after rendering, before reading: {mb_after_render:.0f} MB) |")
    print(
        f"| resident memory after {args.seconds / 10:g} s of clip / at the end | {rss['tenth']:.0f} MB / "
        f"{rss['end']:.0f} MB |"
    )
    print(f"| warnings | {len(clip.warnings)} |")
    print("\n| truth | group (vote) | best single frame |\n|---|---|---|")
    for truth, group, single in rows:
        print(f"| {truth} | {group} | {single} |")
    extra = [g.plate for g in clip.groups if g.plate not in plates]
    if extra:
        print(f"\ngroups that match no car: {', '.join(extra)}")


if __name__ == "__main__":
    main()
