"""The character model as the pages use it: the registry's active version (through the registry's
one fallback), loaded once per process and runtime, and the other models a page may pick. The
sidebar's runtime setting (Keras or ONNX Runtime, alpr/runtime.py) says which runtime reads."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from alpr.app.console import log
from alpr.classify import DEFAULT_MODEL, CharClassifier, load_classifier
from alpr.errors import ModelError
from alpr.framework import describe_device
from alpr.paths import data_dir
from alpr.runtime import DEFAULT_RUNTIME, RUNTIMES, exported_path
from alpr.training import registry

_MODELS_DIR = DEFAULT_MODEL.parent


@dataclass(frozen=True)
class ActiveModel:
    """What reads plates now: the loaded classifier and its registry version, or why none can."""

    classifier: CharClassifier | None
    version: str | None
    warning: str | None  # the active version is unusable and `version` (the last good one) reads instead
    error: str | None  # no version at all can be loaded


RUNTIME_KEY = "runtime"  # the sidebar's runtime setting, one per browser session
RUNTIME_LABELS = {"keras": "Keras (TensorFlow)", "onnx": "ONNX Runtime"}


def current_runtime() -> str:
    """The runtime this session reads with: the sidebar's setting, Keras until it is changed."""
    runtime = st.session_state.get(RUNTIME_KEY, DEFAULT_RUNTIME)
    return runtime if runtime in RUNTIMES else DEFAULT_RUNTIME


def runtime_picker() -> None:
    """The sidebar's runtime setting; every page's reads follow it."""
    st.radio(
        "Runtime",
        RUNTIMES,
        format_func=RUNTIME_LABELS.get,
        horizontal=True,
        key=RUNTIME_KEY,
        help="ONNX Runtime reads the .onnx file exported beside the model (`python -m alpr models export`): "
        "the same probabilities (within 1e-4) without TensorFlow. The shipped model has one.",
    )


# Two entries: sessions reading with Keras and with ONNX Runtime keep one model each.
@st.cache_resource(show_spinner="Loading the character model…", max_entries=2)
def _load_classifier(path: str, modified_ns: tuple[int, ...], runtime: str) -> CharClassifier:
    # modified_ns is part of the cache key only: a model replaced on disk is loaded on the next rerun.
    return _load_and_log(path, runtime)


@st.cache_resource(show_spinner="Loading the character model…", max_entries=3)
def _load_other_classifier(path: str, modified_ns: tuple[int, ...], runtime: str) -> CharClassifier:
    return _load_and_log(path, runtime)


def _load_and_log(path: str, runtime: str) -> CharClassifier:
    """load_classifier, and one INFO line saying so: the sessions of one server share each loaded
    model, so the line appears once per model file and runtime (and again only when the file changes)."""
    started = time.perf_counter()
    classifier = load_classifier(path, runtime=runtime)
    log.info(
        "loaded character model %s from %s in %.1f s (%s)",
        classifier.info.version,
        path,
        time.perf_counter() - started,
        runtime,
    )
    return classifier


def _modified(path: Path, runtime: str = DEFAULT_RUNTIME) -> tuple[int, ...]:
    """The modification times of the files `runtime` reads for the model `path` (0: missing)."""
    files = [path] + ([exported_path(path, "onnx")] if runtime == "onnx" and path.suffix != ".onnx" else [])
    times = []
    for file in files:
        try:
            times.append(file.stat().st_mtime_ns)
        except OSError:
            times.append(0)  # load_classifier then raises the ModelError that says what is missing
    return tuple(times)


# (path, mtimes, runtime) -> why that model did not load, so a broken file is not re-read on every rerun.
_MODEL_FAILURES: dict[tuple[str, tuple[int, ...], str], str] = {}


def _cached_load(path: Path) -> CharClassifier:
    runtime = current_runtime()
    modified = _modified(path, runtime)
    key = (str(path), modified, runtime)
    if key in _MODEL_FAILURES:
        raise ModelError(_MODEL_FAILURES[key])
    try:
        return _load_classifier(str(path), modified, runtime)
    except ModelError as exc:
        if all(modified):
            _MODEL_FAILURES[key] = str(exc)
        raise


def _path_of(version: registry.Version) -> Path:
    # The shipped model through this module's DEFAULT_MODEL, so tests can point it elsewhere.
    return Path(DEFAULT_MODEL) if version.name == registry.SHIPPED else version.path


