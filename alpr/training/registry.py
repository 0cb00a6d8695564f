"""The model registry: every trained character model is a version, and one version is active.

Layout, under the data folder (`$ALPR_DATA_DIR`, else `./data`, the label store's folder):

    models/v2/char_cnn.keras, char_cnn.json   one version: the model and its metadata
    models/active.json                        {"version": "v2", "history": [...]}: which is active

The shipped model (`models/char_cnn.keras` of the repository) is the first version, named
`shipped`; it is active while no `active.json` says otherwise, so a fresh checkout reads plates
with it and nothing here needs to exist.

Every write is a rename: a version is written to `models/.tmp-*` and renamed into place once its
model and metadata are complete, and `active.json` is written to a temporary file and renamed over
the old one. A crash (even `kill -9`) leaves either the old state or the new one, never half of it.
Nothing in this module imports TensorFlow unless a model is actually loaded.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from alpr.classify import DEFAULT_MODEL, MODEL_FORMAT, metadata_path
from alpr.errors import ModelError, RegistryError
from alpr.paths import DATA_DIR_ENV, data_dir
from alpr.training.records import now_utc

SHIPPED = "shipped"
MODEL_FILE = "char_cnn.keras"
ACTIVE_FILE = "active.json"
STATUS_ACCEPTED = "accepted"  # at least as good as the model that was active when it finished
STATUS_REJECTED = "rejected"  # worse on the validation set: kept for comparison, never activated automatically
_VERSION_RE = re.compile(r"^v(\d+)$")
_HISTORY_KEEP = 50  # activations remembered for roll-back
_VERSION_TMP = ".tmp-*"  # a version being written (see register)
_ACTIVE_TMP = f".{ACTIVE_FILE}.*.tmp"  # an active.json being written (see _write_active)


@dataclass(frozen=True)
class Version:
    """One registered model: its name (`shipped`, `v2`, ...), file, metadata, and what is wrong with it."""

    name: str
    path: Path
    metadata: dict
    problem: str | None = None  # why it cannot be used (file missing, metadata unreadable), else None

    @property
    def number(self) -> int:
        """1 for the shipped model, N for vN: the order versions were made in."""
        match = _VERSION_RE.match(self.name)
        return int(match.group(1)) if match else 1

    @property
    def info(self) -> dict:
        """The registry's part of the metadata: parent, status, run id, comparison with the active model."""
        return self.metadata.get("registry") or {}

    @property
    def status(self) -> str:
        return self.info.get("status", STATUS_ACCEPTED)

    @property
    def parent(self) -> str | None:
        return self.info.get("parent")

    @property
    def created(self) -> str | None:
        return self.metadata.get("created")

    @property
    def val_accuracy(self) -> float | None:
        """Accuracy on the validation set it was trained with (its own split; see `comparison`)."""
        value = (self.metadata.get("validation") or {}).get("accuracy")
        return float(value) if value is not None else None

    @property
    def usable(self) -> bool:
        return self.problem is None

    def summary(self, active: str | None = None) -> dict:
        """A JSON-ready description, as `alpr models list --json` prints it."""
        meta = self.metadata
        validation = meta.get("validation") or {}
        return {
            "version": self.name,
            "active": self.name == active,
            "status": self.status if self.usable else "unusable",
            "problem": self.problem,
            "path": str(self.path),
            "created": self.created,
            "parent": self.parent,
            "run": self.info.get("run_id"),
            "metrics": {
                "val_accuracy": validation.get("accuracy"),
                "val_n": validation.get("n"),
                **(self.info.get("metrics") or {}),
            },
            "comparison": self.info.get("comparison"),
            "data": meta.get("data"),
            "hyperparameters": self.info.get("hyperparameters"),
            "device": meta.get("device"),
            "duration_s": meta.get("duration_s"),
            "backbone": meta.get("backbone"),
        }


