"""Load on the HTTP API: `python -m alpr serve` with 1 and 2 workers, 1, 4 and 16 concurrent clients.

    nice -n 10 .venv/bin/python scripts/bench_api.py [--requests 48] [--workers 1 2] [--clients 1 4 16]

For each worker count it starts the real server on a free port (the active model: the shipped one,
the data folder being a new temporary one; default limits: --max-running 2 --max-waiting 8 per
worker), renders a few synthetic 960x640 street scenes (`alpr.synth`, JPEG, the three plate
styles), and for each client count posts the same fixed number of requests to /v1/plate-reader/
from that many threads, each as fast as its previous answer comes back. One row per (workers,
clients): p50 and p95 latency of the answered (200) requests, answered requests per second over
the wall time, how many got 429 (over the concurrency limit: the client is told to retry, not
queued), and the peak resident memory of the server and its worker processes summed
(/proc/PID/status VmHWM). Prints a Markdown table. Not a test: the numbers depend on the machine
and on whatever else shares its CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import httpx
import numpy as np
from browser_support import free_port
from PIL import Image

from alpr import synth

STYLES = ("us", "eu", "br")


def photos(n: int = 6) -> list[bytes]:
    out = []
    for i in range(n):
        style = STYLES[i % len(STYLES)]
        rng = np.random.default_rng(100 + i)
        image, _ = synth.render_scene(synth.random_plate_text(rng, style), rng, style)
        path = Path(tempfile.mkstemp(suffix=".jpg")[1])
        Image.fromarray(image).save(path, quality=90)
        out.append(path.read_bytes())
        path.unlink()
    return out


def peak_mb(pid: int) -> float:
    """VmHWM of the process and its children (uvicorn's worker processes), summed, in MB."""
    total = 0.0
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        pids += [int(c) for c in children]
    for p in pids:
        try:
            fields = dict(
                line.split(":", 1) for line in Path(f"/proc/{p}/status").read_text().splitlines() if ":" in line
            )
            total += int(fields["VmHWM"].split()[0]) / 1024
        except (OSError, KeyError):
            pass
    return total


def start(workers: int, data_dir: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "ALPR_DATA_DIR": data_dir}
    process = subprocess.Popen(
        [sys.executable, "-m", "alpr", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the server did not start within 180 s")


def run(url: str, images: list[bytes], clients: int, requests: int) -> dict:
    latencies: list[float] = []
    statuses: list[int] = []

    def one(i: int) -> None:
        started = time.perf_counter()
        response = httpx.post(
            url + "/v1/plate-reader/", files={"upload": (f"{i}.jpg", images[i % len(images)])}, timeout=120
        )
        statuses.append(response.status_code)
        if response.status_code == 200:
            latencies.append(time.perf_counter() - started)

    # Warm-up, in parallel so every worker gets some: the first read in each traces the model's graph.
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, range(6)))
    latencies.clear()
    statuses.clear()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(requests)))
    wall = time.perf_counter() - t0
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))] if latencies else float("nan")
    return {
        "p50": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p95": p95 * 1000,
        "rps": len(latencies) / wall,
        "ok": statuses.count(200),
        "429": statuses.count(429),
        "other": len(statuses) - statuses.count(200) - statuses.count(429),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()
    images = photos()
    rows = []
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as data_dir:
            process, url = start(workers, data_dir)
            try:
                for clients in args.clients:
                    r = run(url, images, clients, args.requests)
                    rows.append((workers, clients, r, peak_mb(process.pid)))
                    print(f"workers {workers}, clients {clients}: {r}", file=sys.stderr, flush=True)
            finally:
                process.terminate()
                process.wait(timeout=30)
    print(f"{args.requests} requests per row to /v1/plate-reader/, 960x640 synthetic JPEGs, {os.cpu_count()} CPUs\n")
    print("| workers | clients | p50 ms | p95 ms | answered req/s | 200 | 429 | other | peak memory MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for workers, clients, r, mb in rows:
        print(
            f"| {workers} | {clients} | {r['p50']:.0f} | {r['p95']:.0f} | {r['rps']:.2f} | {r['ok']} | {r['429']} | "
            f"{r['other']} | {mb:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
