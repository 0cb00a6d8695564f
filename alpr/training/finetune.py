"""Fine-tune the character model on the label store and register it as a new version.

    python -m alpr train [--epochs N] [--data-dir D] [--base VERSION] [--dataset DIR] [--activate]
    python -m alpr train --resume RUN_ID

This is the job the Train page starts, in its own process. Read top to bottom:

1. take the one-run lock of the data folder and make the run folder (see `alpr.jobs`);
2. start from a base: the active model (default), any registry version, a network pretrained here
   on rendered glyphs, or an ImageNet backbone when its weights are on disk;
3. gather data: the label store's person and import labels, exported datasets and labeled plate
   folders, and rendered glyphs (so classes nobody corrected are not forgotten). A stable hash of
   each crop's pixels holds a fifth of the real crops out: they, and rendered glyphs of their own,
   are the validation set and never train. The arrays are frozen in the run folder;
4. train in stages with transfer learning: `head` (the feature layers frozen), then `top` (the last
   convolution block unfrozen, at a lower learning rate). On a GPU: mixed precision, a tf.data
   pipeline with prefetch, and MirroredStrategy across several GPUs. After every epoch: metrics to
   metrics.jsonl and TensorBoard, a checkpoint, and early stopping on the validation loss;
5. compare the best epoch with the model active now on the same validation set, register the
   result as a new version (status "accepted", or "rejected" when it reads worse), and activate it
   only when asked and accepted.

A cancelled (SIGTERM), failed or killed run registers nothing and never touches the active model;
a killed one resumes from its last checkpoint with `--resume`.
"""
from __future__ import annotations

import json
import math
import os
import shlex
import signal
import sys
import time
import traceback
import zlib
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from alpr import paths
from alpr.training import jobs, registry
from alpr.errors import AlprError, DatasetError, ModelError
from alpr.types import ALL_CLASSES

BASES = ("active", "glyphs", "imagenet")  # besides registry version names and .keras paths
PARTS = ("store", "datasets", "glyphs", "replay")  # where a validation crop came from
VAL_MODULUS = 5  # one crop in five (by pixel hash) is held out
# Replay: crops the app stored with the model's guess and nobody labeled train towards the base
# model's own probabilities for them (distillation, soft targets), so that fixing a few characters
# does not unlearn, or unsettle the confidence of, the many it already reads right: the plate
# assembler ranks strings by those probabilities (measured by scripts/learning_loop.py).
REPLAY_SCAN = 60000  # unlabeled crops read from the store at most
# Held-out replay crops check that the run did not unlearn what the base model read; only those it
# read at least this sure of are kept as answers, since a crop it hesitated on proves nothing.
REPLAY_VAL_MIN_CONF = 0.9
PRETRAIN_LR = 2e-3  # base "glyphs": a new network learns from scratch (as `alpr.train` pretrains)


@dataclass
class JobConfig:
    """The options of one fine-tuning run; saved in its config.json so a resume repeats them."""

    data_dir: str = ""  # the data folder (label store, registry, runs); "" means $ALPR_DATA_DIR or ./data
    base: str = "active"  # active | shipped | vN | glyphs | imagenet | a .keras path
    backbone: str = "small"  # for base "glyphs" (small) and "imagenet" (mobilenet_v2, inception_v3)
    weights: str | None = None  # ImageNet weights file, or "imagenet" for the Keras cache
    use_store: bool = True  # the label store's person and import labels
    replay: bool = True  # also the store's unlabeled crops that the base model reads confidently, as it reads them
    replay_max: int = 4000
    datasets: list[str] = field(default_factory=list)  # exports (a folder per class) and labeled plate folders
    glyphs_per_class: int = 40  # rendered glyphs mixed in so untouched classes are not forgotten
    pretrain_glyphs_per_class: int = 300  # base "glyphs": the pretraining set
    pretrain_epochs: int = 4  # base "glyphs": epochs of the whole network on glyphs
    epochs: int = 4  # stage "head": feature layers frozen
    unfreeze_epochs: int = 2  # stage "top": the last block unfrozen too (0 skips it)
    # A trained head is close to where it should be: 3e-4 fixes corrections without unlearning the
    # rest, where 1e-3 lost 1-2 points on untouched crops (scripts/learning_loop.py).
    lr: float = 3e-4
    unfreeze_lr: float = 3e-5  # lower still: the pretrained features should move, not be relearnt
    batch_size: int = 64
    patience: int = 3  # epochs without a better validation loss before a stage stops early
    real_weight: int = 0  # each labeled real crop appears this many times per epoch (augmented); 0: see _repeats
    # A correction (a label that differs from what the model read) appears this many times as often
    # as a confirmed label. 1 by default: on the benchmark 3 fixed 26% of the corrections trained on
    # instead of 15% but cost 0.6 points on untouched crops (scripts/learning_loop.py, README).
    correction_weight: int = 1
    seed: int = 0
    activate: bool = False  # make the new version active if it is not worse than the active one

    @classmethod
    def from_dict(cls, values: dict) -> "JobConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass
class Stage:
    name: str
    epochs: int
    lr: float
    trainable: str  # "all", "head" or "top"


class Cancelled(Exception):
    """SIGTERM or SIGINT arrived: stop, register nothing."""


# ------------------------------------------------------------------------------------ the job

