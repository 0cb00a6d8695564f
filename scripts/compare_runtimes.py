"""Keras against ONNX Runtime on a labeled folder: the same plates, and how far the probabilities are.

    .venv/bin/python scripts/compare_runtimes.py [DATASET_DIR] [--model VERSION] [--limit N]

DATASET_DIR defaults to ../shared/datasets/openalpr-benchmarks (every photo and plate crop of the
development split). Each file is read twice through the whole pipeline, once with every learned
part under Keras and once under ONNX Runtime (`models export` writes the `.onnx` files beside the
model): the character CNN and the whole-plate reader. The first read also runs every batch
through the ONNX networks and keeps the largest |p_onnx - p_keras| of the CNN's probabilities and
of the reader's log-probabilities. Prints, per folder: files, files whose best string differs,
files whose candidate lists differ, crops and strips compared and the largest differences; exits
1 when any plate differs or a difference exceeds classify.export_tolerance.

Not a test: it reads ../shared, which the tests never do (tests/unit/test_runtime.py checks the
same on rendered plates).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from alpr import pipeline  # noqa: E402
from alpr.classify import CharClassifier, load_classifier  # noqa: E402
from alpr.plate_reader import PlateReader, load_plate_reader, log_softmax, reader_path  # noqa: E402
from alpr.config import DEFAULT  # noqa: E402
from alpr.data import read_dataset  # noqa: E402
from alpr.evaluate import evaluate_items, select  # noqa: E402
from alpr.training import registry  # noqa: E402

DEFAULT_DATASET = ROOT.parent / "shared" / "datasets" / "openalpr-benchmarks"


class PairedNetwork:
    """Answers with the first network and keeps how far the second one is from it."""

    runtime = "keras"

    def __init__(self, first, second, compare=lambda x: x):
        self.first, self.second, self.compare = first, second, compare
        self.input_shape, self.output_shape = first.input_shape, first.output_shape
        self.crops = 0
        self.largest = 0.0

    def predict(self, batch: np.ndarray) -> np.ndarray:
        a, b = self.first.predict(batch), self.second.predict(batch)
        self.crops += len(batch)
        self.largest = max(self.largest, float(np.abs(self.compare(a) - self.compare(b)).max(initial=0.0)))
        return a


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", nargs="?", default=str(DEFAULT_DATASET))
    parser.add_argument("--model", default=None, help="a registry version or .keras file (default: the active one)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N files")
    args = parser.parse_args()

    path = registry.resolve_model(args.model)
    keras_clf = load_classifier(path, runtime="keras")
    onnx_clf = load_classifier(path, runtime="onnx")
    paired = PairedNetwork(keras_clf.network, onnx_clf.network)
    watched = CharClassifier(paired, keras_clf.info, keras_clf.config, keras_clf.memory)
    # The whole-plate reader the Keras read uses (recognize asks for it in the classifier's runtime).
    reader_file = reader_path()
    strips = None
    if reader_file is not None and reader_file.is_file():
        keras_reader, onnx_reader = load_plate_reader(reader_file, "keras"), load_plate_reader(reader_file, "onnx")
        strips = PairedNetwork(keras_reader.network, onnx_reader.network, log_softmax)
        pipeline._default_whole[(str(reader_file), "keras")] = PlateReader(
            strips, keras_reader.metadata, keras_reader.path
        )

    items = select(read_dataset(args.dataset), limit=args.limit)
    rows: dict[str, dict] = defaultdict(
        lambda: {"files": 0, "best": 0, "candidates": 0, "crops": 0, "largest": 0.0, "strips": 0, "reader": 0.0}
    )
    differing = []
    by_keras = evaluate_items(items, watched, None, 10)
    by_onnx = evaluate_items(items, onnx_clf, None, 10)
    for k, o in zip(by_keras, by_onnx):  # one file at a time: Keras reads it, then ONNX
        row = rows[k.group]
        row["files"] += 1
        row["best"] += k.read != o.read
        row["candidates"] += k.candidates != o.candidates
        if k.read != o.read or k.candidates != o.candidates:
            differing.append(f"{k.path}: keras {k.read or '-'} onnx {o.read or '-'}")
        row["crops"] += paired.crops
        row["largest"] = max(row["largest"], paired.largest)
        paired.crops, paired.largest = 0, 0.0  # this file's crops are counted
        if strips is not None:
            row["strips"] += strips.crops
            row["reader"] = max(row["reader"], strips.largest)
            strips.crops, strips.largest = 0, 0.0

    print(f"model {keras_clf.info.version} ({path or 'shipped'}): Keras against ONNX Runtime on {args.dataset}\n")
    print(
        f"{'folder':<22} {'files':>6} {'best differs':>13} {'candidates differ':>18} {'crops':>7}  {'CNN |dp|':>9}"
        f"  {'strips':>6}  reader |dlogp|"
    )
    total = {"files": 0, "best": 0, "candidates": 0, "crops": 0, "largest": 0.0, "strips": 0, "reader": 0.0}
    for group, row in [*rows.items(), ("all", total)]:
        print(
            f"{group:<22} {row['files']:>6} {row['best']:>13} {row['candidates']:>18} {row['crops']:>7}  "
            f"{row['largest']:>9.1e}  {row['strips']:>6}  {row['reader']:.1e}"
        )
        for key in ("files", "best", "candidates", "crops", "strips"):
            total[key] += row[key] if row is not total else 0
        for key in ("largest", "reader"):
            total[key] = max(total[key], row[key])
    for line in differing:
        print("  " + line)
    ok = not differing and max(total["largest"], total["reader"]) <= DEFAULT.classify.export_tolerance
    print("\nsame plates, probabilities within tolerance" if ok else "\nDIFFERENT")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