def active_model() -> ActiveModel:
    """The registry's active model of the data folder, else the last good version (versions
    active before it, then the newest accepted ones, then the shipped model)."""
    try:
        attempt = registry.first_loadable(data_dir(), loader=_cached_load, path_of=_path_of)
    except OSError:
        shipped = registry.shipped()
        try:
            return ActiveModel(_cached_load(_path_of(shipped)), shipped.name, None, None)
        except ModelError as exc:
            return ActiveModel(None, None, None, str(exc))
    errors = attempt.failures
    if attempt.classifier is None:
        if len(errors) == 1:
            return ActiveModel(None, None, None, errors[0][1])
        return ActiveModel(None, None, None, "; ".join(f"{n}: {why}" for n, why in errors))
    warning = None
    if errors:
        name, why = errors[0]
        warning = (
            f"The active model {name} cannot be used ({why}); reading with {attempt.version.name}, "
            "the last good version."
        )
    return ActiveModel(attempt.classifier, attempt.version.name, warning, None)


def try_classifier() -> tuple[CharClassifier | None, str | None]:
    """The active model of the registry (the shipped one until another is activated), loaded once
    per process and again when the active version or its file changes, or None and the reason no
    model can be used. An unusable active model falls back to the last good version (see
    `active_model`, whose `warning` says so)."""
    active = active_model()
    return active.classifier, active.error


def get_classifier() -> CharClassifier:
    """The model for a page that cannot work without it: shows why and stops the page if unusable;
    warns when the active model is broken and the last good version reads instead."""
    active = active_model()
    if active.classifier is None:
        st.error(f"The character model cannot be used: {active.error}", icon=":material/error:")
        st.stop()
    if active.warning:
        st.warning(active.warning, icon=":material/warning:")
    return active.classifier


def active_version_name() -> str:
    return registry.active_name(data_dir())


def device_line() -> str:
    """Where inference runs, for the sidebar: the installed TensorFlow sees a GPU or it does not;
    ONNX Runtime reads on the CPU."""
    return _device_line(current_runtime())


@st.cache_resource(show_spinner=False)
def _device_line(runtime: str) -> str:
    if runtime == "onnx":
        import onnxruntime

        return f"CPU · ONNX Runtime {onnxruntime.__version__}"
    import tensorflow as tf

    return f"{describe_device()} · TensorFlow {tf.__version__}"


def model_summary(classifier: CharClassifier) -> list[str]:
    """Short Markdown lines describing the model, from its metadata file."""
    meta = classifier.info.metadata
    active = active_model()
    # The registry's name, as the Train page and the CLI say it ("shipped", "v3"); the file's own
    # version beside it when that differs (the shipped model's training date).
    own = classifier.info.version
    name = active.version if active.classifier is classifier and active.version else own
    lines = [f"**Model** `{name}`" + (f" ({own})" if own != name else "")]
    if active.warning and active.classifier is classifier:
        lines.insert(0, f":orange[:material/warning: {active.warning}]")
    details = [meta.get("backbone"), f"{classifier.info.input_size} px crops"]
    lines.append(" · ".join(str(d) for d in details if d))
    accuracy = meta.get("validation", {}).get("accuracy")
    if accuracy is not None:
        lines.append(f"Validation accuracy {accuracy:.1%} on {meta['validation'].get('n', '?')} real crops")
    return lines


def model_choices() -> dict[str, Path]:
    """Picker label -> .keras file: the registry's versions, the shipped models/ folder, `<data dir>/models/`."""
    choices: dict[str, Path] = {}
    try:
        for v in registry.versions(data_dir()):
            if v.problem is None and v.name != registry.shipped().name:  # the shipped file is listed below
                version = _model_version(v.path)
                choices[f"registry {v.name}" + (f" · {version}" if version else "")] = v.path
    except Exception:  # a broken registry still leaves the model files below to choose from
        log.exception("listing the model registry failed")
    for folder, where in ((_MODELS_DIR, "models"), (data_dir() / "models", f"{data_dir().name}/models")):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.keras")):
            version = _model_version(path)
            label = f"{where}/{path.name}" + (f" · {version}" if version else "")
            if path.resolve() not in {p.resolve() for p in choices.values()}:
                choices[label] = path
    return choices


def _model_version(path: Path) -> str | None:
    try:
        return str(json.loads(path.with_suffix(".json").read_text()).get("version") or "") or None
    except (OSError, ValueError, AttributeError):
        return None


def load_model(path: Path) -> CharClassifier:
    """A model by path, loaded once per process; the shipped one shares the sidebar's copy.

    Raises ModelError (one line) when the file is missing or not a usable model."""
    path = Path(path)
    if path.resolve() == Path(DEFAULT_MODEL).resolve():
        classifier, error = try_classifier()
        if classifier is not None and Path(classifier.info.path).resolve() == path.resolve():
            return classifier
        if classifier is None:
            raise ModelError(error)
    runtime = current_runtime()
    return _load_other_classifier(str(path), _modified(path, runtime), runtime)
