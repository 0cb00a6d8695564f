"""Keras (TensorFlow) against ONNX Runtime: start-up, median milliseconds per photo, peak memory.

    .venv/bin/python scripts/bench_runtime.py [--photos N] [--starts 5] [--markdown]

Photos: the development photos (../shared/datasets/openalpr-benchmarks/endtoend/*, every one, or
the first N by name) when ../shared is there, else N (default 60) street scenes rendered by
`alpr.synth` into a temporary folder. The table says, per runtime:

- start-up: seconds from starting `python -m alpr recognize --json --runtime R PHOTO` to its first
  JSON line (Python, the framework and the model loaded, one photo read), the median of --starts
  fresh processes, the runtimes in turn;
- import + load: seconds to import the runtime and load the model in a fresh process, no photo;
- median ms per photo, and of it the classify stage (the only one the runtime computes): every
  photo read by `alpr.pipeline.recognize` in a fresh process with the model loaded (as the CLI
  reads, without printing); --rounds runs per runtime, in turn, and the lowest median kept (the
  least disturbed by other work on the machine);
- peak memory: the largest resident set of such a run (getrusage), whatever was imported included;
- network alone: median ms of one batch of 24 rendered glyphs (a photo's three segmentations of a
  plate are read in one such batch) through each runtime's `predict`, both networks loaded in one
  process and called in turn 300 times, so a busy machine slows both alike.

Not a test: the numbers depend on the machine and on whatever else shares its CPU. The active
model is read (the shipped one unless ALPR_DATA_DIR says otherwise); its `.onnx` must exist.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEV_PHOTOS = ROOT.parent / "shared" / "datasets" / "openalpr-benchmarks" / "endtoend"
RUNTIMES = ("keras", "onnx")
LOAD_ONLY = (
    "import time; t = time.perf_counter(); from alpr.classify import load_classifier; "
    "load_classifier(runtime={runtime!r}); print(time.perf_counter() - t)"
)
# One run of every photo in a fresh process: median total and classify ms, peak resident MB.
READ_ALL = """
import json, resource, statistics, sys, time
from alpr.classify import load_classifier
from alpr.imageio import load_image
from alpr.pipeline import recognize
classifier = load_classifier(runtime=sys.argv[1])
total, classify = [], []
for name in sys.argv[2:]:
    started = time.perf_counter()
    rec = recognize(load_image(name), country="us", topn=10, classifier=classifier)
    total.append(1000 * (time.perf_counter() - started))
    classify.append(rec.timings_ms.get("classify", 0.0))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps([statistics.median(total), statistics.median(classify), peak]))
"""


def photos(limit: int | None, folder: Path) -> tuple[list[Path], str]:
    if DEV_PHOTOS.is_dir():
        from alpr.imageio import IMAGE_TYPES

        found = sorted(p for p in DEV_PHOTOS.rglob("*") if p.suffix.lower().lstrip(".") in IMAGE_TYPES)
        found = found[:limit] if limit else found
        return found, f"{len(found)} development photos (openalpr-benchmarks endtoend br/eu/us)"
    from PIL import Image

    from alpr import synth

    n = limit or 60
    out = []
    for i, (_, image) in enumerate(synth.sample_scenes(n, seed=11)):
        path = folder / f"scene_{i:03d}.jpg"
        Image.fromarray(image).save(path, quality=92)
        out.append(path)
    return out, f"{n} rendered street scenes (alpr.synth, 960x640 JPEG)"


def _cli(runtime: str, files: list[Path]) -> list[str]:
    return [sys.executable, "-m", "alpr", "recognize", "--json", "--runtime", runtime, *map(str, files)]


def start_up(runtime: str, photo: Path, env: dict) -> float:
    """Seconds from starting the process to its first JSON line."""
    started = time.perf_counter()
    process = subprocess.Popen(_cli(runtime, [photo]), cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    process.stdout.readline()
    seconds = time.perf_counter() - started
    process.communicate()
    return seconds


def load_only(runtime: str, env: dict) -> float:
    code = LOAD_ONLY.format(runtime=runtime)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


NETWORK_ONLY = """
import json, statistics, sys, time
import numpy as np
from alpr import synth
from alpr.classify import load_classifier
from alpr.types import CLASSES
rng = np.random.default_rng(0)
batch = np.stack([synth.render_glyph(c, rng) for c in CLASSES[:24]]).astype(np.float32)[..., None]
networks = {r: load_classifier(runtime=r).network for r in ("keras", "onnx")}
times = {r: [] for r in networks}
for _ in range(300):
    for r, net in networks.items():
        started = time.perf_counter()
        net.predict(batch)
        times[r].append(1000 * (time.perf_counter() - started))