def trained_on(data: dict | None, missing: str = "-") -> str:
    """What a version trained on, in a few words, from its metadata's `data` counts.

    Fine-tunes count label-store and dataset crops; `alpr train --data` builds count harvested crops.
    """
    data = data or {}
    if "store_train" in data:
        return f"{data['store_train'] + data.get('datasets_train', 0)} real, {data.get('glyphs_train', 0)} glyphs"
    if "real_train" in data:
        return f"{data['real_train']} real, {data.get('glyphs_pretrain', 0) + data.get('glyphs_finetune', 0)} glyphs"
    return missing


def models_dir(folder: str | os.PathLike | None = None) -> Path:
    return data_dir(folder) / "models"


def _read_version(name: str, path: Path) -> Version:
    meta_file = metadata_path(path)
    if not path.is_file():
        return Version(name, path, {}, f"the model file {path} is missing")
    try:
        metadata = json.loads(meta_file.read_text())
        if not isinstance(metadata, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        return Version(name, path, {}, f"the metadata file {meta_file} is missing")
    except (OSError, ValueError) as exc:
        return Version(name, path, {}, f"the metadata file {meta_file} is unreadable ({exc})")
    if metadata.get("format", 0) > MODEL_FORMAT:
        return Version(name, path, metadata, f"made by a newer alpr (format {metadata.get('format')})")
    return Version(name, path, metadata)


def shipped() -> Version:
    return _read_version(SHIPPED, DEFAULT_MODEL)


def versions(folder: str | os.PathLike | None = None) -> list[Version]:
    """Every version, oldest first: the shipped model, then v2, v3, ... of the data folder."""
    out = [shipped()]
    root = models_dir(folder)
    found = []
    if root.is_dir():
        for entry in root.iterdir():
            if entry.is_dir() and _VERSION_RE.match(entry.name):
                found.append(_read_version(entry.name, entry / MODEL_FILE))
    return out + sorted(found, key=lambda v: v.number)


def get(name: str, folder: str | os.PathLike | None = None) -> Version:
    """The version called `name`; a RegistryError naming the known ones when there is none."""
    if name in (SHIPPED, "v1"):
        return shipped()
    if _VERSION_RE.match(name or ""):
        path = models_dir(folder) / name / MODEL_FILE
        if path.parent.is_dir():
            return _read_version(name, path)
    known = ", ".join(v.name for v in versions(folder))
    raise RegistryError(f"no model version {name!r} in {models_dir(folder)}; the versions are: {known}")


def _read_active(folder) -> dict:
    try:
        state = json.loads((models_dir(folder) / ACTIVE_FILE).read_text())
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def active_name(folder: str | os.PathLike | None = None) -> str:
    """The active version's name: what active.json names, else `shipped`."""
    name = _read_active(folder).get("version")
    return name if isinstance(name, str) and _VERSION_RE.match(name) else SHIPPED


def active(folder: str | os.PathLike | None = None) -> Version:
    """The active version; its `problem` says so when active.json names a version that is gone."""
    name = active_name(folder)
    if name == SHIPPED:
        return shipped()
    path = models_dir(folder) / name / MODEL_FILE
    if not path.parent.is_dir():
        return Version(name, path, {}, f"its folder {path.parent} is missing")
    return _read_version(name, path)


def active_model_path(folder: str | os.PathLike | None = None) -> Path:
    """The active model's .keras file (the shipped one when nothing was activated)."""
    return active(folder).path


def resolve_model(model: str | os.PathLike | None, folder: str | os.PathLike | None = None) -> Path | None:
    """What a `--model` option means: a registry version name (`v3`, `shipped`) or a path as given;
    without one, the active model, or None (the shipped default) when nothing was ever activated."""
    if model:
        text = str(model)
        if text == SHIPPED or (_VERSION_RE.match(text) and not Path(text).exists()):
            return get(text, folder).path
        return Path(text)
    if active_name(folder) == SHIPPED:
        return None
    version = active(folder)
    if version.problem:
        raise RegistryError(
            f"the active model version {version.name} cannot be used: {version.problem}; "
            "`python -m alpr models rollback` or `python -m alpr models activate VERSION` picks another"
        )
    return version.path


def history(folder: str | os.PathLike | None = None) -> list[dict]:
    """Activations, oldest first: {"version", "at", "by"}."""
    return list(_read_active(folder).get("history") or [])


def _write_active(folder, name: str, by: str) -> None:
    root = models_dir(folder)
    tmp = root / _ACTIVE_TMP.replace("*", uuid.uuid4().hex[:8])
    try:
        root.mkdir(parents=True, exist_ok=True)
        state = _read_active(folder)
        past = list(state.get("history") or [])
        if not past:  # the first activation: remember what was active before it, for roll-back
            past.append({"version": state.get("version") or SHIPPED, "at": None, "by": "default"})
        past.append({"version": name, "at": now_utc(), "by": by})
        new = {"version": name, "activated": now_utc(), "history": past[-_HISTORY_KEEP:]}
        tmp.write_text(json.dumps(new, indent=1))
        os.replace(tmp, root / ACTIVE_FILE)
    except OSError as exc:
        tmp.unlink(missing_ok=True)  # a half-written temporary file must not outlive a full disk
        raise RegistryError(f"cannot write {root / ACTIVE_FILE}: {_why(exc)}") from None


def _why(exc: OSError) -> str:
    """What a failed write means for the user, and what to do about it."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full; free some space and try again (the registry is unchanged)"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{exc.strerror}; check the data folder is writable, or set {DATA_DIR_ENV} to another folder"
    return f"{exc.strerror or exc}; check the data folder is writable"


def check(version: Version) -> None:
    """Load the version's model once, so a corrupt file is found before it is made active."""
    from alpr.classify import load_classifier

    if version.problem:
        raise RegistryError(f"model version {version.name} cannot be used: {version.problem}")
    load_classifier(version.path)


def activate(
    name: str, folder: str | os.PathLike | None = None, force: bool = False, by: str = "cli", verify: bool = True
) -> Version:
    """Make `name` the active version. A rejected version (worse than the model active when it was
    trained) needs `force`; an unusable one (missing or corrupt file) is refused."""
    version = get(name, folder)
    if version.problem:
        raise RegistryError(f"model version {name} cannot be activated: {version.problem}")
    if version.status == STATUS_REJECTED and not force:
        raise RegistryError(
            f"model version {name} was rejected: it read the validation set worse than the model active when it "
            "finished; activate it anyway with --force (or the page's checkbox)"
        )
    if verify:
        try:
            check(version)
        except ModelError as exc:
            raise RegistryError(f"model version {name} cannot be activated: {exc}") from None
    _write_active(folder, version.name, by)
    return version


def rollback(folder: str | os.PathLike | None = None, by: str = "cli") -> Version:
    """Activate the version that was active before the current one (skipping unusable ones)."""
    current = active_name(folder)
    for entry in reversed(history(folder)):
        name = entry.get("version")
        if not name or name == current:
            continue
        try:
            version = get(name, folder)
        except RegistryError:
            continue
        if version.usable:
            return activate(version.name, folder, force=True, by=by)
    raise RegistryError(f"nothing to roll back to: {current} is the only version ever active in {models_dir(folder)}")


def fallback_order(folder: str | os.PathLike | None = None) -> list[Version]:
    """Versions to try when loading the active one: the active first, then those active before it
    (most recent first), then the other accepted versions newest first, then the shipped model."""
    order: list[str] = [active_name(folder)]
    for entry in reversed(history(folder)):
        if entry.get("version") and entry["version"] not in order:
            order.append(entry["version"])
    all_versions = versions(folder)
    for v in reversed(all_versions):
        if v.name not in order and v.status == STATUS_ACCEPTED:
            order.append(v.name)
    if SHIPPED not in order:
        order.append(SHIPPED)
    by_name = {v.name: v for v in all_versions}
    by_name[order[0]] = active(folder)  # present even when its folder is gone, to say so
    return [by_name[n] for n in order if n in by_name]


@dataclass(frozen=True)
class LoadAttempt:
    """What `first_loadable` found: the model that loaded and its version (None when none did), and
    (version name, why) for each version tried before it, the active one first."""

    classifier: object | None
    version: Version | None
    failures: tuple[tuple[str, str], ...]


def first_loadable(
    folder: str | os.PathLike | None = None,
    loader: Callable | None = None,
    path_of: Callable[[Version], Path] | None = None,
) -> LoadAttempt:
    """The registry's one fallback: try `fallback_order`'s versions in turn with `loader(path)` and
    stop at the first that loads. `path_of(version)` says which file to load (default: the
    version's own); a version's recorded problem counts only when its own file is the one loaded."""
    if loader is None:
        from alpr.classify import load_classifier as loader
    path_of = path_of or (lambda v: v.path)
    failures: list[tuple[str, str]] = []
    for version in fallback_order(folder):
        path = Path(path_of(version))
        try:
            if version.problem and path == Path(version.path):
                raise ModelError(version.problem)
            classifier = loader(path)
        except ModelError as exc:
            failures.append((version.name, str(exc)))
            continue
        return LoadAttempt(classifier, version, tuple(failures))
    return LoadAttempt(None, None, tuple(failures))


def load_active(folder: str | os.PathLike | None = None, loader: Callable | None = None):
    """(classifier, version, warning) of the active model, or of the last good version when the
    active one cannot be loaded; `warning` says what went wrong then, else None. Raises ModelError
    when no version at all can be loaded."""
    attempt = first_loadable(folder, loader)
    errors = [f"{name}: {why}" for name, why in attempt.failures]
    if attempt.classifier is None:
        raise ModelError("no model version can be loaded: " + "; ".join(errors))
    warning = None
    if errors:
        warning = f"the active model cannot be used ({errors[0]}); using {attempt.version.name}, the last good version"
    return attempt.classifier, attempt.version, warning


def next_name(folder: str | os.PathLike | None = None) -> str:
    numbers = [v.number for v in versions(folder)]
    return f"v{max(numbers) + 1}"


def register(write_model: Callable[[Path], None], metadata: dict, folder: str | os.PathLike | None = None) -> Version:
    """Add a version: `write_model(path)` writes the .keras file into a temporary folder, the
    metadata (given `version`, `registry.registered`) goes beside it, and the folder is renamed to
    the next free `vN`. Returns the new version."""
    root = models_dir(folder)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / _VERSION_TMP.replace("*", uuid.uuid4().hex[:12])
        tmp.mkdir()
    except OSError as exc:
        raise RegistryError(f"cannot write a model version under {root}: {_why(exc)}") from None
    try:
        try:
            write_model(tmp / MODEL_FILE)
        except OSError as exc:
            raise RegistryError(f"cannot write a model version under {root}: {_why(exc)}") from None
        for _ in range(20):
            name = next_name(folder)
            meta = dict(metadata)
            meta["version"] = name
            meta.setdefault("format", MODEL_FORMAT)
            meta["registry"] = {**(meta.get("registry") or {}), "registered": now_utc()}
            try:
                metadata_path(tmp / MODEL_FILE).write_text(json.dumps(meta, indent=1))
            except OSError as exc:
                raise RegistryError(f"cannot write a model version under {root}: {_why(exc)}") from None
            try:
                os.rename(tmp, root / name)  # fails if another process took the name meanwhile
            except OSError:
                continue
            return get(name, folder)
        raise RegistryError(f"could not find a free version name under {root}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def clean_temporary(folder: str | os.PathLike | None = None, active_files: bool = False) -> int:
    """Remove half-written versions left by a crash (and, with `active_files`, half-written
    active.json files: only safe where no activation can be under way); returns how many."""
    root = models_dir(folder)
    if not root.is_dir():
        return 0
    removed = 0
    for entry in root.glob(_VERSION_TMP):
        shutil.rmtree(entry, ignore_errors=True)
        removed += 1
    if active_files:
        for entry in root.glob(_ACTIVE_TMP):
            entry.unlink(missing_ok=True)
            removed += 1
    return removed
