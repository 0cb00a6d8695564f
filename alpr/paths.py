"""Where the workbench keeps and finds its files, and every environment variable it reads.

One place, so the label store, the model registry, the training runs, the app and the CLI agree on
the data folder without each keeping its own copy of the rule.
"""

from __future__ import annotations

import os
from pathlib import Path

# The checkout: `python -m alpr` runs from here, `models/` and `app.py` live here.
REPO_ROOT = Path(__file__).resolve().parent.parent

# The data folder (label store, model registry, training runs): $ALPR_DATA_DIR, else ./data.
DATA_DIR_ENV = "ALPR_DATA_DIR"
DEFAULT_DATA_DIR = "data"
# Folders the Evaluate page may read, os.pathsep-separated; default: the data folder and the
# team's shared datasets beside the checkout (`../shared/datasets`), when present.
DATA_ROOTS_ENV = "ALPR_DATA_ROOTS"
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
# A folder of photos the Recognize page offers as samples instead of the synthetic ones.
SAMPLES_DIR_ENV = "ALPR_SAMPLES_DIR"
# Set to draw the CLI's progress bar even when stderr is not a terminal (CI logs, tests).
PROGRESS_ENV = "ALPR_PROGRESS"
# The whole-plate reader the pipeline uses instead of models/plate_reader.keras; "off" reads without one.
PLATE_READER_ENV = "ALPR_PLATE_READER"
# Where Keras caches downloaded ImageNet weights (Keras' own variable).
KERAS_HOME_ENV = "KERAS_HOME"
# The `x-api-key` of `--webhook-format alpr-database` deliveries when no --webhook-api-key-file is given.
WEBHOOK_API_KEY_ENV = "ALPR_WEBHOOK_API_KEY"
# The webhook outbox, in the data folder: each delivery waits here until its receiver took it.
OUTBOX_FILE = "webhooks.sqlite"


def data_dir(folder: str | os.PathLike | None = None) -> Path:
    """The data folder: `folder`, else $ALPR_DATA_DIR, else ./data."""
    return Path(folder or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def outbox_path(folder: str | os.PathLike | None = None) -> Path:
    """The webhook outbox of the data folder `folder` (else $ALPR_DATA_DIR, else ./data)."""
    return data_dir(folder) / OUTBOX_FILE


def data_roots() -> list[Path]:
    """The folders the Evaluate page may read: $ALPR_DATA_ROOTS, else the data folder and the shared
    datasets; resolved, existing folders only, in order, without repeats."""
    env = os.environ.get(DATA_ROOTS_ENV)
    if env:
        candidates = [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    else:
        candidates = [data_dir(), SHARED_DATASETS]
    roots: list[Path] = []
    for path in candidates:
        try:
            resolved = path.resolve()
        except OSError:
            continue
        if resolved.is_dir() and resolved not in roots:
            roots.append(resolved)
    return roots


def keras_cache() -> Path:
    """The folder where Keras keeps downloaded weights."""
    return Path(os.environ.get(KERAS_HOME_ENV, Path.home() / ".keras")) / "models"


def folder_choices(roots: list[Path], found_under) -> dict[str, str]:
    """Picker label -> folder for the folders `found_under(root)` lists under each root, labeled by
    the root's name and the path below it ("datasets/endtoend/us"); a label seen twice keeps the first."""
    out: dict[str, str] = {}
    for root in map(Path, roots):
        for folder in found_under(root):
            rel = Path(folder).relative_to(root)
            label = root.name if rel == Path(".") else f"{root.name}/{rel.as_posix()}"
            out.setdefault(label, str(folder))
    return out
