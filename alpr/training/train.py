"""Train the character classifier by transfer learning: read top to bottom.

    python -m alpr train --data ../shared/datasets/openalpr-benchmarks --out models/char_cnn.keras

1. pretrain: the whole network learns rendered glyphs (many fonts, heavy augmentation, plus rendered
   "not a character" crops);
2. harvest: labeled plates are segmented and, where the count fits the label, give labeled real
   crops (extra segments are aligned to "not a character" with the pretrained model);
3. fine-tune: the first block (edges and strokes, well learnt from glyphs) is frozen and the rest is
   trained on real crops mixed with some glyphs, at a lower learning rate. Steps 2-3 repeat
   `rounds` times, each harvest using the latest model.

Files whose name hashes into the hold-out fifth (`alpr.data.is_holdout`) never train: their crops
are the validation set, and `alpr eval --holdout` reads only those photos.
Every metric line has the fixed format `stage S epoch E/N loss L acc A val_loss VL val_acc VA lr LR
samples/s R` so that scripts and the app can parse it.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from alpr.classify import MODEL_FORMAT, build_model, metadata_path
from alpr.framework import describe_device, quiet_tensorflow
from alpr.types import ALL_CLASSES, REJECT


@dataclass
class TrainConfig:
    out: str = "models/char_cnn.keras"  # where the model goes; metadata JSON is written beside it
    data: list[str] = field(default_factory=list)  # labeled folders (benchmark layout) for real crops
    base: str | None = None  # start from this .keras model instead of pretraining on glyphs
    backbone: str = "small"  # "small" (own CNN) or an ImageNet backbone with local --weights
    weights: str | None = None  # ImageNet weights file, or "imagenet" for the Keras cache
    input_size: int = 32
    glyphs_per_class: int = 1200  # pretraining set: 37 classes x 1200 ~ 44k rendered crops
    finetune_glyphs_per_class: int = 150  # glyphs mixed into fine-tuning so rare classes are not forgotten
    pretrain_epochs: int = 8
    finetune_epochs: int = 12
    rounds: int = 2  # harvest + fine-tune repetitions
    batch_size: int = 128
    lr: float = 2e-3  # Adam; cosine decay to 0 over each stage
    finetune_lr: float = 5e-4  # lower: the pretrained features must move, not be relearnt
    real_weight: int = 3  # each real crop appears this many times per fine-tune epoch (augmented)
    seed: int = 0
    ocr_data: str | None = (
        None  # an openalpr-train-ocr folder: its real crops join fine-tuning (alpr/training/recipe.py)
    )
    plate_data: list[str] = field(default_factory=list)  # plate-crop folders split by plate text, harvested each round
    ocr_sources: list[str] = field(
        default_factory=list
    )  # only these --ocr-data sources ("br", "gb", "eu-belgium", ...); empty: all
    workers: int = max(1, min(4, os.cpu_count() or 1))


def main(cfg: TrainConfig) -> dict:
    quiet_tensorflow()
    import keras

    keras.utils.set_random_seed(cfg.seed)
    started = time.time()
    device = describe_device()
    print(f"device {device}", flush=True)
    history: list[dict] = []

    # ---- 1. pretrain on rendered glyphs (or start from a given model) ----
    # Rendered validation glyphs: the pretraining's yardstick, and the fine-tuning's when the data
    # has no held-out plates (a small dataset of a user's own).
    xv, yv = render_glyphs(max(20, cfg.glyphs_per_class // 10), cfg.input_size, cfg.seed + 1, cfg.workers)
    if cfg.base:
        model = keras.saving.load_model(cfg.base, compile=False, safe_mode=True)
        print(f"base {cfg.base}", flush=True)
    else:
        model = build_model(len(ALL_CLASSES), cfg.input_size, cfg.backbone, cfg.weights)
        x, y = render_glyphs(cfg.glyphs_per_class, cfg.input_size, cfg.seed, cfg.workers)
        print(f"glyphs train {len(y)} val {len(yv)}", flush=True)
        history += fit(model, "pretrain", x, y, xv, yv, cfg.pretrain_epochs, cfg.lr, cfg)

    # ---- 2-3. harvest real crops, fine-tune; repeat ----
    counts = {"real_train": 0, "real_val": 0, "plates_train": 0, "plates_val": 0}
    val_report: dict = {}
    if cfg.data:
        from alpr.data import harvest_crops, is_holdout, read_dataset

        items = [it for d in cfg.data for it in read_dataset(d)]
        train_items = [it for it in items if not is_holdout(it)]
        val_items = [it for it in items if is_holdout(it)]
        xg, yg = render_glyphs(cfg.finetune_glyphs_per_class, cfg.input_size, cfg.seed + 2, cfg.workers)
        from alpr.training.recipe import ExtraCrops

        extra = ExtraCrops(cfg.ocr_data, cfg.plate_data, cfg.input_size, cfg.ocr_sources)
        for round_no in range(1, cfg.rounds + 1):
            classifier = _as_classifier(model, cfg)
            tr = harvest_crops(train_items, classifier, progress=_progress(f"harvest round {round_no} train"))
            va = harvest_crops(val_items, classifier, progress=_progress(f"harvest round {round_no} val"))
            print(
                f"harvest round {round_no} train crops {len(tr.labels)} from {tr.plates_used} plates "
                f"({tr.aligned} aligned, {tr.plates_skipped} skipped) val crops {len(va.labels)} from {va.plates_used} plates",
                flush=True,
            )
            if not tr.labels:
                print(f"harvest round {round_no} gave no real crops to train on; fine-tuning skipped", flush=True)
                break
            xr, yr = np.stack(tr.images), np.array(tr.labels)
            xe, ye, extra_counts = extra.round(classifier, progress=_progress(f"harvest round {round_no} plate-data"))
            print(f"extra real crops round {round_no} {extra_counts}", flush=True)
            x = np.concatenate([np.repeat(xr, cfg.real_weight, axis=0), xg, xe.reshape(-1, *xg.shape[1:])])
            y = np.concatenate([np.repeat(yr, cfg.real_weight), yg, ye])
            if va.labels:
                xv, yv = np.stack(va.images), np.array(va.labels)
            else:
                print("no held-out plates in the data: validating on rendered glyphs", flush=True)
            _freeze_first_block(model)
            history += fit(model, f"finetune{round_no}", x, y, xv, yv, cfg.finetune_epochs, cfg.finetune_lr, cfg)
            counts = {
                "real_train": len(yr),
                "real_val": len(yv),
                "plates_train": tr.plates_used,
                "plates_val": va.plates_used,
                "glyphs_finetune": len(yg),
                **extra_counts,
            }
    val_report = per_class_accuracy(model, xv, yv)
    if cfg.data and extra.sources:
        val_report["ocr_sources_holdout"] = extra.report(_as_classifier(model, cfg))

    # ---- save: model, then metadata beside it (the config that made it included) ----
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # A weights-only copy: the optimizer's state would triple the file and is not needed to read plates.
    shipped = keras.models.clone_model(model)
    shipped.set_weights(model.get_weights())
    for layer in shipped.layers:
        layer.trainable = True
    tmp = out.with_name(out.stem + ".tmp.keras")
    shipped.save(tmp)
    os.replace(tmp, out)
    meta = {
        "format": MODEL_FORMAT,
        "version": datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S"),
        "classes": list(ALL_CLASSES),
        "input_size": cfg.input_size,
        "backbone": cfg.backbone,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m alpr train " + " ".join(shlex.quote(a) for a in sys.argv[2:]),
        "config": asdict(cfg),
        "device": device,
        "duration_s": round(time.time() - started, 1),
        "data": {"glyphs_pretrain": cfg.glyphs_per_class * len(ALL_CLASSES) if not cfg.base else 0, **counts},
        "validation": val_report,
        "history": history,
    }
    tmp_meta = metadata_path(out).with_suffix(".json.tmp")
    tmp_meta.write_text(json.dumps(meta, indent=1))
    os.replace(tmp_meta, metadata_path(out))
    print(f"saved {out} val_acc {val_report['accuracy']:.4f} in {meta['duration_s']} s", flush=True)
    return meta


def fit(model, stage: str, x, y, xv, yv, epochs: int, lr: float, cfg: TrainConfig) -> list[dict]:
    """Train one stage with cosine-decayed Adam and augmentation, printing one fixed line per epoch."""
    import keras

    from alpr.training.batches import make_dataset

    steps = max(1, int(np.ceil(len(y) / cfg.batch_size)))
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=steps * epochs)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    # Keras 3 batches (no tf.data), so the full pipeline trains under any KERAS_BACKEND too.
    train = make_dataset(x, y.astype(np.int32), cfg.batch_size, cfg.seed)
    val = (xv[..., None].astype(np.float32), yv.astype(np.int32))
    rows: list[dict] = []

    class Lines(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.time()

        def on_epoch_end(self, epoch, logs=None):
            dt = time.time() - self.t0
            lr_now = float(schedule(model.optimizer.iterations))
            row = {
                "stage": stage,
                "epoch": epoch + 1,
                "epochs": epochs,
                "loss": float(logs["loss"]),
                "acc": float(logs["accuracy"]),
                "val_loss": float(logs["val_loss"]),
                "val_acc": float(logs["val_accuracy"]),
                "lr": lr_now,
                "samples_per_s": len(y) / dt,
            }
            rows.append(row)
            print(
                f"stage {stage} epoch {epoch + 1}/{epochs} loss {row['loss']:.4f} acc {row['acc']:.4f} "
                f"val_loss {row['val_loss']:.4f} val_acc {row['val_acc']:.4f} lr {lr_now:.2e} "
                f"samples/s {row['samples_per_s']:.0f}",
                flush=True,
            )

    model.fit(train, validation_data=val, validation_batch_size=512, epochs=epochs, verbose=0, callbacks=[Lines()])
    return rows


def render_glyphs(per_class: int, size: int, seed: int, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` augmented renders of every class, in parallel processes."""
    jobs = [(cls, per_class, size, seed * 1000 + i) for i, cls in enumerate(ALL_CLASSES)]
    if workers > 1:
        with mp.get_context("spawn").Pool(workers) as pool:
            parts = pool.map(_render_class, jobs)
    else:
        parts = [_render_class(j) for j in jobs]
    x = np.concatenate([p for p, _ in parts])
    y = np.concatenate([l for _, l in parts])
    return x, y