def run(cfg: JobConfig, run_id: str | None = None, resume: str | None = None, argv: list[str] | None = None) -> dict:
    """Run (or resume) one fine-tuning job to its end; returns its final status. Raises AlprError
    subclasses with one-line messages (busy data folder, bad option, failed run)."""
    folder = paths.data_dir(cfg.data_dir or None).resolve()
    if resume:
        run_dir = jobs.runs_dir(folder) / resume
        saved = jobs.read_json(run_dir / "config.json")
        if not run_dir.is_dir() or not saved:
            raise jobs.JobError(f"no training run {resume!r} to resume in {jobs.runs_dir(folder)}")
        cfg = JobConfig.from_dict(saved["job"])
        cfg.data_dir = str(folder)
        run_id = resume
    else:
        run_id = run_id or jobs.new_run_id()
        run_dir = jobs.runs_dir(folder) / run_id
        cfg.data_dir = str(folder)
    if resume:
        status = jobs.read_json(run_dir / "status.json", {}) or {}
        if status.get("state") in jobs.FINAL_STATES:
            raise jobs.JobError(f"run {resume} already ended ({status['state']}); start a new run instead")
    lock = jobs.TrainLock(folder)
    try:
        lock.acquire(run_id)
    except jobs.JobError as exc:
        if run_dir.is_dir() and not resume:  # launched by the app: say why on the page
            jobs.update_status(run_dir, state="failed", ended=_now(), message=str(exc))
        raise
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        registry.clean_temporary(folder)
        log = Log(run_dir / "log.txt")
        command = "python -m alpr train " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[2:]))
        if not resume:
            jobs.write_json(run_dir / "config.json", {"run_id": run_id, "created": _now(), "command": command, "job": asdict(cfg)})
        prior = jobs.read_json(run_dir / "status.json", {}) or {}
        jobs.update_status(
            run_dir, state="running", pid=os.getpid(), run_id=run_id, started=prior.get("started") or _now(),
            launched=prior.get("launched") or _now(), resumed=bool(resume), message=None,
        )
        log(f"run {run_id} {'resumed' if resume else 'started'} in {run_dir}")
        guard = _SignalGuard()
        try:
            result = Trainer(cfg, run_dir, log, guard, resume=bool(resume), command=command).run()
        except Cancelled:
            log("cancelled: nothing was registered, the active model is unchanged")
            return jobs.update_status(run_dir, state="cancelled", ended=_now(),
                                      message="cancelled; nothing was registered and the active model is unchanged")
        finally:
            guard.restore()
        return jobs.update_status(run_dir, ended=_now(), **result)
    except Exception as exc:
        message = str(exc) if isinstance(exc, AlprError) else f"{type(exc).__name__}: {exc}"
        try:
            with open(run_dir / "log.txt", "a") as fh:
                fh.write(f"failed: {message}\n")
                if not isinstance(exc, AlprError):
                    fh.write(traceback.format_exc())
            jobs.update_status(run_dir, state="failed", ended=_now(), message=message)
        except OSError:
            pass
        if isinstance(exc, AlprError):
            raise
        raise jobs.JobError(f"training run {run_id} failed ({message}); see {run_dir / 'log.txt'}") from exc
    finally:
        lock.release()


class Log:
    """Print a line and keep it in the run's log.txt."""

    def __init__(self, path: Path):
        self.path = path

    def __call__(self, line: str) -> None:
        print(line, flush=True)
        with open(self.path, "a") as fh:
            fh.write(line + "\n")


class _SignalGuard:
    """SIGTERM / SIGINT ask the run to stop: inside `fit` at the end of the current batch, anywhere
    else at once. While the result is being registered nothing interrupts it."""

    def __init__(self):
        self.requested = False
        self.in_fit = False
        self.committing = False
        self._old = {s: signal.signal(s, self._handle) for s in (signal.SIGTERM, signal.SIGINT)}

    def _handle(self, signum, frame) -> None:
        self.requested = True
        if not self.in_fit and not self.committing:
            raise Cancelled()

    def check(self) -> None:
        if self.requested and not self.committing:
            raise Cancelled()

    def restore(self) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)


# --------------------------------------------------------------------------------- the trainer

