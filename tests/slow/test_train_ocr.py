"""`python -m alpr train --ocr-data --plate-data`: the OCR training crops and plate crops split by
plate join fine-tuning, and the model's metadata reports each OCR source's hold-out accuracy."""

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]


def tiny_ocr_folder(root: Path) -> Path:
    folder = root / "ocr" / "br" / "chars"
    folder.mkdir(parents=True)
    for k in range(30):
        ch = "0o1i"[k % 4]
        img = Image.new("L", (22, 34), 255)
        ImageDraw.Draw(img).rectangle((4, 4, 17, 29), outline=0, width=2 + k % 3)
        img.save(folder / f"{ch}-{k % 3}-1_PLATE{k // 3}.jpg")
    return root / "ocr"


def test_training_with_ocr_and_plate_data_counts_them_and_reports_per_source(benchmark_dir, tmp_path):
    out = tmp_path / "tiny.keras"
    cmd = [
        sys.executable,
        "-m",
        "alpr",
        "train",
        "--data",
        str(benchmark_dir),
        "--out",
        str(out),
        "--ocr-data",
        str(tiny_ocr_folder(tmp_path)),
        "--plate-data",
        str(benchmark_dir / "crops"),
        "--glyphs-per-class",
        "12",
        "--pretrain-epochs",
        "1",
        "--finetune-epochs",
        "1",
        "--rounds",
        "1",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    meta = json.loads(out.with_suffix(".json").read_text())
    assert 0 < meta["data"]["ocr_train"] < 30  # the training part of a split by plate
    assert "plate_data_train" in meta["data"]
    assert set(meta["validation"]["ocr_sources_holdout"]) == {"br"}
    assert "extra real crops round 1" in proc.stdout
