"""Fine-tune the character model on the label store and register it as a new version.

    python -m alpr train [--epochs N] [--data-dir D] [--base VERSION] [--dataset DIR] [--activate]
    python -m alpr train --resume RUN_ID

This is the job the Train page starts, in its own process. Read top to bottom:

1. take the one-run lock of the data folder and make the run folder (see `alpr.jobs`);
2. start from a base: the active model (default), any registry version, a network pretrained here
   on rendered glyphs, or an ImageNet backbone when its weights are on disk;
3. gather data: the label store's person and import labels, exported datasets and labeled plate
   folders, and rendered glyphs (so classes nobody corrected are not forgotten). A stable hash
   holds a fifth out (the store's plates whole, by plate id; dataset crops by their pixels): they,
   and rendered glyphs of their own, are the validation set and never train. The arrays are frozen
   in the run folder;
4. train in stages with transfer learning: `head` (the feature layers frozen), then `top` (the last
   convolution block unfrozen, at a lower learning rate), with Keras 3 APIs only, so it runs under
   any KERAS_BACKEND (see `alpr.framework` and `alpr.training.backend`). On a GPU: mixed precision; several devices:
   keras.distribution.DataParallel (JAX) or MirroredStrategy (TensorFlow). After every epoch:
   metrics to metrics.jsonl (and TensorBoard where installed), a checkpoint, and early stopping;
5. compare the best epoch with the model active now on the same validation set, register the
   result as a new version (status "accepted", or "rejected" when it reads the held-out crops a
   person labeled worse: `judge`), and activate it only when asked and accepted.

A cancelled (SIGTERM), failed or killed run registers nothing and never touches the active model;
a killed one resumes from its last checkpoint with `--resume`.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from alpr import paths
from alpr.training import jobs, registry
from alpr.errors import AlprError, ModelError
from alpr.training.datasets import (
    Split,
    Validation,
    one_hot,
    per_crop_repeats,
    repeats_for,
    soft,
)
from alpr.training.fitting import (
    TensorBoardWriter,
    cosine,
    evaluate,
    load_weights,
    predict,
    save_weights,
    set_trainable,
    stop_on_signal,
    with_dtype,
)
from alpr import framework
from alpr.training import backend
from alpr.training.batches import make_dataset
from alpr.training.records import EpochRow, JobConfig, RunStatus, now_utc
from alpr.types import ALL_CLASSES
from alpr.training.publish import Publishing
from alpr.training.run_data import TrainingData

BASES = ("active", "glyphs", "imagenet")  # besides registry version names and .keras paths
# Replay: crops the app stored with the model's guess and nobody labeled train towards the base
# model's own probabilities for them (distillation, soft targets), so that fixing a few characters
# does not unlearn, or unsettle the confidence of, the many it already reads right: the plate
# assembler ranks strings by those probabilities (measured by scripts/learning_loop.py).
PRETRAIN_LR = 2e-3  # base "glyphs": a new network learns from scratch (as `alpr.train` pretrains)


@dataclass
class Stage:
    name: str
    epochs: int
    lr: float
    trainable: str  # "all", "head" or "top"


class Cancelled(Exception):
    """SIGTERM or SIGINT arrived: stop, register nothing."""


# ------------------------------------------------------------------------------------ the job


def run(
    cfg: JobConfig | None,
    run_id: str | None = None,
    resume: str | None = None,
    argv: list[str] | None = None,
    folder: str | None = None,
) -> RunStatus:
    """Run (or resume) one fine-tuning job to its end; returns its final status. Raises AlprError
    subclasses with one-line messages (busy data folder, bad option, failed run).

    `cfg` None with `run_id`: the job the launcher wrote as that run's config.json (`jobs.launch`)."""
    folder = paths.data_dir(folder or (cfg.data_dir if cfg else None) or None).resolve()
    launched = cfg is None and not resume
    if launched:
        saved = jobs.read_json(jobs.runs_dir(folder) / str(run_id) / "config.json")
        if not run_id or not saved:
            raise jobs.JobError(f"no job {run_id!r} written by the launcher in {jobs.runs_dir(folder)}")
        cfg = JobConfig.from_dict(saved["job"])
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
            jobs.update_status(run_dir, state="failed", ended=now_utc(), message=str(exc))
        raise
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        registry.clean_temporary(folder)
        log = Log(run_dir / "log.txt")
        command = "python -m alpr train " + " ".join(
            shlex.quote(a) for a in (argv if argv is not None else sys.argv[2:])
        )
        if launched:
            command = saved.get("command") or command
        if not resume and not launched:
            jobs.write_json(
                run_dir / "config.json",
                {"run_id": run_id, "created": now_utc(), "command": command, "job": asdict(cfg)},
            )
        prior = jobs.read_json(run_dir / "status.json", {}) or {}
        jobs.update_status(
            run_dir,
            state="running",
            pid=os.getpid(),
            run_id=run_id,
            started=prior.get("started") or now_utc(),
            launched=prior.get("launched") or now_utc(),
            resumed=bool(resume),
            message=None,
        )
        log(f"run {run_id} {'resumed' if resume else 'started'} in {run_dir}")
        guard = _SignalGuard()
        try:
            result = Trainer(cfg, run_dir, log, guard, resume=bool(resume), command=command).run()
        except Cancelled:
            log("cancelled: nothing was registered, the active model is unchanged")
            return jobs.update_status(
                run_dir,
                state="cancelled",
                ended=now_utc(),
                message="cancelled; nothing was registered and the active model is unchanged",
            )
        finally:
            guard.restore()
        return jobs.update_status(run_dir, ended=now_utc(), **result)
    except Exception as exc:
        message = str(exc) if isinstance(exc, AlprError) else f"{type(exc).__name__}: {exc}"
        try:
            with open(run_dir / "log.txt", "a") as fh:
                fh.write(f"failed: {message}\n")
                if not isinstance(exc, AlprError):
                    fh.write(traceback.format_exc())
            jobs.update_status(run_dir, state="failed", ended=now_utc(), message=message)
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


