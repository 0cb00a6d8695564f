"""One prepared check of the training code on a GPU machine with JAX and no TensorFlow (and on a CPU).

    scripts/gpu_check.sh                     # on the GPU machine (installs keras/namex/optree from .whl/)
    scripts/gpu_check.sh --cpu               # here: the same run on the CPU, and the reference files
    .venv/bin/python scripts/gpu_check.py --compare DIR   # here: TensorFlow reads DIR's version as JAX did

It fine-tunes the shipped model under the current Keras backend (the .sh sets JAX) on a fixed exported
dataset, `.gpu_check/export` (rendered glyphs, made once with a fixed seed; it travels with the tree as
an ignored folder), with mixed_bfloat16 on a GPU, and prints samples/s and seconds per epoch. Then it:
1. reads the fixed probe crops with the shipped model and compares with what the CPU run saved
   (`.gpu_check/reference.npz`): the same network on another device must read the same;
2. saves the trained version and its own reads of the probes to --out (model.keras, predictions.npz,
   gpu_check.json), and, where TensorFlow is installed, loads that version with TensorFlow (as the app
   does) and checks it reads the probes as the training backend did. Without TensorFlow, bring --out
   back and run `--compare DIR` where it is installed.
Not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXED = ROOT / ".gpu_check"  # ignored by git (.git/info/exclude); carried to the GPU machine
PER_CLASS = 300  # 11,100 training crops: enough batches per epoch at a batch size that fills a GPU
PROBES_PER_CLASS = 12
SEED = 20261201
TOLERANCE = 2e-2  # of a softmax probability: bf16 training, TF32/cuDNN reads on a GPU vs float32 on a CPU


def make_fixed(folder: Path) -> None:
    """The fixed exported dataset (a folder per class + labels.csv, as `alpr labels export` writes)
    and the probe crops, rendered once with a fixed seed so every machine trains on the same pixels."""
    import csv

    from PIL import Image

    from alpr.synth import render_glyph
    from alpr.types import ALL_CLASSES

    export = folder / "export"
    rng = np.random.default_rng(SEED)
    rows = []
    for cls in ALL_CLASSES:
        (export / cls).mkdir(parents=True, exist_ok=True)
        for i in range(PER_CLASS):
            name = f"{cls}/{i}.png"
            Image.fromarray((render_glyph(cls, rng, 32) * 255 + 0.5).astype(np.uint8)).save(export / name)
            rows.append((name, cls, "import", f"{cls}{i // 6}"))
    with open(export / "labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("path", "label", "source", "plate_id"), *rows])
    probes = np.stack([render_glyph(c, rng, 32) for c in ALL_CLASSES for _ in range(PROBES_PER_CLASS)])
    labels = np.repeat(np.arange(len(ALL_CLASSES)), PROBES_PER_CLASS)
    np.savez_compressed(folder / "probes.npz", x=(probes * 255 + 0.5).astype(np.uint8), y=labels)


def probes() -> tuple[np.ndarray, np.ndarray]:
    with np.load(FIXED / "probes.npz") as z:
        return z["x"].astype(np.float32) / 255.0, z["y"]


def compare(a: np.ndarray, b: np.ndarray) -> dict:
    return {
        "max_abs_diff": float(np.abs(a - b).max()),
        "same_reads": int((a.argmax(1) == b.argmax(1)).sum()),
        "n": int(len(a)),
        "ok": bool(np.abs(a - b).max() <= TOLERANCE and (a.argmax(1) == b.argmax(1)).all()),
    }


def read_with_this_backend(model_path: Path) -> np.ndarray:
    from alpr.classify import load_classifier

    return load_classifier(model_path).probabilities(probes()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu", action="store_true", help="run without a GPU (else a missing GPU is an error)")
    parser.add_argument("--batch-size", type=int, default=None, help="per device (default 1024 on a GPU, 64 on a CPU)")
    parser.add_argument(
        "--epochs", type=int, default=3, help="the first includes compiling; the last is the steady one"
    )
    parser.add_argument("--precision", default=None, help="default mixed_bfloat16 on a GPU, float32 on a CPU")
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp/alpr-gpu-check"), help="data folder of the run (emptied)"
    )
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-check-out")))
    parser.add_argument(
        "--write-reference", action="store_true", help="save the shipped model's reads as the reference"
    )
    parser.add_argument(
        "--compare", type=Path, default=None, metavar="DIR", help="read DIR/model.keras here and compare"
    )
    args = parser.parse_args()

    if args.compare:
        saved = np.load(args.compare / "predictions.npz")["trained"]
        result = compare(read_with_this_backend(args.compare / "model.keras"), saved)
        import keras

        print(f"{keras.backend.backend()} reads the version as it was trained: {result}")
        return 0 if result["ok"] else 1

    if not (FIXED / "probes.npz").is_file():
        print(f"making the fixed dataset in {FIXED} ...", flush=True)
        make_fixed(FIXED)
    import keras

    from alpr.classify import DEFAULT_MODEL
    from alpr import framework
    from alpr.training import finetune, jobs

    found = framework.devices()
    print(
        f"backend {framework.name()} ({framework.version()}, Keras {keras.__version__}); device {found.line}; "
        f"{found.count} device(s)",
        flush=True,
    )
    if not found.accelerators and not args.cpu:
        print("no GPU found: run with --cpu to check on the CPU", file=sys.stderr)
        return 2

    # 1. the shipped network reads the probes here as it did on the CPU
    shipped = read_with_this_backend(DEFAULT_MODEL)
    reference = FIXED / "reference.npz"
    if args.write_reference or not reference.is_file():
        np.savez_compressed(reference, shipped=shipped, device=found.line, backend=framework.name())
        print(f"reference reads saved to {reference}")
    same = compare(shipped, np.load(reference)["shipped"])
    print(f"shipped model here vs reference ({str(np.load(reference)['device'])}): {same}")

    # 2. the fine-tune, as the Train page's job runs it
    gpu = bool(found.accelerators)
    cfg = finetune.JobConfig(
        data_dir=str(args.work / "data"),
        base="shipped",
        use_store=False,
        replay=False,
        datasets=[str(FIXED / "export")],
        glyphs_per_class=4,
        epochs=args.epochs,
        unfreeze_epochs=0,
        batch_size=args.batch_size or (1024 if gpu else 64),
        patience=99,
        precision=args.precision or ("mixed_bfloat16" if gpu else "float32"),
    )
    shutil.rmtree(args.work, ignore_errors=True)
    t0 = time.time()
    status = finetune.run(cfg, argv=["(scripts/gpu_check.py)"])
    total = time.time() - t0
    run = jobs.list_runs(args.work / "data")[0]
    rows = run.metrics()
    if not rows or not status.version:
        print(f"the run registered nothing: {status.message}", file=sys.stderr)
        return 1
    print(
        f"\n{'epoch':>5} {'samples/s':>10} {'epoch s':>8} {'val acc':>8}   batch {cfg.batch_size} x {found.count} "
        f"device(s), {cfg.precision}"
    )
    for r in rows:
        print(f"{r.global_epoch:>5} {r.samples_per_s:>10.0f} {r.epoch_s:>8.2f} {r.val_acc:>8.4f}")
    steady = rows[-1]
    print(
        f"steady epoch (the last): {steady.samples_per_s:.0f} samples/s, {steady.epoch_s:.2f} s; whole run {total:.1f} s; "
        f"{status.version} {status.state}"
    )

    # 3. the version saved, with its own reads of the probes, and TensorFlow's reads where installed
    from alpr.training import registry

    version = registry.get(status.version, args.work / "data")
    trained = read_with_this_backend(version.path)
    x_probe, y_probe = probes()
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(version.path, args.out / "model.keras")
    shutil.copyfile(version.path.with_suffix(".json"), args.out / "model.json")
    np.savez_compressed(args.out / "predictions.npz", trained=trained, shipped=shipped)
    summary = {
        "backend": framework.name(),
        "framework": framework.version(),
        "keras": keras.__version__,
        "device": found.line,
        "devices": found.count,
        "precision": cfg.precision,
        "batch_size": cfg.batch_size,
        "epochs": [
            {"epoch": r.global_epoch, "samples_per_s": round(r.samples_per_s, 1), "epoch_s": r.epoch_s} for r in rows
        ],
        "steady_samples_per_s": round(steady.samples_per_s, 1),
        "steady_epoch_s": steady.epoch_s,
        "run_s": round(total, 1),
        "version": status.version,
        "state": status.state,
        "shipped_vs_reference": same,
        "probe_accuracy": {
            "shipped": float((shipped.argmax(1) == y_probe).mean()),
            "trained": float((trained.argmax(1) == y_probe).mean()),
        },
    }
    tf_check = None
    if framework.name() != "tensorflow" and _has("tensorflow"):
        proc = subprocess.run(
            [sys.executable, __file__, "--compare", str(args.out)],
            capture_output=True,
            text=True,
            env={**os.environ, "KERAS_BACKEND": "tensorflow"},
            cwd=ROOT,
        )
        tf_check = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
        summary["tensorflow_reads_it_the_same"] = proc.returncode == 0
        print(tf_check)
    elif framework.name() == "tensorflow":
        print("trained under TensorFlow: the app's reads are the ones above")
    else:
        print(
            f"TensorFlow is not installed here: bring {args.out} back and run "
            f"`.venv/bin/python scripts/gpu_check.py --compare {args.out.name}` where it is"
        )
    (args.out / "gpu_check.json").write_text(json.dumps(summary, indent=1))
    print(
        f"probe accuracy: shipped {summary['probe_accuracy']['shipped']:.4f}, trained {summary['probe_accuracy']['trained']:.4f}"
    )
    print(f"wrote {args.out}/model.keras, predictions.npz, gpu_check.json")
    ok = same["ok"] and summary.get("tensorflow_reads_it_the_same", True)
    return 0 if ok else 1


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    sys.exit(main())
