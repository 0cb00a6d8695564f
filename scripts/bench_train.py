"""Training throughput of the fine-tuning job on this machine: samples per second and seconds per epoch.

    .venv/bin/python scripts/bench_train.py [--labels 600] [--glyphs 100] [--batch-size 64] [--epochs 3]

Seeds a temporary label store with rendered character crops, runs `python -m alpr train` on it
(the Train page's job) and reads the run's metrics.jsonl. The first epoch of each stage includes
tracing the training step, so it is reported apart. Not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from train_helpers import run_cli, seed_store  # noqa: E402

from alpr.training import jobs  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=int, default=600)
    parser.add_argument("--glyphs", type=int, default=100, help="rendered glyphs per class mixed in")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--unfreeze-epochs", type=int, default=2)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="alpr-bench-")) / "data"
    seed_store(data, args.labels)
    proc, seconds = run_cli(
        "train",
        "--data-dir",
        data,
        "--epochs",
        args.epochs,
        "--unfreeze-epochs",
        args.unfreeze_epochs,
        "--glyphs-per-class",
        args.glyphs,
        "--batch-size",
        args.batch_size,
        "--patience",
        99,
        timeout=3600,
    )
    if proc.returncode:
        print(proc.stderr[-2000:], file=sys.stderr)
        return 1
    run = jobs.list_runs(data)[0]
    rows = run.metrics()
    from alpr.training import registry

    samples = registry.get(run.status.version, data).metadata["data"]["train_samples_per_epoch"]
    device = next((l[len("device ") :] for l in proc.stdout.splitlines() if l.startswith("device ")), "?")
    print(
        f"device: {device}; batch {args.batch_size}; {samples} training samples per epoch; "
        f"whole process {seconds:.0f} s (TensorFlow start, data and glyph rendering included)"
    )
    for stage in dict.fromkeys(r.stage for r in rows):
        part = [r for r in rows if r.stage == stage]
        steady = part[1:] or part
        rate = sum(r.samples_per_s for r in steady) / len(steady)
        epoch_s = sum(r.epoch_s for r in steady) / len(steady)
        print(
            f"  stage {stage:<5} first epoch {part[0].epoch_s:.1f} s (tracing included); then {rate:,.0f} samples/s "
            f"and {epoch_s:.1f} s per epoch, validation included ({len(steady)} epochs)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
