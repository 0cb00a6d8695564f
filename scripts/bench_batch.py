"""A batch of synthetic photos through `python -m alpr recognize` (or the Recognize page): time and memory.

    .venv/bin/python scripts/bench_batch.py [--photos 200] [--photos 50 ...] [--page]
    .venv/bin/python scripts/bench_batch.py --engines [--photos 40] [--nodes 100]

Renders N street scenes (`alpr.synth`, JPEG, 960x640, the three plate styles in turn) into a
temporary folder, then for each N runs `python -m alpr recognize --json FOLDER` as a subprocess
with the active model (the shipped one: the data folder is a new temporary one) and prints one
row: the whole process's seconds (Python, TensorFlow and model start included), the reading's
seconds and median per photo from the CLI's summary line, photos per second over the whole
process, and the subprocess's peak resident memory (getrusage RUSAGE_CHILDREN, taken after each
run, so a run's row is the largest peak so far: run the smaller batches first). Peak memory that
stays flat from 50 to 200 photos is what shows that nothing is kept per photo.

With --page it instead serves the app (`streamlit run app.py`), uploads the photos to the
Recognize page in headless Chromium and waits for the batch's summary table: wall seconds from
the upload to the table, the page's median, and the server's resident memory before the upload
and its peak after (/proc/PID/status VmRSS and VmHWM).

With --engines it runs `alpr batch` (alpr.batch.job.run_batch, in this process: the driver never
loads TensorFlow) on the local process pool and on a Dask LocalCluster, with 1 and 2 workers each,
and prints per run: seconds in all (worker start and model loads included), photos/s over the
whole run, and the steady photos/s: photos after each worker's first chunk (the one that loads
the model) over the time after it. Then a projection, not a measurement, for a cluster of
--nodes nodes of as many workers as the largest run: the steady rate per worker x workers.

Not a test: the numbers depend on the machine and on whatever else shares its CPU.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from alpr import synth  # noqa: E402

STYLES = ("us", "eu", "br")
# The CLI's last stderr line for a batch (see alpr/cli.py `_batch_summary`).
SUMMARY = re.compile(
    r"(\d+) photos: (\d+) read, (\d+) failed, (\d+) plates found; "
    r"([\d.]+) s in all, median (\d+|-) ms per photo; peak memory (\d+) MB"
)
PAGE_TIMEOUT_S_PER_PHOTO = 5  # a generous bound on a shared 2-core CPU; the first read also traces the model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, action="append", help="batch size (repeatable; default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--page", action="store_true", help="upload to the Recognize page instead of the CLI")
    parser.add_argument("--engines", action="store_true", help="alpr batch: local pool and Dask, 1 and 2 workers")
    parser.add_argument("--nodes", type=int, default=100, help="cluster size for --engines' projection")
    args = parser.parse_args()
    sizes = sorted(args.photos or [40 if args.engines else 200])
    with tempfile.TemporaryDirectory(prefix="alpr-bench-batch-") as work:
        if args.engines:
            return _bench_engines(Path(work), max(sizes), args.seed, args.nodes)
        return _bench(Path(work), sizes, args.seed, args.page)


ENGINE_RUNS = (("local", 1), ("local", 2), ("dask", 1), ("dask", 2))
ENGINE_CHUNK = 4  # photos per task: 10 tasks for 40 photos, so the steady part has several


def _bench_engines(work: Path, n: int, seed: int, nodes: int) -> int:
    from alpr.batch.config import BatchConfig
    from alpr.batch.job import model_settings, run_batch

    photos = _render(work / "photos", n, seed)
    print(f"rendered {len(photos)} photos (960x640 JPEG, us/eu/br in turn)", flush=True)
    print(_machine(), flush=True)
    settings = model_settings(None, "us", 10)
    config = BatchConfig(chunk_size=ENGINE_CHUNK)
    print(f"{'engine':>6} {'workers':>7} {'seconds':>8} {'photos/s':>9} {'steady photos/s':>16} {'per worker':>11}")
    best = {}
    for engine, workers in ENGINE_RUNS:
        arrivals: list[tuple[float, int]] = []
        started = time.perf_counter()
        with open(os.devnull, "w") as quiet:
            summary = run_batch(
                [str(work / "photos")],
                str(work / f"{engine}-{workers}.jsonl"),
                settings,
                engine,
                workers,
                config=config,
                stream=quiet,
                on_rows=lambda rows, seen=arrivals: seen.append((time.perf_counter(), len(rows))),
            )
        seconds = time.perf_counter() - started
        # Steady: after each worker has finished its first chunk (which waited for TensorFlow).
        t0 = arrivals[workers - 1][0]
        steady_photos = sum(k for _, k in arrivals[workers:])
        steady = steady_photos / (arrivals[-1][0] - t0) if arrivals[-1][0] > t0 else float("nan")
        best[(engine, workers)] = steady / workers
        print(
            f"{engine:>6} {workers:>7} {seconds:>8.1f} {summary.photos / seconds:>9.2f} {steady:>16.2f} "
            f"{steady / workers:>11.2f}",
            flush=True,
        )
    per_worker = best[("dask", 2)]
    rate = per_worker * 2 * nodes
    print(
        f"projection, not a measurement: {nodes} nodes x 2 workers x {per_worker:.2f} photos/s per worker "
        f"(dask, 2 workers, steady) = {rate:.0f} photos/s, a million photos in {1e6 / rate / 3600:.1f} h",
        flush=True,
    )
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


def _bench(work: Path, sizes: list[int], seed: int, page: bool) -> int:
    started = time.perf_counter()
    photos = _render(work / "all", max(sizes), seed)
    print(f"rendered {len(photos)} photos in {time.perf_counter() - started:.0f} s", flush=True)
    print(_machine(), flush=True)
    env = {k: v for k, v in os.environ.items() if k not in ("ALPR_PROGRESS", "ALPR_SAMPLES_DIR")}
    env["ALPR_DATA_DIR"] = str(work / "data")  # the shipped model reads; nothing lands in ./data
    if page:
        return _bench_page(photos, sizes, env)
    print(f"{'photos':>6} {'process s':>10} {'reading s':>10} {'photos/s':>9} {'median ms':>10} {'peak RSS MB':>12}")
    for n in sizes:
        folder = work / f"batch-{n}"
        folder.mkdir()
        for path in photos[:n]:
            os.link(path, folder / path.name)
        row = _bench_cli(folder, env)
        if row is None:
            return 1
        print(
            f"{n:>6} {row['process_s']:>10.1f} {row['reading_s']:>10.1f} {n / row['process_s']:>9.2f} "
            f"{row['median_ms']:>10} {row['peak_mb']:>12.0f}",
            flush=True,
        )
    return 0


def _render(folder: Path, n: int, seed: int) -> list[Path]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        style = STYLES[i % len(STYLES)]
        image, _ = synth.render_scene(synth.random_plate_text(rng, style), rng, style)
        out.append(folder / f"scene-{i:04d}-{style}.jpg")
        Image.fromarray(image).save(out[-1], quality=90)
    return out


def _machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"machine: {os.cpu_count()} cores, {model}; load average before: {load}"


def _bench_cli(folder: Path, env: dict[str, str]) -> dict | None:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "alpr", "recognize", "--json", str(folder)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seconds = time.perf_counter() - started
    match = SUMMARY.search(done.stderr)
    if done.returncode or match is None:
        print(f"recognize exited with status {done.returncode}:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"process_s": seconds, "reading_s": float(match[5]), "median_ms": match[6], "peak_mb": peak_kib / 1024}


def _bench_page(photos: list[Path], sizes: list[int], env: dict[str, str]) -> int:
    from browser_support import chromium, open_app, streamlit_server

    os.environ.clear()
    os.environ.update(env)  # the server inherits this process's environment
    print(
        f"{'photos':>6} {'seconds':>8} {'photos/s':>9} {'median ms':>10} {'server RSS before MB':>21} "
        f"{'server peak MB':>15}"
    )
    with streamlit_server("streamlit-server-bench-batch.log") as server, chromium() as browser:
        for n in sizes:
            with open_app(browser, server.url, 120_000) as page:
                before = server.memory_mb()
                started = time.perf_counter()
                page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(
                    [str(p) for p in photos[:n]]
                )
                timeout_ms = 1000 * (60 + PAGE_TIMEOUT_S_PER_PHOTO * n)
                page.locator("[data-testid=stHeading]").filter(has_text=f"{n} photos").wait_for(timeout=timeout_ms)
                page.locator("[data-testid=stDataFrame]").wait_for(timeout=timeout_ms)
                seconds = time.perf_counter() - started
                after = server.memory_mb()
                metrics = dict(
                    zip(
                        page.locator("[data-testid=stMetricLabel]").all_inner_texts(),
                        page.locator("[data-testid=stMetricValue]").all_inner_texts(),
                    )
                )
                if "Traceback" in page.locator("body").inner_text():
                    print("the page shows a traceback", file=sys.stderr)
                    return 1
            median = metrics.get("Median time per photo", "?").removesuffix(" ms")
            print(
                f"{n:>6} {seconds:>8.1f} {n / seconds:>9.2f} {median:>10} {before['rss']:>21.0f} {after['peak']:>15.0f}"
                f"   (page: {metrics.get('Photos read', '?')} read, {metrics.get('Plates found', '?')} plates)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
