"""Train the whole-plate reader (alpr/plate_reader.py): `python -m alpr train-reader`.

Read top to bottom: the frozen config, the data (rendered plates of every style, the real plates of
../shared/datasets that are not held out, every plate a person confirmed in the label store), the
batches, the model and its CTC loss, the epochs, the per-source exact-plate accuracy on the
validation fold, and the files written: `plate_reader.keras` and `plate_reader.json` (config, data
counts, one row per epoch, accuracy per source, and later the combiner's fitted weights).

The benchmark's hold-out (alpr.data.is_holdout) is never read here. Of the remaining real files, a
second fold (`is_combiner_fold`, ~20%) is kept out of training too: the reader's accuracy per source
is measured on it, and the combiner (alpr/combine.py) is fitted on it, so neither sees plates the
reader learned by heart.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from alpr import plate_reader as pr
from alpr.data import is_holdout, read_dataset
from alpr.errors import DatasetError
from alpr.runtime import KerasNetwork
from alpr.training.datasets import held_out_plates
from alpr.synth import render_plate, random_plate_text
from alpr.types import Box

STYLES = ("us", "eu", "br")


@dataclass(frozen=True)
class ReaderTrainConfig:
    epochs: int = 16  # CTC sits at all-blank for ~4 epochs from scratch, then climbs
    synth_plates: int = 3000  # rendered once (~15 ms each), augmented afresh every epoch
    synth_per_epoch: int = 3000
    real_repeat: int = 3  # times each real plate appears per epoch, each time augmented differently
    batch_size: int = 64
    learning_rate: float = 2e-3
    width: int = 32  # filters of the middle conv blocks (plate_reader.build_model)
    seed: int = 0
    val_synth: int = 300


@dataclass(frozen=True)
class Plate:
    """One training plate: a grey image holding it, the lettering's box in it, its text, its source."""

    image: np.ndarray  # float32 (H, W), 0..255
    box: Box | None  # None: the whole image is the plate
    text: str
    source: str


@dataclass(frozen=True)
class EpochRow:
    epoch: int
    loss: float
    val_exact: float  # exact-plate accuracy on the validation fold, all sources together
    seconds: float


@dataclass
class Report:
    config: dict
    counts: dict[str, int] = field(default_factory=dict)
    val_counts: dict[str, int] = field(default_factory=dict)
    epochs: list[dict] = field(default_factory=list)
    val_exact: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def is_combiner_fold(name: str | Path) -> bool:
    """True for the ~20% of the non-hold-out files that train neither the reader nor anything it
    scores: the reader is validated and the combiner fitted on them. A hash, like is_holdout."""
    return zlib.crc32(Path(name).name.encode()) % 5 == 1


# ---------------------------------------------------------------------------------------- data


