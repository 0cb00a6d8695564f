"""Deliveries after faults: `python -m alpr serve --webhook` against a receiver that is down, fails
and hangs, and a server killed -9 with deliveries queued. Counts what arrived.

    .venv/bin/python scripts/webhook_faults.py [--reads 20] [--down-s 20]

Two scenarios, each with a new data folder, the active model (the shipped one) and a real receiver
on 127.0.0.1 (tests/webhook_support.py), the photos rendered street scenes (`alpr.synth`):

* killed: the receiver is down; READS photos are posted; the server is killed -9 with every
  delivery queued; the receiver comes up answering 500 to its first 3 requests; the server is
  started again. Seconds are counted from the restart's first answer to /healthz.
* down-and-hang: the server runs throughout; READS photos are posted while the receiver is down
  for DOWN_S seconds; it comes up and hangs on its first request (longer than the 10 s
  WebhookConfig.timeout_s), then answers 200. Seconds are counted from the receiver's return.

For each: reads posted, deliveries expected (one per read with a plate, Plate Recognizer shape),
distinct delivery ids the receiver accepted, lost (expected minus accepted), duplicated (accepted
more than once), failed attempts retried (/metrics), and the seconds until the last arrived.
Prints a Markdown table. Not a test: timings depend on the machine's load.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from webhook_support import Receiver, free_port  # noqa: E402

from alpr import synth  # noqa: E402
from alpr.imageio import encode_png  # noqa: E402

PLATES = ("ABC1234", "7XYZ432", "KLM5678", "JGZ3298", "FZB9581", "PQR4567", "TUV2345", "WXY8765")


def photos(n: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(n):
        image, _ = synth.render_scene(PLATES[i % len(PLATES)], np.random.default_rng(100 + i), "us")
        out.append((f"car-{i:03d}.png", encode_png(image)))
    return out


def start(data_dir: str, hook: str, log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "alpr", "serve", "--port", str(port), "--data-dir", data_dir, "--webhook", hook],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"alpr serve exited with status {process.returncode}; see {log.name}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"alpr serve did not start; see {log.name}")


def post_all(url: str, shots: list[tuple[str, bytes]]) -> int:
    """Post every photo; how many answers held a plate (each is one delivery)."""
    expected = 0
    for name, data in shots:
        answer = httpx.post(url + "/v1/plate-reader/", files={"upload": (name, data)}, timeout=120)
        answer.raise_for_status()
        expected += bool(answer.json()["results"])
    return expected


def retried(url: str) -> int:
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith('alpr_webhook_deliveries_total{outcome="retried"}'):
            return int(line.rsplit(" ", 1)[1])
    return -1


def wait(receiver: Receiver, expected: int, since: float, limit_s: float = 300) -> float:
    receiver.wait_for(expected, limit_s)
    last = time.monotonic() - since
    time.sleep(3.0)  # a delivery sent twice would arrive by now
    return last


def row(name: str, reads: int, expected: int, receiver: Receiver, seconds: float, retries: int) -> str:
    keys = receiver.accepted_keys()
    duplicated = sum(n - 1 for n in keys.values())
    return f"| {name} | {reads} | {expected} | {len(keys)} | {expected - len(keys)} | {duplicated} | {retries} | {seconds:.1f} |"


def killed(shots, log) -> str:
    receiver = Receiver(answer=lambda n: 500 if n < 3 else 200)
    with tempfile.TemporaryDirectory() as data_dir:
        server, url = start(data_dir, receiver.url, log)
        expected = post_all(url, shots)
        server.send_signal(signal.SIGKILL)
        server.wait()
        with receiver:
            server, url = start(data_dir, receiver.url, log)
            seconds = wait(receiver, expected, time.monotonic())
            retries = retried(url)
            server.terminate()
            server.wait()
    return row(
        "killed -9 with all queued, receiver down, then 3 x 500", len(shots), expected, receiver, seconds, retries
    )


def down_and_hang(shots, down_s: float, log) -> str:
    receiver = Receiver(answer=lambda n: ("hang", 30.0) if n == 0 else 200)
    with tempfile.TemporaryDirectory() as data_dir:
        server, url = start(data_dir, receiver.url, log)
        began = time.monotonic()
        expected = post_all(url, shots)
        time.sleep(max(0.0, down_s - (time.monotonic() - began)))
        with receiver:
            seconds = wait(receiver, expected, time.monotonic())
            retries = retried(url)
        server.terminate()
        server.wait()
    return row(f"receiver down {down_s:.0f} s, then hangs once", len(shots), expected, receiver, seconds, retries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--down-s", type=float, default=20.0)
    args = parser.parse_args()
    shots = photos(args.reads)
    log_path = Path(tempfile.gettempdir()) / "webhook_faults.log"
    with open(log_path, "wb") as log:
        rows = [killed(shots, log), down_and_hang(shots, args.down_s, log)]
    print(f"{args.reads} photos per scenario, `python -m alpr serve --webhook` (server log: {log_path})\n")
    print("| scenario | reads | deliveries | arrived (distinct ids) | lost | duplicated | retried | s to the last |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