def _render_class(job) -> tuple[np.ndarray, np.ndarray]:
    from alpr.synth import render_glyph

    cls, n, size, seed = job
    rng = np.random.default_rng(seed)
    images = np.stack([render_glyph(cls, rng, size) for _ in range(n)])
    return images, np.full(n, ALL_CLASSES.index(cls), dtype=np.int32)


def per_class_accuracy(model, x, y) -> dict:
    probs = np.asarray(model.predict(x[..., None], batch_size=512, verbose=0))
    pred = probs.argmax(1)
    per_class = {}
    for i, cls in enumerate(ALL_CLASSES):
        mask = y == i
        if mask.any():
            per_class[cls] = {"n": int(mask.sum()), "accuracy": round(float((pred[mask] == i).mean()), 4)}
    return {"accuracy": round(float((pred == y).mean()), 4), "n": int(len(y)), "per_class": per_class}


def _freeze_first_block(model) -> None:
    features = model.get_layer("features")
    for layer in features.layers:
        layer.trainable = not layer.name.startswith("block1")


def _as_classifier(model, cfg: TrainConfig):
    from alpr.classify import CharClassifier, ModelInfo
    from alpr.runtime import KerasNetwork

    info = ModelInfo(Path(cfg.out), "training", ALL_CLASSES, cfg.input_size, {})
    return CharClassifier(KerasNetwork(model), info)


def _progress(label: str):
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.time()
        if now - last[0] > 5 or done == total - 1:
            last[0] = now
            print(f"{label} {done + 1}/{total}", flush=True)

    return report


__all__ = ["TrainConfig", "main", "REJECT"]