def _grey(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        from PIL import ImageOps

        return np.asarray(ImageOps.exif_transpose(im).convert("L"), np.float32)


def real_plates(datasets: Path | None, store=None, holdout: bool = False) -> tuple[list[Plate], list[Plate]]:
    """(train, validation) real plates. Hold-out files are skipped; the combiner fold validates.
    With `holdout`, ([], the hold-out's plates) instead: only to measure a trained reader on."""
    train, val = [], []
    roots = []
    if datasets is not None:
        roots = [
            (datasets / "openalpr-benchmarks" / "plates", "plates/us"),
            (datasets / "openalpr-benchmarks" / "endtoend", None),
            (datasets / "openalpr-train-detector" / "br", "br-crops"),
        ]
    for root, name in roots:
        if not root.is_dir():
            continue
        try:
            items = read_dataset(root)
        except DatasetError:
            continue
        for item in items:
            if is_holdout(item) != holdout or not item.plate or len(item.plate) > pr.STEPS // 2:
                continue
            source = name or f"endtoend/{item.region}"
            image = _grey(item.path)
            if item.box is not None:
                # Keep the plate and a band of its surroundings, so crop jitter has pixels to take.
                b = item.box
                x0, y0 = max(0, b.x - b.w // 4), max(0, b.y - b.h // 2)
                image = image[y0 : b.y2 + b.h // 2, x0 : b.x2 + b.w // 4]
                box = Box(b.x - x0, b.y - y0, b.w, b.h)
            else:
                box = None
            (val if holdout or is_combiner_fold(item.path) else train).append(Plate(image, box, item.plate, source))
    if store is not None and not holdout:
        # Split as the character CNN's run splits the store (datasets.held_out_plates).
        store_train, store_held = store_plates(store)
        train += [store_plate(photo, box, text) for photo, box, text, _c, _id in store_train]
        val += [store_plate(photo, box, text) for photo, box, text, _c, _id in store_held]
    return train, val


def store_plates(store) -> tuple[list, list]:
    """(train, held-out) taught plates of the store: (photo, box, text, country, plate id) each,
    split by `datasets.held_out_plates` as the character CNN's run splits them."""
    train, held = [], []
    for photo, box, text, country, plate_id, _glyphs in store.taught_plates():
        text = "".join(ch for ch in str(text).upper() if ch.isalnum())
        if not text or len(text) > pr.STEPS // 2:
            continue
        row = (photo, box, text, country or "us", plate_id)
        (held if held_out_plates(np.array([plate_id]))[0] else train).append(row)
    return train, held


def store_plate(photo: np.ndarray, box: Box, text: str) -> Plate:
    """A plate of the label store: its photo's grey pixels around the box (a band of surroundings
    kept, so crop jitter has pixels to take), the box, and the text a person gave."""
    grey = np.asarray(Image.fromarray(np.asarray(photo)).convert("L"), np.float32)
    x0, y0 = max(0, box.x - box.w // 4), max(0, box.y - box.h // 2)
    image = grey[y0 : box.y2 + box.h // 2, x0 : box.x2 + box.w // 4]
    return Plate(image, Box(box.x - x0, box.y - y0, box.w, box.h), text, "store")


def synth_plates(n: int, rng: np.random.Generator) -> list[Plate]:
    """Rendered plates of every style; the box is the lettering's (what the pipeline fits)."""
    out = []
    for i in range(n):
        style = STYLES[i % len(STYLES)]
        text = random_plate_text(rng, style)
        rgb, boxes = render_plate(text, rng, style, height=int(rng.integers(28, 64)))
        x0, y0 = min(b.x for b in boxes), min(b.y for b in boxes)
        x1, y1 = max(b.x2 for b in boxes), max(b.y2 for b in boxes)
        grey = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        out.append(Plate(grey, Box(x0, y0, x1 - x0, y1 - y0), text, f"synth/{style}"))
    return out


def augment(plate: Plate, rng: np.random.Generator) -> np.ndarray:
    """A strip of `plate` as a camera might have seen it: the box jittered (as detection and the
    character pipeline's fit would cut it), tilted and sheared, blurred, noisy, of any contrast."""
    img = plate.image
    h, w = img.shape
    b = plate.box or Box(0, 0, w, h)
    # Lettering boxes (synth, store) get air like the pipeline's; labeled plate boxes get a little jitter.
    lo, hi = (0.0, 0.12) if plate.box is not None and plate.source.startswith(("synth", "store")) else (-0.03, 0.08)
    dx0, dx1 = rng.uniform(lo, hi, 2) * b.w
    dy0, dy1 = rng.uniform(lo * 2, hi * 2, 2) * b.h
    x0, y0 = int(max(0, b.x - dx0)), int(max(0, b.y - dy0))
    x1, y1 = int(min(w, b.x2 + dx1)), int(min(h, b.y2 + dy1))
    if x1 - x0 < 4 or y1 - y0 < 4:
        x0, y0, x1, y1 = 0, 0, w, h
    pil = Image.fromarray(np.clip(img[y0:y1, x0:x1], 0, 255).astype(np.uint8)).resize(
        (pr.WIDTH, pr.HEIGHT), Image.Resampling.BILINEAR
    )
    angle, shear = rng.uniform(-4, 4), rng.uniform(-0.15, 0.15)
    fill = int(np.median(np.asarray(pil)))
    pil = pil.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=fill)
    pil = pil.transform(pil.size, Image.Transform.AFFINE, (1, shear, -shear * pr.HEIGHT / 2, 0, 1, 0), fillcolor=fill)
    if rng.random() < 0.5:
        pil = pil.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.3)))
    out = np.asarray(pil, np.float32)
    out = out * rng.uniform(0.4, 1.0) + rng.uniform(0, 100)
    out = out + rng.normal(0, rng.uniform(0, 10), out.shape)
    if rng.random() < 0.05:
        out = 255 - out
    return pr.strip(out)


class Batches:
    """One epoch of augmented strips and padded label rows (0 is CTC's blank and the padding)."""

    def __init__(self, plates: list[Plate], batch_size: int, seed: int):
        import keras

        class _Data(keras.utils.PyDataset):
            def __init__(inner):
                super().__init__(workers=1, use_multiprocessing=False)
                inner.epoch = 0

            def __len__(inner):
                return max(1, len(plates) // batch_size)

            def __getitem__(inner, i):
                rng = np.random.default_rng((seed, inner.epoch, i))
                order = np.random.default_rng((seed, inner.epoch)).permutation(len(plates))
                chosen = [plates[j] for j in order[i * batch_size : (i + 1) * batch_size]]
                x = np.stack([augment(p, rng) for p in chosen])[..., None]
                y = np.zeros((len(chosen), pr.STEPS // 2), np.int32)
                for r, p in enumerate(chosen):
                    y[r, : len(p.text)] = pr.encode(p.text)
                return x, y

            def on_epoch_end(inner):
                inner.epoch += 1

        self.data = _Data()


def exact_by_source(reader: pr.PlateReader, plates: list[Plate]) -> dict[str, float]:
    """Exact-plate accuracy of the reader's greedy read, per source and over all ("all")."""
    if not plates:
        return {}
    strips = np.stack([pr.strip(p.image, p.box) for p in plates])
    reads = []
    for i in range(0, len(strips), 256):
        reads += reader.read(strips[i : i + 256])
    right: dict[str, list[bool]] = {}
    for p, r in zip(plates, reads):
        right.setdefault(p.source, []).append(r.text == p.text)
        right.setdefault("all", []).append(r.text == p.text)
    return {k: round(float(np.mean(v)), 4) for k, v in sorted(right.items())}


# ---------------------------------------------------------------------------------------- training


def train(
    out: Path,
    datasets: Path | None,
    store=None,
    config: ReaderTrainConfig = ReaderTrainConfig(),
    log=print,
    init: Path | None = None,
    synth: list[Plate] | None = None,
    extra: list[Plate] = (),
) -> Report:
    """Train a reader and write `out` (.keras) and its `.json`; returns the report written there.
    `init`: a trained reader whose weights to start from (a short run then fine-tunes it).
    `synth`: rendered plates to train on instead of `config.synth_plates` of synth_plates().
    `extra`: more real plates to train on (a training run's store plates, alpr/training/reader_step.py)."""
    from alpr.classify import quiet_tensorflow

    quiet_tensorflow()
    import keras

    t0 = time.perf_counter()
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    report = Report(config=asdict(config))
    real, val = real_plates(datasets, store)
    real = real + list(extra)
    synth = synth if synth is not None else synth_plates(config.synth_plates, rng)
    val += synth_plates(config.val_synth, np.random.default_rng(config.seed + 1))
    for p in real + synth:
        report.counts[p.source] = report.counts.get(p.source, 0) + 1
    for p in val:
        report.val_counts[p.source] = report.val_counts.get(p.source, 0) + 1
    log(f"data: {report.counts} (validation {report.val_counts}) in {time.perf_counter() - t0:.0f} s")
    epoch_plates = real * config.real_repeat + synth[: config.synth_per_epoch or len(synth)]

    model = pr.build_model(config.width)
    if init is not None:
        start = pr.load_plate_reader(init)
        if start is None:
            raise DatasetError(f"no plate reader at {init} to start from")
        model.set_weights(start.model.get_weights())
    steps = max(1, len(epoch_plates) // config.batch_size) * config.epochs
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=keras.losses.CTC())
    reader = pr.PlateReader(KerasNetwork(model), {})

    class Rows(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            exact = exact_by_source(reader, val).get("all", 0.0)
            row = EpochRow(epoch + 1, round(float(logs["loss"]), 4), exact, round(time.perf_counter() - self.start, 1))
            report.epochs.append(asdict(row))
            log(f"epoch {row.epoch}: loss {row.loss:.3f}, validation exact {row.val_exact:.1%}, {row.seconds:.0f} s")

    data = Batches(epoch_plates, config.batch_size, config.seed).data
    model.fit(data, epochs=config.epochs, verbose=0, callbacks=[Rows()])
    report.val_exact = exact_by_source(reader, val)
    report.seconds = round(time.perf_counter() - t0, 1)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # A fresh copy without the optimizer's state: the shipped file is only what reading needs.
    shipped = pr.build_model(config.width)
    shipped.set_weights(model.get_weights())
    shipped.save(out)
    metadata = {
        "format": pr.MODEL_FORMAT,
        "input": [pr.HEIGHT, pr.WIDTH],
        "steps": pr.STEPS,
        "classes": "".join(pr.VOCAB),
        "backend": keras.backend.backend(),
        "init": init.name if init is not None else None,
        **asdict(report),
    }
    pr.metadata_path(out).write_text(json.dumps(metadata, indent=1) + "\n")
    log(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB); validation exact per source {report.val_exact}")
    return report


# ---------------------------------------------------------------------------------------- command line


def register(sub) -> None:
    cmd = sub.add_parser("train-reader", help="train the whole-plate reader (CNN + CTC) and fit its combiner")
    cmd.add_argument(
        "--out", default=str(pr.DEFAULT_MODEL), help="where to write it (default models/plate_reader.keras)"
    )
    cmd.add_argument(
        "--datasets", default="../shared/datasets", help="folder of openalpr-benchmarks etc. (skipped when absent)"
    )
    cmd.add_argument("--no-store", action="store_true", help="leave out the label store's confirmed plates")
    cmd.add_argument("--epochs", type=int, default=ReaderTrainConfig.epochs)
    cmd.add_argument("--synth", type=int, default=ReaderTrainConfig.synth_plates, help="rendered plates")
    cmd.add_argument("--seed", type=int, default=0)
    cmd.add_argument("--init", default=None, help="a trained reader (.keras) to start from instead of fresh weights")
    cmd.add_argument("--no-combiner", action="store_true", help="skip fitting the combiner on the benchmark")
    cmd.set_defaults(handler=run)


def run(args) -> int:
    from alpr.errors import InputError

    if args.epochs < 1 or args.synth < 0:
        raise InputError("--epochs must be at least 1 and --synth at least 0")
    store = None
    if not args.no_store:
        from alpr.labels import LabelStore
        from alpr.paths import data_dir

        if (data_dir()).is_dir():
            store = LabelStore.open(str(data_dir().resolve()))
    datasets = Path(args.datasets)
    config = ReaderTrainConfig(epochs=args.epochs, synth_plates=args.synth, synth_per_epoch=args.synth, seed=args.seed)
    init = Path(args.init) if args.init else None
    train(Path(args.out), datasets if datasets.is_dir() else None, store, config, init=init)
    if datasets.is_dir():
        measure_holdout(Path(args.out), datasets)
    if not args.no_combiner and datasets.is_dir():
        from alpr.training.combine_fit import fit_and_store

        fit_and_store(Path(args.out), datasets / "openalpr-benchmarks")
    return 0


def measure_holdout(model: Path, datasets: Path, log=print) -> dict[str, float]:
    """The reader alone on the benchmark's hold-out (crops, and photos cut at their labeled boxes),
    exact plates per source; recorded in the metadata, never used to choose anything."""
    reader = pr.load_plate_reader(model)
    _, plates = real_plates(datasets, holdout=True)
    if reader is None or not plates:
        return {}
    exact = exact_by_source(reader, plates)
    meta_file = pr.metadata_path(model)
    meta = json.loads(meta_file.read_text())
    meta["holdout_exact"] = exact
    meta["holdout_counts"] = {s: sum(p.source == s for p in plates) for s in sorted({p.source for p in plates})}
    meta_file.write_text(json.dumps(meta, indent=1) + "\n")
    log(f"the reader alone on the hold-out, exact plates: {exact} of {meta['holdout_counts']}")
    return exact