class Trainer:
    def __init__(self, cfg: JobConfig, run_dir: Path, log: Log, guard: _SignalGuard, resume: bool, command: str):
        self.cfg, self.run_dir, self.log, self.guard, self.resume, self.command = cfg, run_dir, log, guard, resume, command
        self.folder = Path(cfg.data_dir)

    # ---- 1. device and base model ----
    def run(self) -> dict:
        from alpr.classify import describe_device, quiet_tensorflow

        quiet_tensorflow()
        import keras
        import tensorflow as tf

        cfg, log = self.cfg, self.log
        self.t_start = time.time()
        keras.utils.set_random_seed(cfg.seed)
        gpus = tf.config.list_physical_devices("GPU")
        self.device = describe_device()
        log(f"device {self.device}")
        if gpus:
            # float16 compute with float32 weights: about twice the throughput on tensor cores.
            keras.mixed_precision.set_global_policy("mixed_float16")
            log(f"mixed precision float16 on {len(gpus)} GPU(s)")
        else:
            log("no GPU: training on the CPU with the same code, slower")
        self.strategy = tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
        self.replicas = self.strategy.num_replicas_in_sync

        with self.strategy.scope():
            model, parent, backbone, harvest_classifier = self._base_model()
        self.guard.check()
        size = int(model.input_shape[1])

        # ---- 2. data (frozen in the run folder at the start; a resume reads the same arrays) ----
        data = self._data(size, harvest_classifier)
        self.guard.check()
        x_real_tr = np.concatenate([data["x_store_tr"], data["x_ds_tr"]])
        y_real_tr = np.concatenate([data["y_store_tr"], data["y_ds_tr"]])
        repeats = _repeats(len(y_real_tr), len(data["y_rep"]) + len(data["y_gl_tr"]), cfg.real_weight)
        per_crop = _per_crop(len(y_real_tr), data["c_store_tr"], repeats, cfg.correction_weight)
        x_train = np.concatenate([np.repeat(x_real_tr, per_crop, axis=0), data["x_rep"], data["x_gl_tr"]])
        # Targets are probability vectors: one-hot for labels and glyphs, the base model's for replay.
        y_train = np.concatenate([_one_hot(np.repeat(y_real_tr, per_crop)), _soft(data["y_rep"]), _one_hot(data["y_gl_tr"])])
        x_val = np.concatenate([data["x_store_va"], data["x_ds_va"], data["x_gl_va"], data["x_rv"]])
        y_val = np.concatenate([data["y_store_va"], data["y_ds_va"], data["y_gl_va"], data["y_rv"]])
        parts = np.concatenate([np.full(len(data["y_store_va"]), 0), np.full(len(data["y_ds_va"]), 1),
                                np.full(len(data["y_gl_va"]), 2), np.full(len(data["y_rv"]), 3)])
        counts = {
            "store_train": int(len(data["y_store_tr"])), "store_val": int(len(data["y_store_va"])),
            "corrections_train": int(data["c_store_tr"].sum()),
            "datasets_train": int(len(data["y_ds_tr"])), "datasets_val": int(len(data["y_ds_va"])),
            "replay": int(len(data["y_rep"])), "replay_val": int(len(data["y_rv"])),
            "glyphs_train": int(len(data["y_gl_tr"])), "glyphs_val": int(len(data["y_gl_va"])),
            "pretrain_glyphs": int(len(data["y_pre"])), "labeled_repeats": int(repeats),
            "train_samples_per_epoch": int(len(y_train)),
            "last_label_id": int(data["last_label_id"]),
        }
        log("data " + " ".join(f"{k} {v}" for k, v in counts.items()))
        if not len(y_real_tr):
            log("note: no labeled real crops to train on (label some on the Relabel page); this run learns rendered glyphs only")

        # ---- 3. stages ----
        stages = []
        if cfg.base == "glyphs":
            stages.append(Stage("pretrain", cfg.pretrain_epochs, PRETRAIN_LR, "all"))
        stages.append(Stage("head", cfg.epochs, cfg.lr, "head"))
        if cfg.unfreeze_epochs:
            stages.append(Stage("top", cfg.unfreeze_epochs, cfg.unfreeze_lr, "top"))
        state = self._load_checkpoint(model) if self.resume else None
        state = state or {"stage": 0, "epoch": 0, "best_val_loss": None, "since_best": 0, "elapsed_s": 0.0,
                          "global_epoch": 0}
        if self.resume:
            self._trim_metrics(state["global_epoch"])
            log(f"resuming at stage {stages[min(state['stage'], len(stages) - 1)].name} "
                f"epoch {state['epoch'] + 1} (after {state['global_epoch']} finished epochs)")
        self.elapsed_before = float(state.get("elapsed_s", 0.0))
        if not self.resume or "active_val_accuracy" not in (jobs.read_json(self.run_dir / "status.json", {}) or {}):
            # The line to beat, drawn under the curves while the run lasts (compared again at the end).
            try:
                clf, version, _ = registry.load_active(self.folder)
                before = _evaluate(clf.probabilities(x_val) if len(x_val) else np.zeros((0, len(ALL_CLASSES))), y_val, parts)
                jobs.update_status(self.run_dir, active_val_accuracy=before["accuracy"], compared_with=version.name)
                log(f"active model {version.name} on this validation set: {before['accuracy']:.4f}")
            except ModelError as exc:
                log(f"note: no active model to compare with ({exc})")
        total_epochs = sum(s.epochs for s in stages)
        writer = _TensorBoard(self.run_dir / "tensorboard")
        epoch_times: list[float] = []

        for si, stage in enumerate(stages):
            if si < state["stage"]:
                continue
            start = state["epoch"] if si == state["stage"] else 0
            if si > state["stage"]:
                state.update(stage=si, epoch=0, since_best=0)
            if start >= stage.epochs:
                continue
            x_fit, y_fit = (data["x_pre"], _one_hot(data["y_pre"])) if stage.name == "pretrain" else (x_train, y_train)
            with self.strategy.scope():
                _set_trainable(model, stage.trainable, backbone)
                model.compile(optimizer=keras.optimizers.Adam(stage.lr),
                              loss=keras.losses.CategoricalCrossentropy(), metrics=["categorical_accuracy"])
            train_ds = _dataset(x_fit, y_fit, cfg.batch_size * self.replicas, cfg.seed + si, gpus)
            trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
            log(f"training stage {stage.name}: {stage.epochs} epochs at lr {stage.lr:.1e}, {trainable:,} trainable weights, "
                f"{len(y_fit)} samples per epoch")
            for epoch in range(start, stage.epochs):
                t0 = time.time()
                lr = _cosine(stage.lr, epoch, stage.epochs)
                model.optimizer.learning_rate.assign(lr)
                self.guard.in_fit = True
                try:
                    hist = model.fit(train_ds, epochs=1, verbose=0, shuffle=False,  # tf.data shuffles
                                     callbacks=[_stop_on_signal(self.guard)])
                finally:
                    self.guard.in_fit = False
                fit_s = time.time() - t0
                self.guard.check()
                ev = _evaluate(_predict(model, x_val), y_val, parts)
                self.guard.check()
                epoch_times.append(time.time() - t0)
                state["global_epoch"] += 1
                done = state["global_epoch"]
                improved = state["best_val_loss"] is None or ev["loss"] < state["best_val_loss"] - 1e-6
                remaining = total_epochs - done
                row = {
                    "stage": stage.name, "epoch": epoch + 1, "epochs": stage.epochs,
                    "global_epoch": done, "total_epochs": total_epochs,
                    "loss": float(hist.history["loss"][-1]), "acc": float(hist.history["categorical_accuracy"][-1]),
                    "val_loss": ev["loss"], "val_acc": ev["accuracy"], "val_parts": ev["parts"],
                    "lr": float(lr), "samples_per_s": len(y_fit) / max(fit_s, 1e-9), "epoch_s": round(epoch_times[-1], 2),
                    "eta_s": round(remaining * float(np.mean(epoch_times[-3:])), 1),
                    "elapsed_s": round(self.elapsed_before + time.time() - self.t_start, 1),
                    "best": bool(improved), "per_class": ev["per_class"], "confusion": ev["confusion"],
                    "time": _now(),
                }
                # Checkpoint first, then the metrics line, then the state that points at both:
                # a kill between any two leaves a consistent run that resumes at most one epoch back.
                _save_weights(model, self.run_dir / "checkpoint.weights.h5")
                if improved:
                    _save_weights(model, self.run_dir / "best.weights.h5")
                    state["best_val_loss"], state["since_best"], state["best_epoch"] = ev["loss"], 0, done
                else:
                    state["since_best"] += 1
                with open(self.run_dir / "metrics.jsonl", "a") as fh:
                    fh.write(json.dumps(row) + "\n")
                writer.epoch(row)
                state.update(stage=si, epoch=epoch + 1, elapsed_s=row["elapsed_s"])
                jobs.write_json(self.run_dir / "checkpoint.json", state)
                log(
                    f"stage {stage.name} epoch {epoch + 1}/{stage.epochs} loss {row['loss']:.4f} acc {row['acc']:.4f} "
                    f"val_loss {row['val_loss']:.4f} val_acc {row['val_acc']:.4f} lr {lr:.2e} "
                    f"samples/s {row['samples_per_s']:.0f}"
                )
                if state["since_best"] >= cfg.patience and epoch + 1 < stage.epochs:
                    log(f"early stop: validation loss not better for {cfg.patience} epochs")
                    total_epochs -= stage.epochs - (epoch + 1)
                    state["epoch"] = stage.epochs
                    jobs.write_json(self.run_dir / "checkpoint.json", state)
                    break
            # The next stage (and the result) starts from the best epoch so far.
            _load_weights(model, self.run_dir / "best.weights.h5")
        writer.close()
        _load_weights(model, self.run_dir / "best.weights.h5")

        # ---- 4. compare with the active model, register, maybe activate ----
        self.guard.check()
        new_eval = _evaluate(_predict(model, x_val), y_val, parts)
        try:
            active_clf, active_version, warning = registry.load_active(self.folder)
            if warning:
                log(f"note: {warning}")
            active_eval = _evaluate(active_clf.probabilities(x_val) if len(x_val) else np.zeros((0, len(ALL_CLASSES))), y_val, parts)
            against = active_version.name
        except ModelError as exc:
            log(f"note: no active model to compare with ({exc})")
            active_eval, against = None, None
        accepted = active_eval is None or new_eval["correct"] >= active_eval["correct"]
        log(
            f"validation: new {new_eval['accuracy']:.4f} ({new_eval['correct']}/{new_eval['n']})"
            + (f", active {against} {active_eval['accuracy']:.4f} ({active_eval['correct']}/{active_eval['n']})" if active_eval else "")
            + (" -> accepted" if accepted else " -> rejected: it reads the validation set worse than the active model")
        )
        self.guard.check()
        self.guard.committing = True  # from here on a SIGTERM waits: the version is written whole or not at all
        duration = round(self.elapsed_before + time.time() - self.t_start, 1)
        history = [{k: v for k, v in r.items() if k not in ("confusion", "per_class")} for r in self._metrics()]
        hyper = {k: getattr(self.cfg, k) for k in (
            "base", "backbone", "epochs", "unfreeze_epochs", "lr", "unfreeze_lr", "batch_size", "patience",
            "glyphs_per_class", "real_weight", "seed", "use_store", "replay", "datasets")}
        metadata = {
            "classes": list(ALL_CLASSES),
            "input_size": size,
            "backbone": backbone,
            "created": _now(),
            "command": self.command,
            "config": asdict(self.cfg),
            "device": self.device,
            "duration_s": duration,
            "data": counts,
            "validation": _public(new_eval),
            "history": history,
            "registry": {
                "parent": parent,
                "status": registry.STATUS_ACCEPTED if accepted else registry.STATUS_REJECTED,
                "run_id": self.run_dir.name,
                "hyperparameters": hyper,
                "metrics": {f"val_accuracy_{PARTS[i]}": p["accuracy"] for i, p in enumerate(new_eval["parts_list"]) if p},
                "comparison": {
                    "against": against,
                    "new": {"accuracy": new_eval["accuracy"], "correct": new_eval["correct"], "n": new_eval["n"], "parts": new_eval["parts"]},
                    "active": None if active_eval is None else {
                        "accuracy": active_eval["accuracy"], "correct": active_eval["correct"], "n": active_eval["n"],
                        "parts": active_eval["parts"], "per_class": active_eval["per_class"],
                    },
                },
            },
        }
        version = registry.register(lambda path: _save_float32(model, path, backbone), metadata, self.folder)
        log(f"registered {version.name} ({version.status}) in {version.path.parent}")
        if accepted and counts["store_train"] + counts["store_val"] and self.cfg.use_store:
            try:
                from alpr.labels.store import LabelStore

                with LabelStore.open(self.folder) as store:
                    store.mark_trained(version.name, counts["last_label_id"])
            except AlprError as exc:
                log(f"note: could not record the training in the label store ({exc})")
        activated = False
        if accepted and self.cfg.activate:
            registry.activate(version.name, self.folder, by=f"run {self.run_dir.name}")
            activated = True
            log(f"activated {version.name}")
        elif self.cfg.activate:
            log(f"not activated: {version.name} is worse than {against} on the validation set")
        message = (
            f"{version.name} registered"
            + (" and activated" if activated else "")
            + f": validation accuracy {new_eval['accuracy']:.1%}"
            + (f" vs {active_eval['accuracy']:.1%} for {against}" if active_eval else "")
            + ("" if accepted else "; rejected because it is worse, so it was not activated")
        )
        log(f"done in {duration} s: {message}")
        return {
            "state": "succeeded" if accepted else "rejected", "version": version.name, "activated": activated,
            "val_accuracy": new_eval["accuracy"], "active_val_accuracy": active_eval["accuracy"] if active_eval else None,
            "compared_with": against, "duration_s": duration, "message": message,
        }

    def _base_model(self):
        """(keras model, parent name, backbone, classifier for harvesting plate folders)."""
        import keras

        from alpr.classify import build_model, load_classifier

        cfg = self.cfg
        if cfg.base == "glyphs":
            model = build_model(len(ALL_CLASSES), 32, "small")
            self.log("base: a new small CNN, pretrained here on rendered glyphs")
            return model, "glyphs", "small", None
        if cfg.base == "imagenet":
            model = build_model(len(ALL_CLASSES), 32, cfg.backbone, cfg.weights)
            self.log(f"base: ImageNet {cfg.backbone} with a new head")
            return model, f"imagenet:{cfg.backbone}", cfg.backbone, None
        if cfg.base == "active":
            clf, version, warning = registry.load_active(self.folder)
            if warning:
                self.log(f"note: {warning}")
            parent = version.name
        else:
            try:
                version = registry.get(cfg.base, self.folder)
                path, parent = version.path, version.name
            except registry.RegistryError:
                if not Path(cfg.base).is_file():
                    raise
                path, parent = Path(cfg.base), str(cfg.base)
            clf = load_classifier(path)
        self.log(f"base: {parent} ({clf.info.path})")
        # A fresh copy to train (the loaded one stays as it is, for harvesting and comparing).
        model = keras.saving.load_model(clf.info.path, compile=False, safe_mode=True)
        backbone = clf.info.metadata.get("backbone", "small")
        if keras.mixed_precision.global_policy().name != "float32":
            model = _with_dtype(model, keras.mixed_precision.global_policy().name)
        return model, parent, backbone, clf

    # ---- data ----
    def _data(self, size: int, classifier) -> dict:
        path = self.run_dir / "data.npz"
        if self.resume and path.is_file():
            with np.load(path) as z:
                data = {k: (z[k].astype(np.float32) / 255.0 if k.startswith("x_") else z[k]) for k in z.files}
            data["last_label_id"] = int(data["last_label_id"])
            data.setdefault("x_rep", np.zeros((0, size, size), np.float32))
            data.setdefault("y_rep", np.zeros((0, len(ALL_CLASSES)), np.float32))
            data.setdefault("c_store_tr", np.zeros(len(data["y_store_tr"]), bool))  # runs from before corrections counted
            data.setdefault("x_rv", np.zeros((0, size, size), np.float32))  # runs from before replay validated
            data.setdefault("y_rv", np.zeros((0,), np.int64))
            self.log(f"data: the run's frozen arrays ({path.name})")
            return data
        cfg = self.cfg
        empty_x, empty_y = np.zeros((0, size, size), np.float32), np.zeros((0,), np.int64)
        data = {"last_label_id": 0}
        x, y, fixed = empty_x, empty_y, np.zeros(0, bool)
        data["x_rep"], data["y_rep"] = empty_x, np.zeros((0, len(ALL_CLASSES)), np.float32)
        if cfg.use_store:
            from alpr.labels.store import LabelStore

            with LabelStore.open(self.folder) as store:
                data["last_label_id"] = store.last_label_id()  # before reading: later labels stay pending
                x, y, fixed = store.training_set(size)
                unlabeled = store.review_queue(limit=REPLAY_SCAN, status="unreviewed") if cfg.replay else []
            self.log(f"label store: {len(y)} labeled characters, {len(unlabeled)} unlabeled")
            if unlabeled:
                data["x_rep"], data["y_rep"] = self._replay(unlabeled, size, classifier)
        data["x_rep"], data["y_rep"], data["x_rv"], data["y_rv"] = _split_replay(data["x_rep"], data["y_rep"])
        val = held_out(x)
        data.update(x_store_tr=x[~val], y_store_tr=y[~val], c_store_tr=fixed[~val], x_store_va=x[val], y_store_va=y[val])
        xs_tr, ys_tr, xs_va, ys_va = [empty_x], [empty_y], [empty_x], [empty_y]
        for folder in cfg.datasets:
            (xt, yt), (xv, yv) = read_training_folder(folder, size, classifier, self.log)
            xs_tr.append(xt), ys_tr.append(yt), xs_va.append(xv), ys_va.append(yv)
            self.guard.check()
        data.update(x_ds_tr=np.concatenate(xs_tr), y_ds_tr=np.concatenate(ys_tr),
                    x_ds_va=np.concatenate(xs_va), y_ds_va=np.concatenate(ys_va))
        data["x_gl_tr"], data["y_gl_tr"] = _glyphs(cfg.glyphs_per_class, size, cfg.seed + 2)
        data["x_gl_va"], data["y_gl_va"] = _glyphs(max(2, cfg.glyphs_per_class // 4), size, cfg.seed + 3)
        if cfg.base == "glyphs":
            data["x_pre"], data["y_pre"] = _glyphs(cfg.pretrain_glyphs_per_class, size, cfg.seed + 1)
        else:
            data["x_pre"], data["y_pre"] = empty_x, empty_y
        # Quantized to 8 bits (as the store keeps crops) and used quantized, so a resume sees the same pixels.
        for k in list(data):
            if k.startswith("x_"):
                data[k] = np.round(np.clip(data[k], 0, 1) * 255).astype(np.uint8)
        tmp = self.run_dir / "data.tmp.npz"
        np.savez(tmp, **{k: (np.asarray(v) if k != "last_label_id" else np.int64(v)) for k, v in data.items()})
        os.replace(tmp, path)
        return {k: (v.astype(np.float32) / 255.0 if k.startswith("x_") else v) for k, v in data.items()}

    def _replay(self, chars, size: int, classifier):
        """Unlabeled crops with the base model's (else the active one's) probabilities for them, as
        soft targets; at most `replay_max`, drawn at random with the run's seed."""
        images = np.stack([c.image for c in chars if c.image.shape == (size, size)]) if chars else None
        if images is None or not len(images):
            return np.zeros((0, size, size), np.float32), np.zeros((0, len(ALL_CLASSES)), np.float32)
        if len(images) > self.cfg.replay_max:
            keep = np.sort(np.random.default_rng(self.cfg.seed).choice(len(images), self.cfg.replay_max, replace=False))
            images = images[keep]
        if classifier is None:
            classifier = registry.load_active(self.folder)[0]
        probs = classifier.probabilities(images).astype(np.float32)
        self.log(f"replay: {len(images)} unlabeled crops train towards the base model's own probabilities")
        return images, probs

    def _load_checkpoint(self, model) -> dict | None:
        state = jobs.read_json(self.run_dir / "checkpoint.json")
        weights = self.run_dir / "checkpoint.weights.h5"
        if not state or not weights.is_file():
            self.log("no checkpoint yet: starting from the first epoch")
            return None
        _load_weights(model, weights)
        return state

    def _trim_metrics(self, epochs_done: int) -> None:
        """Drop metric lines of an epoch the checkpoint does not include (killed between the two)."""
        rows = [r for r in self._metrics() if r.get("global_epoch", 0) <= epochs_done]
        tmp = self.run_dir / "metrics.jsonl.tmp"
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        os.replace(tmp, self.run_dir / "metrics.jsonl")

    def _metrics(self) -> list[dict]:
        return jobs.Run(self.run_dir.name, self.run_dir, {}, {}, True).metrics()


# ------------------------------------------------------------------------------------- helpers

def held_out(images: np.ndarray) -> np.ndarray:
    """Which crops are validation: one in five, chosen by a hash of the 8-bit pixels, so the same
    crop is held out in every run (and relabeling it does not move it into training)."""
    out = np.zeros(len(images), bool)
    for i, img in enumerate(images):
        q = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
        out[i] = zlib.crc32(q.tobytes()) % VAL_MODULUS == 0
    return out


def read_training_folder(folder: str | Path, size: int, classifier=None, log=print):
    """((x_train, y_train), (x_val, y_val)) from an export (labels.csv with path,label, as `alpr
    labels export` writes), a folder per class of crops, or a labeled plate folder (OpenALPR
    layouts: its plates are segmented and the crops harvested; files in the hold-out fifth of
    `alpr.data.is_holdout` validate)."""
    import csv

    from PIL import Image

    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"training data folder {folder} does not exist or is not a folder")
    index = {c: i for i, c in enumerate(ALL_CLASSES)}

    def crop(path: Path) -> np.ndarray:
        with Image.open(path) as img:
            img = img.convert("L")
            if img.size != (size, size):
                img = img.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(img, np.float32) / 255.0

    pairs: list[tuple[Path, str]] = []
    if jobs.is_char_export(folder):
        with (folder / "labels.csv").open(newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                rel, label = (row.get("path") or "").strip(), (row.get("label") or "").strip().upper()
                if rel and label in index:
                    pairs.append((folder / rel, label))
    else:
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.upper() in index):
            pairs += [(f, sub.name.upper()) for f in sorted(sub.iterdir()) if f.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp")]
    if pairs:
        images, labels = [], []
        for path, label in pairs:
            try:
                images.append(crop(path))
                labels.append(index[label])
            except (OSError, ValueError) as exc:
                log(f"skipped {path}: {exc}")
        x = np.stack(images) if images else np.zeros((0, size, size), np.float32)
        y = np.array(labels, np.int64)
        val = held_out(x)
        log(f"dataset {folder}: {len(y)} character crops ({int(val.sum())} held out)")
        return (x[~val], y[~val]), (x[val], y[val])

    from alpr.data import harvest_crops, is_holdout, read_dataset

    try:
        items = read_dataset(folder)
    except DatasetError:
        raise DatasetError(
            f"{folder} is not training data: expected an `alpr labels export` (labels.csv with path,label), "
            "a folder per class of character crops, or labeled plates (OpenALPR benchmark layout)"
        ) from None
    if classifier is None:
        raise DatasetError(f"{folder} holds plates, which are cut into characters with a trained model: use a registry version as the base")
    out = []
    for part in ([it for it in items if not is_holdout(it)], [it for it in items if is_holdout(it)]):
        h = harvest_crops(part, classifier)
        x = np.stack(h.images) if h.images else np.zeros((0, size, size), np.float32)
        out.append((x, np.array(h.labels, np.int64)))
    log(f"dataset {folder}: {len(items)} plates gave {len(out[0][1])} training and {len(out[1][1])} held-out crops")
    return out[0], out[1]


def _one_hot(y: np.ndarray) -> np.ndarray:
    out = np.zeros((len(y), len(ALL_CLASSES)), np.float32)
    out[np.arange(len(y)), np.asarray(y, np.int64)] = 1.0
    return out


def _soft(y: np.ndarray) -> np.ndarray:
    """Replay targets: probability rows (an older run's data may hold class indices)."""
    y = np.asarray(y)
    return _one_hot(y) if y.ndim == 1 else y.astype(np.float32)


def _repeats(labeled: int, others: int, fixed: int) -> int:
    """How often each labeled real crop appears per epoch: `fixed` when given, else enough for the
    labels to be about a sixth of an epoch beside the replayed crops and glyphs (3 to 20 times).
    A few dozen corrections among thousands of replayed crops would hardly move the model; a third
    of the epoch moved it so far that it unlearnt untouched crops (scripts/learning_loop.py)."""
    if fixed:
        return fixed
    if not labeled:
        return 1
    return int(np.clip(math.ceil(others / (5 * labeled)), 3, 20))


def _split_replay(x: np.ndarray, probs: np.ndarray):
    """(x_train, probs_train, x_val, labels_val): one in five replay crops (by pixel hash, as for
    labels) validates instead of training, answered with the base model's read when it was sure."""
    val = held_out(x)
    sure = val & (probs.max(1) >= REPLAY_VAL_MIN_CONF)
    return x[~val], probs[~val], x[sure], probs[sure].argmax(1).astype(np.int64)


def _per_crop(n_real: int, corrected: np.ndarray, repeats: int, correction_weight: int) -> np.ndarray:
    """How often each labeled real crop appears per epoch: `repeats`, times `correction_weight` for
    the corrections (`corrected` covers the store's crops, which come first)."""
    per_crop = np.full(n_real, repeats, dtype=np.int64)
    per_crop[: len(corrected)][corrected] *= max(1, correction_weight)
    return per_crop


def _glyphs(per_class: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from alpr.training.train import render_glyphs

    if per_class <= 0:
        return np.zeros((0, size, size), np.float32), np.zeros((0,), np.int64)
    n = per_class * len(ALL_CLASSES)
    workers = 1 if n < 3000 else max(1, min(4, os.cpu_count() or 1))
    x, y = render_glyphs(per_class, size, seed, workers)
    return x.astype(np.float32), y.astype(np.int64)


def _cosine(lr: float, epoch: int, epochs: int) -> float:
    """Cosine decay per epoch, from `lr` at the first epoch to a tenth of it at the last."""
    if epochs <= 1:
        return lr
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * epoch / (epochs - 1))))