print(json.dumps({r: statistics.median(t[20:]) for r, t in times.items()}))
"""


def network_only(env: dict) -> dict[str, float]:
    """Median ms per batch of 24 glyphs, per runtime, interleaved in one process (warm-up left out)."""
    done = subprocess.run([sys.executable, "-c", NETWORK_ONLY], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"network timing failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def whole_run(runtime: str, files: list[Path], env: dict) -> tuple[float, float, float]:
    """(median ms per photo, median classify ms per photo, peak MB) of one fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", READ_ALL, runtime, *map(str, files)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"{runtime}: reading failed:\n{done.stderr[-2000:]}")
    return tuple(json.loads(done.stdout.strip().splitlines()[-1]))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=None, help="only the first N development photos (or N rendered)")
    parser.add_argument("--starts", type=int, default=5, help="fresh processes per runtime for the start-up median")
    parser.add_argument("--rounds", type=int, default=2, help="whole runs per runtime (the lowest median is kept)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown (docs/runtime.md)")
    args = parser.parse_args()

    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("ALPR_PROGRESS", None)
    with tempfile.TemporaryDirectory() as tmp:
        files, what = photos(args.photos, Path(tmp))
        starts: dict[str, list[float]] = {r: [] for r in RUNTIMES}
        loads: dict[str, list[float]] = {r: [] for r in RUNTIMES}
        for _ in range(args.starts):  # in turn, so a busy moment of the machine hits both
            for runtime in RUNTIMES:
                starts[runtime].append(start_up(runtime, files[0], env))
                loads[runtime].append(load_only(runtime, env))
        rounds: dict[str, list[tuple[float, float, float]]] = {r: [] for r in RUNTIMES}
        for _ in range(args.rounds):
            for runtime in RUNTIMES:
                rounds[runtime].append(whole_run(runtime, files, env))
        alone = network_only(env)

    names = {
        "keras": f"Keras {_version('keras')} + TensorFlow {_version('tensorflow-cpu', 'tensorflow')}",
        "onnx": f"ONNX Runtime {_version('onnxruntime')}",
    }
    header = [
        "runtime",
        "start-up to first read (s)",
        "import + load (s)",
        "median ms per photo",
        "of it classify (ms)",
        "network alone, 24 glyphs (ms)",
        "peak memory (MB)",
    ]
    rows = []
    for r in RUNTIMES:
        best = min(rounds[r])  # the round with the lowest median per photo
        rows.append(
            [
                names[r],
                f"{statistics.median(starts[r]):.2f}",
                f"{statistics.median(loads[r]):.2f}",
                f"{best[0]:.0f}",
                f"{best[1]:.1f}",
                f"{alone[r]:.2f}",
                f"{max(peak for _, _, peak in rounds[r]):.0f}",
            ]
        )
    print(
        f"{date.today().isoformat()} on {machine()}; {what}; start-up: median of {args.starts} fresh processes; "
        f"per photo: the lower of {args.rounds} runs; load average at the end {os.getloadavg()[0]:.1f}\n"
    )
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        for line in [header, *rows]:
            print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)))
    return 0


def _version(*packages: str) -> str:
    """The installed version of the first of `packages` that is installed."""
    from importlib.metadata import PackageNotFoundError, version

    for package in packages:
        try:
            return version(package)
        except PackageNotFoundError:
            continue
    return "?"


if __name__ == "__main__":
    raise SystemExit(main())
