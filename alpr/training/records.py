"""What passes between the Train page, the job launcher and the trainer, typed.

- `JobConfig`: the options of one fine-tuning run. The page builds one, the launcher writes it as
  the run's config.json, the trainer reads it back (and a resume repeats it).
- `EpochRow`: one finished epoch, a line of the run's metrics.jsonl, written by the trainer and
  read by the page and `train_figures`.
- `RunStatus`: the run's status.json, written by the launcher and the trainer, read by the page,
  the CLI and crash recovery.

Each reads its file leniently (unknown keys ignored, missing ones at their defaults), so a run
folder written by an older or newer version still shows.
"""

from __future__ import annotations

from datetime import datetime, timezone

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from alpr.errors import JobError


def _known(cls, values: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in (values or {}).items() if k in names}


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
    # instead of 15% but cost 0.6 points on untouched crops (scripts/learning_loop.py, docs/training.md).
    correction_weight: int = 1
    seed: int = 0
    # The whole-plate reader's fine-tune on the store's plates (alpr/training/reader_step.py); 0
    # carries the active version's reader into the new version unchanged.
    reader_epochs: int = 4
    activate: bool = False  # make the new version active if it is not worse than the active one
    # Keras dtype policy: "auto" is half precision on a GPU (mixed_bfloat16 under JAX/PyTorch,
    # mixed_float16 under TensorFlow) and float32 on a CPU, where half precision is slower.
    precision: str = "auto"

    def check(self) -> None:
        """Raise JobError (one line) when the run could not start: a missing folder, nothing to train on."""
        for d in self.datasets:
            if not Path(d).is_dir():
                raise JobError(f"--dataset {d} is not a folder")
        if not self.use_store and not self.datasets and not self.glyphs_per_class:
            raise JobError("nothing to train on: --no-store without --dataset")

    def set_lr(self, lr: float) -> None:
        """The frozen stage's learning rate; the unfrozen stage gets a tenth of it (see unfreeze_lr)."""
        self.lr = float(lr)
        self.unfreeze_lr = float(lr) / 10

    @classmethod
    def from_dict(cls, values: dict) -> "JobConfig":
        return cls(**_known(cls, values))

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EpochRow:
    """One finished epoch of a run, as metrics.jsonl keeps it."""

    stage: str = ""  # "pretrain", "head" or "top"
    epoch: int = 0  # 1-based, within the stage
    epochs: int = 0  # the stage's planned epochs
    global_epoch: int = 0  # 1-based, across the run's stages
    total_epochs: int = 0  # planned across the stages (less after an early stop)
    loss: float | None = None
    acc: float | None = None
    val_loss: float | None = None
    val_acc: float | None = None
    val_parts: dict = field(default_factory=dict)  # validation accuracy per part (store, datasets, glyphs, replay)
    lr: float | None = None
    samples_per_s: float | None = None
    epoch_s: float | None = None
    eta_s: float | None = None  # estimated seconds left in the run
    elapsed_s: float | None = None  # since the run began, resumes included
    best: bool = False  # the best validation loss so far: its weights are the ones kept
    per_class: dict = field(default_factory=dict)  # class -> {"accuracy", "n"} on the validation set
    confusion: list = field(default_factory=list)  # validation confusion matrix, ALL_CLASSES order
    time: str = ""

    @classmethod
    def from_dict(cls, values: dict) -> "EpochRow":
        return cls(**_known(cls, values))

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> dict:
        """The row without its per-class table and confusion matrix, as a version's history keeps it."""
        return {k: v for k, v in asdict(self).items() if k not in ("confusion", "per_class")}


@dataclass(frozen=True)
class RunStatus:
    """A run's status.json: where it is, and how it ended."""

    state: str = "unknown"  # starting, running, succeeded, rejected, failed, cancelled, interrupted
    run_id: str | None = None
    pid: int | None = None
    command: str | None = None
    launched: str | None = None  # when the app (or CLI) started its process
    launched_ts: float | None = None
    started: str | None = None  # when the trainer took the lock
    resumed: bool = False
    updated: str | None = None
    ended: str | None = None
    cancel_requested: str | None = None
    message: str | None = None  # what happened, in one line, for the page
    gate: str | None = None  # why the run was accepted or rejected, in one line
    version: str | None = None  # the registry version it registered
    activated: bool = False
    val_accuracy: float | None = None
    active_val_accuracy: float | None = None  # the active model on the same validation set
    compared_with: str | None = None
    duration_s: float | None = None

    @classmethod
    def from_dict(cls, values: dict) -> "RunStatus":
        return cls(**_known(cls, values))

    def as_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def check_fields(values: dict) -> None:
        """A status update names only RunStatus fields: a misspelt key would be a field nobody reads."""
        unknown = set(values) - {f.name for f in fields(RunStatus)}
        if unknown:
            raise TypeError(f"not RunStatus fields: {', '.join(sorted(unknown))}")


def now_utc() -> str:
    """This moment as the runs, the registry and their records write it (ISO 8601, UTC, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