def _dataset(x, y, batch: int, seed: int, gpus):
    """Shuffled, augmented batches built on the fly by tf.data, prefetched so the accelerator never waits."""
    import keras
    import tensorflow as tf

    augment = keras.Sequential([
        keras.layers.RandomTranslation(0.06, 0.06, fill_mode="nearest", seed=seed),
        keras.layers.RandomZoom((-0.12, 0.12), fill_mode="nearest", seed=seed + 1),
        keras.layers.RandomRotation(0.02, fill_mode="nearest", seed=seed + 2),
    ])
    ds = tf.data.Dataset.from_tensor_slices((np.asarray(x, np.float32)[..., None], np.asarray(y, np.float32)))
    if gpus:
        ds = ds.cache()
    return (
        ds.shuffle(max(1, len(y)), seed=seed, reshuffle_each_iteration=True)
        .batch(batch)
        .map(lambda a, b: (augment(a, training=True), b), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def _predict(model, x: np.ndarray) -> np.ndarray:
    if not len(x):
        return np.zeros((0, len(ALL_CLASSES)), np.float32)
    return np.asarray(model.predict(x[..., None], batch_size=512, verbose=0), np.float32)


def _evaluate(probs: np.ndarray, y: np.ndarray, parts: np.ndarray) -> dict:
    """Loss, accuracy (overall and per data source), per-class accuracy and the confusion matrix."""
    n = len(y)
    k = len(ALL_CLASSES)
    if not n:
        return {"loss": 0.0, "accuracy": 0.0, "n": 0, "correct": 0, "parts": {}, "parts_list": [None] * len(PARTS),
                "per_class": {}, "confusion": []}
    pred = probs.argmax(1)
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(n), y], 1e-7, 1.0))))
    right = pred == y
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (y, pred), 1)
    per_class = {}
    for i, cls in enumerate(ALL_CLASSES):
        mask = y == i
        if mask.any():
            per_class[cls] = {"n": int(mask.sum()), "accuracy": round(float(right[mask].mean()), 4)}
    parts_list = []
    for i in range(len(PARTS)):
        mask = parts == i
        parts_list.append({"n": int(mask.sum()), "accuracy": round(float(right[mask].mean()), 4)} if mask.any() else None)
    return {
        "loss": loss, "accuracy": round(float(right.mean()), 4), "n": int(n), "correct": int(right.sum()),
        "parts": {PARTS[i]: p for i, p in enumerate(parts_list) if p}, "parts_list": parts_list,
        "per_class": per_class, "confusion": confusion.tolist(),
    }


