"""Shared by the training tests: a label store seeded with rendered character crops, and a CLI runner."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from alpr.labels.store import LabelStore
from alpr.synth import render_glyph

ROOT = Path(__file__).resolve().parent.parent
SEED_CHARS = "ABC123XYZ"


def write_export(folder: Path, crops: list[tuple[str, np.ndarray]]) -> Path:
    """An `alpr labels export` folder (a folder per class + labels.csv) holding `crops`."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for n, (label, image) in enumerate(crops):
        (folder / label).mkdir(exist_ok=True)
        name = f"{label}/{n}.png"
        Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)).save(folder / name)
        rows.append((name, label, "person", n // 6))
    with open(folder / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "source", "plate_id"])
        writer.writerows(rows)
    return folder


def seed_store(data: Path, n: int = 40, seed: int = 5) -> int:
    """Put `n` labeled crops of rendered glyphs into the label store of `data`; returns how many."""
    rng = np.random.default_rng(seed)
    crops = [
        (SEED_CHARS[i % len(SEED_CHARS)], render_glyph(SEED_CHARS[i % len(SEED_CHARS)], rng, 32)) for i in range(n)
    ]
    export = write_export(data.parent / f"{data.name}-export", crops)
    with LabelStore.open(data) as store:
        store.import_path(export)
        return store.stats()["labeled"]


def run_cli(*args: str, env: dict | None = None, timeout: int = 300) -> tuple[subprocess.CompletedProcess, float]:
    """`python -m alpr ARGS` from the checkout; (the finished process, seconds it took)."""
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "alpr", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return proc, time.monotonic() - t0


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