class Trainer(TrainingData, Publishing):
    """One fine-tuning run. Its data (`TrainingData`, alpr/training/run_data.py) and its ending,
    compared, registered and maybe activated (`Publishing`, alpr/training/publish.py), are mixins."""

    def __init__(self, cfg: JobConfig, run_dir: Path, log: Log, guard: _SignalGuard, resume: bool, command: str):
        self.cfg, self.run_dir, self.log, self.guard, self.resume, self.command = (
            cfg,
            run_dir,
            log,
            guard,
            resume,
            command,
        )
        self.folder = Path(cfg.data_dir)

    # ---- the run, top to bottom -----------------------------------------------------------------
    def run(self) -> dict:
        """Device, base model, data, the training stages, then the result published to the registry.
        Returns the fields the run's status gets when it ends."""
        self._setup_device()
        with self.parallel.scope():
            model, parent, backbone, harvest_classifier = self._base_model()
        self.guard.check()
        size = int(model.input_shape[1])

        data = self._data(size, harvest_classifier)  # frozen in the run folder: a resume reads the same arrays
        self.guard.check()
        train, val, counts = self._training_sets(data)
        self.data = data

        stages = self._stages()
        state = self._start_state(model, stages)
        self._record_line_to_beat(val)
        self._train_stages(model, backbone, stages, state, train, data, val)

        self.guard.check()
        return self._publish(model, parent, backbone, size, val, counts)

    # ---- 1. device ----
    def _setup_device(self) -> None:
        framework.quiet_tensorflow()  # only under the TensorFlow backend
        import keras

        self.t_start = time.time()
        keras.utils.set_random_seed(self.cfg.seed)
        found = framework.devices()
        self.device = found.line
        self.log(f"device {self.device} · Keras {keras.__version__} on {framework.version()}")
        policy = backend.precision_policy(self.cfg.precision, found)
        keras.mixed_precision.set_global_policy(policy)
        if policy != "float32":
            self.log(f"mixed precision {policy} (weights stay float32; the saved version is float32)")
        elif not found.accelerators:
            self.log("no GPU: training on the CPU with the same code, slower")
        self.parallel = backend.Parallel(found)
        # Host threads preparing batches: one keeps a CPU run's cores for the model; a GPU needs several.
        self.loader_workers = min(8, os.cpu_count() or 1) if found.accelerators else 1
        self.replicas = self.parallel.replicas
        if self.replicas > 1:
            self.log(f"data parallel: {self.parallel.kind}, global batch {self.cfg.batch_size * self.replicas}")

    # ---- 3. the training and validation sets ----
    def _training_sets(self, data: dict) -> tuple[Split, Validation, dict]:
        """What trains (labeled real crops repeated, replay, glyphs) and what validates, and their counts."""
        cfg = self.cfg
        x_real_tr = np.concatenate([data["x_store_tr"], data["x_ds_tr"]])
        y_real_tr = np.concatenate([data["y_store_tr"], data["y_ds_tr"]])
        repeats = repeats_for(len(y_real_tr), len(data["y_rep"]) + len(data["y_gl_tr"]), cfg.real_weight)
        per_crop = per_crop_repeats(len(y_real_tr), data["c_store_tr"], repeats, cfg.correction_weight)
        x_train = np.concatenate([np.repeat(x_real_tr, per_crop, axis=0), data["x_rep"], data["x_gl_tr"]])
        # Targets are probability vectors: one-hot for labels and glyphs, the base model's for replay.
        y_train = np.concatenate(
            [one_hot(np.repeat(y_real_tr, per_crop)), soft(data["y_rep"]), one_hot(data["y_gl_tr"])]
        )
        x_val = np.concatenate([data["x_store_va"], data["x_ds_va"], data["x_gl_va"], data["x_rv"]])
        y_val = np.concatenate([data["y_store_va"], data["y_ds_va"], data["y_gl_va"], data["y_rv"]])
        parts = np.concatenate(
            [
                np.full(len(data["y_store_va"]), 0),
                np.full(len(data["y_ds_va"]), 1),
                np.full(len(data["y_gl_va"]), 2),
                np.full(len(data["y_rv"]), 3),
            ]
        )
        counts = {
            "store_train": int(len(data["y_store_tr"])),
            "store_val": int(len(data["y_store_va"])),
            "corrections_train": int(data["c_store_tr"].sum()),
            "datasets_train": int(len(data["y_ds_tr"])),
            "datasets_val": int(len(data["y_ds_va"])),
            "replay": int(len(data["y_rep"])),
            "replay_val": int(len(data["y_rv"])),
            "glyphs_train": int(len(data["y_gl_tr"])),
            "glyphs_val": int(len(data["y_gl_va"])),
            "pretrain_glyphs": int(len(data["y_pre"])),
            "labeled_repeats": int(repeats),
            "train_samples_per_epoch": int(len(y_train)),
            "last_label_id": int(data["last_label_id"]),
        }
        self.log("data " + " ".join(f"{k} {v}" for k, v in counts.items()))
        if not len(y_real_tr):
            self.log(
                "note: no labeled real crops to train on (label some on the Relabel page); this run learns rendered glyphs only"
            )
        return Split(x_train, y_train), Validation(x_val, y_val, parts), counts

    # ---- 4. stages, and where a resume picks up ----
    def _stages(self) -> list[Stage]:
        cfg = self.cfg
        stages = []
        if cfg.base == "glyphs":
            stages.append(Stage("pretrain", cfg.pretrain_epochs, PRETRAIN_LR, "all"))
        stages.append(Stage("head", cfg.epochs, cfg.lr, "head"))
        if cfg.unfreeze_epochs:
            stages.append(Stage("top", cfg.unfreeze_epochs, cfg.unfreeze_lr, "top"))
        return stages

    def _start_state(self, model, stages: list[Stage]) -> dict:
        state = self._load_checkpoint(model) if self.resume else None
        state = state or {
            "stage": 0,
            "epoch": 0,
            "best_val_loss": None,
            "since_best": 0,
            "elapsed_s": 0.0,
            "global_epoch": 0,
        }
        if self.resume:
            self._trim_metrics(state["global_epoch"])
            self.log(
                f"resuming at stage {stages[min(state['stage'], len(stages) - 1)].name} "
                f"epoch {state['epoch'] + 1} (after {state['global_epoch']} finished epochs)"
            )
        self.elapsed_before = float(state.get("elapsed_s", 0.0))
        return state

    def _record_line_to_beat(self, val: Validation) -> None:
        """The active model on this validation set, drawn under the curves while the run lasts
        (compared again at the end)."""
        status = jobs.read_json(self.run_dir / "status.json", {}) or {}
        if self.resume and "active_val_accuracy" in status:
            return
        try:
            clf, version, _ = registry.load_active(self.folder)
            before = evaluate(val.probabilities_of(clf), val.y, val.parts)
            jobs.update_status(self.run_dir, active_val_accuracy=before["accuracy"], compared_with=version.name)
            self.log(f"active model {version.name} on this validation set: {before['accuracy']:.4f}")
        except ModelError as exc:
            self.log(f"note: no active model to compare with ({exc})")

    # ---- 5. the training loop ----
    def _train_stages(
        self, model, backbone: str, stages: list[Stage], state: dict, train: Split, data: dict, val: Validation
    ) -> None:
        import keras

        cfg = self.cfg
        self.total_epochs = sum(s.epochs for s in stages)
        self.epoch_times: list[float] = []
        writer = TensorBoardWriter(self.run_dir / "tensorboard")
        for si, stage in enumerate(stages):
            if si < state["stage"]:
                continue
            start = state["epoch"] if si == state["stage"] else 0
            if si > state["stage"]:
                state.update(stage=si, epoch=0, since_best=0)
            if start >= stage.epochs:
                continue
            fit = Split(data["x_pre"], one_hot(data["y_pre"])) if stage.name == "pretrain" else train
            with self.parallel.scope():
                set_trainable(model, stage.trainable, backbone)
                model.compile(
                    optimizer=keras.optimizers.Adam(stage.lr),
                    loss=keras.losses.CategoricalCrossentropy(),
                    metrics=["categorical_accuracy"],
                )
            train_ds = make_dataset(
                fit.x, fit.y, cfg.batch_size * self.replicas, cfg.seed + si, self.replicas, workers=self.loader_workers
            )
            trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
            self.log(
                f"training stage {stage.name}: {stage.epochs} epochs at lr {stage.lr:.1e}, {trainable:,} trainable "
                f"weights, {len(fit.y)} samples per epoch"
            )
            for epoch in range(start, stage.epochs):
                row = self._train_epoch(model, stage, si, epoch, train_ds, len(fit.y), val, state)
                writer.epoch(row)
                if state["since_best"] >= cfg.patience and epoch + 1 < stage.epochs:
                    self.log(f"early stop: validation loss not better for {cfg.patience} epochs")
                    self.total_epochs -= stage.epochs - (epoch + 1)
                    state["epoch"] = stage.epochs
                    jobs.write_json(self.run_dir / "checkpoint.json", state)
                    break
            # The next stage (and the result) starts from the best epoch so far.
            load_weights(model, self.run_dir / "best.weights.h5")
        writer.close()
        load_weights(model, self.run_dir / "best.weights.h5")

    def _train_epoch(
        self, model, stage: Stage, si: int, epoch: int, train_ds, samples: int, val: Validation, state: dict
    ) -> EpochRow:
        """One epoch: fit, validate, then checkpoint, the metrics line, and the state pointing at both."""
        t0 = time.time()
        lr = cosine(stage.lr, epoch, stage.epochs)
        model.optimizer.learning_rate.assign(lr)
        self.guard.in_fit = True
        try:
            hist = model.fit(
                train_ds,
                epochs=1,
                verbose=0,
                shuffle=False,  # the dataset shuffles
                callbacks=[stop_on_signal(self.guard)],
            )
        finally:
            self.guard.in_fit = False
        fit_s = time.time() - t0
        self.guard.check()
        ev = evaluate(predict(model, val.x, self.replicas), val.y, val.parts)
        self.guard.check()
        self.epoch_times.append(time.time() - t0)
        state["global_epoch"] += 1
        done = state["global_epoch"]
        improved = state["best_val_loss"] is None or ev["loss"] < state["best_val_loss"] - 1e-6
        remaining = self.total_epochs - done
        row = EpochRow(
            stage=stage.name,
            epoch=epoch + 1,
            epochs=stage.epochs,
            global_epoch=done,
            total_epochs=self.total_epochs,
            loss=float(hist.history["loss"][-1]),
            acc=float(hist.history["categorical_accuracy"][-1]),
            val_loss=ev["loss"],
            val_acc=ev["accuracy"],
            val_parts=ev["parts"],
            lr=float(lr),
            samples_per_s=samples / max(fit_s, 1e-9),
            epoch_s=round(self.epoch_times[-1], 2),
            eta_s=round(remaining * float(np.mean(self.epoch_times[-3:])), 1),
            elapsed_s=round(self.elapsed_before + time.time() - self.t_start, 1),
            best=bool(improved),
            per_class=ev["per_class"],
            confusion=ev["confusion"],
            time=now_utc(),
        )
        # Checkpoint first, then the metrics line, then the state that points at both:
        # a kill between any two leaves a consistent run that resumes at most one epoch back.
        save_weights(model, self.run_dir / "checkpoint.weights.h5")
        if improved:
            save_weights(model, self.run_dir / "best.weights.h5")
            state["best_val_loss"], state["since_best"], state["best_epoch"] = ev["loss"], 0, done
        else:
            state["since_best"] += 1
        with open(self.run_dir / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(row.as_dict()) + "\n")
        state.update(stage=si, epoch=epoch + 1, elapsed_s=row.elapsed_s)
        jobs.write_json(self.run_dir / "checkpoint.json", state)
        self.log(
            f"stage {stage.name} epoch {epoch + 1}/{stage.epochs} loss {row.loss:.4f} acc {row.acc:.4f} "
            f"val_loss {row.val_loss:.4f} val_acc {row.val_acc:.4f} lr {lr:.2e} "
            f"samples/s {row.samples_per_s:.0f}"
        )
        return row

    # ---- 2. the base model ----
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
            model = with_dtype(model, keras.mixed_precision.global_policy().name)
        return model, parent, backbone, clf

    def _load_checkpoint(self, model) -> dict | None:
        state = jobs.read_json(self.run_dir / "checkpoint.json")
        weights = self.run_dir / "checkpoint.weights.h5"
        if not state or not weights.is_file():
            self.log("no checkpoint yet: starting from the first epoch")
            return None
        load_weights(model, weights)
        return state

    def _trim_metrics(self, epochs_done: int) -> None:
        """Drop metric lines of an epoch the checkpoint does not include (killed between the two)."""
        rows = [r for r in self._metrics() if r.global_epoch <= epochs_done]
        tmp = self.run_dir / "metrics.jsonl.tmp"
        tmp.write_text("".join(json.dumps(r.as_dict()) + "\n" for r in rows))
        os.replace(tmp, self.run_dir / "metrics.jsonl")

    def _metrics(self) -> list[EpochRow]:
        return jobs.Run(self.run_dir.name, self.run_dir, {}, RunStatus(), True).metrics()


# ------------------------------------------------------------------------------------- helpers