def _public(ev: dict) -> dict:
    """The model metadata's `validation` block (as `alpr.train.per_class_accuracy` writes it)."""
    return {"accuracy": ev["accuracy"], "n": ev["n"], "per_class": ev["per_class"], "parts": ev["parts"]}


def _set_trainable(model, what: str, backbone: str) -> None:
    """Freeze for a stage. BatchNormalization stays frozen (inference statistics) whenever the
    features are not all trained: a few hundred crops would pull its statistics off."""
    features = model.get_layer("features")
    features.trainable = True
    for layer in model.layers:
        if layer is not features:
            layer.trainable = True  # the head (head_*) always trains
    inner = [l for l in features.layers if hasattr(l, "layers") and l.layers]  # an ImageNet backbone
    for layer in features.layers:
        if what == "all":
            layer.trainable = True
        elif layer in inner:
            layer.trainable = what == "top"
            if what == "top":
                sub = layer.layers
                cut = int(len(sub) * 0.8)
                for j, s in enumerate(sub):
                    s.trainable = j >= cut and "BatchNormalization" not in type(s).__name__
        elif layer.name in ("grey_to_rgb",):
            layer.trainable = True  # learnt grey-to-RGB in front of an ImageNet backbone
        elif what == "top" and layer.name.startswith("block3") and "BatchNormalization" not in type(layer).__name__:
            layer.trainable = True
        else:
            layer.trainable = False


def _stop_on_signal(guard: _SignalGuard):
    """A Keras callback that ends `fit` after the current batch once a stop was asked for."""
    import keras

    class StopOnSignal(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if guard.requested:
                self.model.stop_training = True

    return StopOnSignal()


def _save_weights(model, path: Path) -> None:
    tmp = path.with_name(path.name.replace(".weights.h5", ".tmp.weights.h5"))
    model.save_weights(tmp)
    os.replace(tmp, path)


def _load_weights(model, path: Path) -> None:
    """Load a checkpoint's model weights; its optimizer state belongs to the stage that wrote it."""
    import warnings

    if not path.is_file():
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Skipping variable loading for optimizer.*")
        model.load_weights(path)


def _with_dtype(model, policy: str):
    """The same network with every layer's dtype policy set to `policy`, and the same weights."""
    import keras

    def clone(layer):
        config = layer.get_config()
        if layer.name != "head_softmax":  # the softmax stays float32 for a stable loss
            config["dtype"] = policy
        return layer.__class__.from_config(config)

    try:
        copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
        copy.set_weights(model.get_weights())
        return copy
    except Exception:  # noqa: BLE001 - an architecture that does not clone trains in float32
        return model


def _save_float32(model, path: Path, backbone: str) -> None:
    """A float32, weights-only copy (no optimizer state, every layer trainable) as the shipped model."""
    import keras

    if keras.mixed_precision.global_policy().name != "float32":
        keras.mixed_precision.set_global_policy("float32")
        copy = _with_dtype(model, "float32")
    else:
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
    for layer in copy.layers:
        layer.trainable = True
    if hasattr(copy.get_layer("features"), "layers"):
        for layer in copy.get_layer("features").layers:
            layer.trainable = True
    copy.save(path)


class _TensorBoard:
    """Scalars per epoch as TensorBoard event files, written with TensorFlow's own summary ops (the
    `tensorboard` package is needed only to look at them)."""

    def __init__(self, folder: Path):
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        self.tf = tf
        self.writer = tf.summary.create_file_writer(str(folder))
        self.meta = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")).SerializeToString()

    def epoch(self, row: dict) -> None:
        values = {"loss/train": row["loss"], "loss/validation": row["val_loss"], "accuracy/train": row["acc"],
                  "accuracy/validation": row["val_acc"], "learning_rate": row["lr"], "samples_per_second": row["samples_per_s"]}
        with self.writer.as_default():
            for tag, value in values.items():
                self.tf.summary.write(tag, self.tf.constant(float(value), self.tf.float32), step=row["global_epoch"],
                                      metadata=self.meta)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
