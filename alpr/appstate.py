"""What the app's pages share: the loaded model, the sample photos, and cached reads.

Kept out of the page files so the pages read as a description of the UI. This is the only module
of the package that imports Streamlit; the pipeline itself never does.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from alpr.classify import DEFAULT_MODEL, CharClassifier, describe_device, load_classifier
from alpr.errors import AlprError, ImageLoadError, ModelError
from alpr.imageio import IMAGE_TYPES, encode_png, load_image
from alpr.pipeline import recognize
from alpr.report import to_openalpr
from alpr.store import DATA_DIR_ENV, DEFAULT_DATA_DIR, LabelStore, StoreError
from alpr.synth import sample_scenes
from alpr.types import Recognition

log = logging.getLogger("alpr.app")
# Streamlit sets up only its own "streamlit" logger: without a handler here the app's INFO lines
# (the model loads, which say whether sessions share one model) would be dropped, and its warnings
# printed bare. One handler per process, however often the pages import this module.
if not log.handlers:
    _console = logging.StreamHandler()  # stderr: the server's console and log
    _console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(_console)
    log.setLevel(logging.INFO)

# Extra photos for the sample picker, e.g. a folder of real photos for a demo.
SAMPLES_DIR_ENV = "ALPR_SAMPLES_DIR"
# Enough synthetic photos to show each plate style (us, eu, br) twice.
SAMPLE_COUNT = 6
SAMPLE_SEED = 0
# Reads kept per browser session: a rerun (any widget change) must not recompute them, but a
# long session uploading hundreds of photos must not keep every one of them in memory.
_RESULTS_KEY = "_alpr_recognitions"
_MAX_RESULTS = 8
_MAX_FOLDER_FILES = 500


@dataclass(frozen=True)
class Photo:
    """One photo to read: a display name, the file's bytes, and the plate it shows when known."""

    name: str
    data: bytes
    expected: str | None = None


# ----------------------------------------------------------------------------------------- model

@st.cache_resource(show_spinner="Loading the character model…", max_entries=1)
def _load_classifier(path: str, modified_ns: int) -> CharClassifier:
    # modified_ns is part of the cache key only: a model replaced on disk is loaded on the next rerun.
    return _load_and_log(path)


def _load_and_log(path: str) -> CharClassifier:
    """load_classifier, and one INFO line saying so: the sessions of one server share each loaded
    model, so the line appears once per model file (and again only when the file changes)."""
    started = time.perf_counter()
    classifier = load_classifier(path)
    log.info("loaded character model %s from %s in %.1f s", classifier.info.version, path, time.perf_counter() - started)
    return classifier


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


@st.cache_resource(show_spinner=False)
def device_line() -> str:
    """Where inference runs, for the sidebar: the installed TensorFlow sees a GPU or it does not."""
    import tensorflow as tf

    return f"{describe_device()} · TensorFlow {tf.__version__}"


def model_summary(classifier: CharClassifier) -> list[str]:
    """Short Markdown lines describing the model, from its metadata file."""
    meta = classifier.info.metadata
    lines = [f"**Model** `{classifier.info.version}`"]
    active = active_model()
    if active.warning and active.classifier is classifier:
        lines.insert(0, f":orange[:material/warning: {active.warning}]")
    details = [meta.get("backbone"), f"{classifier.info.input_size} px crops"]
    lines.append(" · ".join(str(d) for d in details if d))
    accuracy = meta.get("validation", {}).get("accuracy")
    if accuracy is not None:
        lines.append(f"Validation accuracy {accuracy:.1%} on {meta['validation'].get('n', '?')} real crops")
    return lines


# ---------------------------------------------------------------------------------------- photos

@st.cache_data(show_spinner="Drawing sample photos…")
def synthetic_samples(n: int = SAMPLE_COUNT, seed: int = SAMPLE_SEED) -> list[Photo]:
    """Rendered street scenes whose plate text is known; PNG bytes so they take the upload path."""
    return [
        Photo(f"synthetic-{i}.png", encode_png(image), expected=text)
        for i, (text, image) in enumerate(sample_scenes(n, seed), start=1)
    ]


def folder_samples() -> list[Path]:
    """Images in $ALPR_SAMPLES_DIR, by name; empty when it is unset or not a folder."""
    folder = os.environ.get(SAMPLES_DIR_ENV)
    if not folder or not Path(folder).is_dir():
        return []
    files = sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower().lstrip(".") in IMAGE_TYPES)
    return files[:_MAX_FOLDER_FILES]


def sample_choices() -> dict[str, Photo | Path]:
    """Picker label -> sample; folder files are read only when picked."""
    choices: dict[str, Photo | Path] = {
        f"Synthetic photo {i} · plate {photo.expected}": photo for i, photo in enumerate(synthetic_samples(), start=1)
    }
    for path in folder_samples():
        choices[f"{path.parent.name}/{path.name}"] = path
    return choices


def as_photo(sample: Photo | Path) -> Photo:
    if isinstance(sample, Photo):
        return sample
    return Photo(sample.name, sample.read_bytes())


# ----------------------------------------------------------------------------------------- reads

def read_photo(photo: Photo, country: str, topn: int, classifier: CharClassifier) -> Recognition:
    """`recognize` on the photo, remembered per (file contents, country, top-N, model) in the session.

    Raises ImageLoadError (one-line message naming the photo) when the file is not a usable image.
    """
    key = (hashlib.sha256(photo.data).hexdigest(), country, topn, classifier.info.version)
    results: OrderedDict = st.session_state.setdefault(_RESULTS_KEY, OrderedDict())
    if key in results:
        results.move_to_end(key)
        return results[key]
    image = load_image(photo.data, name=photo.name)
    rec = recognize(image, country=country, topn=topn, classifier=classifier)
    results[key] = rec
    while len(results) > _MAX_RESULTS:
        results.popitem(last=False)
    _remember(photo, image, rec, classifier)
    return rec


def openalpr_json(rec: Recognition, name: str) -> str:
    """The read as OpenALPR's `alpr -j` JSON, for the download button."""
    return json.dumps(to_openalpr(rec, name), indent=2)


# ---------------------------------------------------------------------------------------- batches

# More photos than this and the Recognize page shows one summary row per photo instead of a full
# section each: a section draws the photo and four charts, so 200 of them make a page that takes
# minutes to draw and that nobody scrolls. Six is the sample picker's count, which still fits.
BATCH_THRESHOLD = 6
# Summary rows kept per browser session, by photo: a few hundred bytes each, so far more than any
# one upload holds, and still a bound for a session that uploads batch after batch.
_BATCH_KEY = "_alpr_batch_rows"
_MAX_BATCH_ROWS = 5000


@dataclass(frozen=True)
class BatchRow:
    """One photo of a batch as the summary table shows it. Only this is kept per photo, never its
    Recognition, which holds the photo and several full-size arrays derived from it."""

    file: str
    plate: str  # the best plate's best reading; "" when no plate was found or the file is unusable
    confidence: float | None  # 0..100, of that reading
    matches_template: bool | None
    plates: int  # plates found in the photo
    ms: float | None  # the pipeline's time on it, as its detail view's timings chart shows
    error: str | None  # why the file could not be read; None when it was
    # Every plate found, as (reading, confidence, matches template), in the pipeline's order.
    readings: tuple[tuple[str, float, bool], ...] = ()


def read_batch(
    photos: list[Photo],
    country: str,
    topn: int,
    classifier: CharClassifier,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[BatchRow]:
    """One summary row per photo, in order; a photo that cannot be read gets its error in its row
    and the others are still read.

    Rows are remembered in the session by the photo's name and size (with country, top-N and
    model), so a rerun, a batch interrupted by a widget change, or one more upload reads only the
    photos not read yet; names and sizes tell the upload widget's files apart without hashing them
    all on every rerun. `progress(done, total, name)` is called before each photo that is read.
    """
    rows: OrderedDict = st.session_state.setdefault(_BATCH_KEY, OrderedDict())
    out = []
    for done, photo in enumerate(photos):
        key = (photo.name, len(photo.data), country, topn, classifier.info.version)
        if key not in rows:
            if progress is not None:
                progress(done, len(photos), photo.name)
            rows[key] = _batch_row(photo, country, topn, classifier)
        rows.move_to_end(key)
        out.append(rows[key])
    while len(rows) > _MAX_BATCH_ROWS:
        rows.popitem(last=False)
    return out


def _batch_row(photo: Photo, country: str, topn: int, classifier: CharClassifier) -> BatchRow:
    try:
        rec = read_photo(photo, country, topn, classifier)
    except ImageLoadError as exc:
        return BatchRow(photo.name, "", None, None, 0, None, str(exc))
    except Exception as exc:  # noqa: BLE001 - one bad photo must not stop the batch
        log.exception("reading %s failed", photo.name)
        return BatchRow(photo.name, "", None, None, 0, None, f"Could not read {photo.name}: {exc}")
    ms = rec.timings_ms.get("total")
    if not rec.plates:
        return BatchRow(photo.name, "", None, None, 0, ms, None)
    best = rec.plates[0]
    readings = tuple((p.plate, p.confidence, p.matches_template) for p in rec.plates)
    return BatchRow(photo.name, best.plate, best.confidence, best.matches_template, len(rec.plates), ms, None, readings)


# ----------------------------------------------------------------------------------- label store

# Plate ids the label store gave each photo read in this session, by the photo's SHA-256, so the
# Recognize page can link a read to its plate on the Relabel page.
_STORED_KEY = "_alpr_stored_plates"
_AUTHOR_KEY = "_alpr_author"
_STORE_WARNED_KEY = "_alpr_store_warned"


def data_dir() -> Path:
    """The label store's folder: $ALPR_DATA_DIR, else ./data (as `alpr labels` uses)."""
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


@st.cache_resource(show_spinner=False, max_entries=4)
def _open_store(folder: str) -> LabelStore:
    # One store (one SQLite connection, guarded by a lock) per folder for every session; a folder
    # that cannot be opened raises, and Streamlit does not cache a raise, so the next rerun retries.
    return LabelStore.open(folder)


def try_store() -> tuple[LabelStore | None, str | None]:
    """The label store of this process, or None and the reason it cannot be opened."""
    try:
        return _open_store(str(data_dir().resolve())), None
    except StoreError as exc:
        return None, str(exc)


def get_store() -> LabelStore:
    """The label store for a page that cannot work without it: shows why and stops if unusable."""
    store, error = try_store()
    if store is None:
        st.error(f"The label store cannot be used: {error}", icon=":material/error:")
        st.stop()
    return store


def author() -> str:
    """Who labels, as stored with each label: one id per browser session, so Undo takes back only
    this session's own actions and the history says a label came from the app."""
    if _AUTHOR_KEY not in st.session_state:
        st.session_state[_AUTHOR_KEY] = f"app-{uuid.uuid4().hex[:8]}"
    return st.session_state[_AUTHOR_KEY]


def _remember(photo: Photo, image, rec: Recognition, classifier: CharClassifier) -> None:
    """Keep a new read in the label store, so it shows on the Relabel page. Never fails the read:
    a store that cannot be written is reported once per session and the photo is still shown."""
    digest = hashlib.sha256(photo.data).hexdigest()
    stored: OrderedDict = st.session_state.setdefault(_STORED_KEY, OrderedDict())
    store, error = try_store()
    try:
        if store is None:
            raise StoreError(error)
        ids = store.add_recognition(image, rec, photo.name, classifier.info.version)
    except AlprError as exc:
        log.warning("could not keep the read of %s in the label store: %s", photo.name, exc)
        if not st.session_state.get(_STORE_WARNED_KEY):
            st.session_state[_STORE_WARNED_KEY] = True
            st.warning(f"Reads are not being kept for relabeling: {exc}", icon=":material/warning:")
        return
    stored[digest] = ids
    stored.move_to_end(digest)
    while len(stored) > 64:
        stored.popitem(last=False)


def stored_plates(photo: Photo) -> list[int]:
    """The label store's plate ids of a photo read in this session, best plate first (may be empty)."""
    digest = hashlib.sha256(photo.data).hexdigest()
    return list(st.session_state.get(_STORED_KEY, {}).get(digest, []))


# ------------------------------------------------------------------------- evaluation: data, models

# Folders the Evaluate page may read: os.pathsep-separated. The browser only ever picks among the
# labeled folders found under these; it never sends a path.
DATA_ROOTS_ENV = "ALPR_DATA_ROOTS"
_SHARED_DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
_MODELS_DIR = DEFAULT_MODEL.parent


def data_roots() -> list[Path]:
    """The allowed data roots, resolved, existing folders only, in order, without repeats."""
    env = os.environ.get(DATA_ROOTS_ENV)
    if env:
        candidates = [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    else:
        candidates = [data_dir(), _SHARED_DATASETS]
    roots: list[Path] = []
    for path in candidates:
        try:
            resolved = path.resolve()
        except OSError:
            continue
        if resolved.is_dir() and resolved not in roots:
            roots.append(resolved)
    return roots


def model_choices() -> dict[str, Path]:
    """Picker label -> .keras file: the registry's versions, the shipped models/ folder, `<data dir>/models/`."""
    from alpr import registry

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


@st.cache_resource(show_spinner="Loading the character model…", max_entries=3)
def _load_other_classifier(path: str, modified_ns: int) -> CharClassifier:
    return _load_and_log(path)


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
    try:
        modified = path.stat().st_mtime_ns
    except OSError:
        modified = 0
    return _load_other_classifier(str(path), modified)


# ------------------------------------------------------------------ model registry and training

@dataclass(frozen=True)
class ActiveModel:
    """What reads plates now: the loaded classifier and its registry version, or why none can."""

    classifier: CharClassifier | None
    version: str | None
    warning: str | None  # the active version is unusable and `version` (the last good one) reads instead
    error: str | None  # no version at all can be loaded


# (path, mtime) -> why that file did not load, so a broken file is not re-read on every rerun.
_MODEL_FAILURES: dict[tuple[str, int], str] = {}


def active_model() -> ActiveModel:
    """The registry's active model of the data folder, else the last good version (versions
    active before it, then the newest accepted ones, then the shipped model)."""
    from alpr import registry

    try:
        order = registry.fallback_order(data_dir())
    except OSError:
        order = [registry.shipped()]
    errors: list[str] = []
    for version in order:
        # The shipped model through this module's DEFAULT_MODEL, so tests can point it elsewhere.
        path = Path(DEFAULT_MODEL) if version.name == registry.SHIPPED else version.path
        try:
            modified = path.stat().st_mtime_ns
        except OSError:
            modified = 0  # load_classifier then raises the ModelError that says what is missing
        key = (str(path), modified)
        try:
            if version.problem and version.name != registry.SHIPPED:
                raise ModelError(version.problem)
            if key in _MODEL_FAILURES:
                raise ModelError(_MODEL_FAILURES[key])
            classifier = _load_classifier(str(path), modified)
        except ModelError as exc:
            if modified:
                _MODEL_FAILURES[key] = str(exc)
            errors.append((version.name, str(exc)))
            continue
        warning = None
        if errors:
            name, why = errors[0]
            warning = f"The active model {name} cannot be used ({why}); reading with {version.name}, the last good version."
        return ActiveModel(classifier, version.name, warning, None)
    if len(errors) == 1:
        return ActiveModel(None, None, None, errors[0][1])
    return ActiveModel(None, None, None, "; ".join(f"{n}: {why}" for n, why in errors))


def active_version_name() -> str:
    from alpr import registry

    return registry.active_name(data_dir())


@st.cache_resource(show_spinner=False)
def training_device() -> dict:
    """The device a training run will use, as TensorFlow sees it from this process (the run is
    another process on the same machine): {"gpu": bool, "name", "gpus": [...], "line"}."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    cores = os.cpu_count() or 1
    if names:
        extra = "mixed precision" + (f", MirroredStrategy over {len(names)} GPUs" if len(names) > 1 else "")
        return {"gpu": True, "name": ", ".join(names), "gpus": names, "line": f"GPU: {', '.join(names)} ({extra})"}
    return {"gpu": False, "name": "CPU", "gpus": [], "line": f"CPU: no GPU found · {cores} cores"}


def imagenet_weights() -> dict[str, Path]:
    """Backbone -> ImageNet weights file in the Keras cache (~/.keras/models), for those present."""
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
    out = {}
    for backbone in ("mobilenet_v2", "inception_v3"):
        files = sorted(cache.glob(f"{backbone}*notop*.h5")) if cache.is_dir() else []
        if files:
            out[backbone] = files[0]
    return out


@st.cache_data(ttl=30, show_spinner=False)
def training_folders(roots: tuple[str, ...]) -> dict[str, str]:
    """Picker label -> folder, for the exports and labeled plate folders a run may add."""
    from alpr import jobs

    out: dict[str, str] = {}
    for root in map(Path, roots):
        for folder in jobs.training_folders([root]):
            rel = folder.relative_to(root)
            label = root.name if rel == Path(".") else f"{root.name}/{rel.as_posix()}"
            out.setdefault(label, str(folder))
    return out


@st.cache_resource(show_spinner=False, max_entries=4)
def _recover(folder: str) -> tuple[str, ...]:
    from alpr.recovery import recover

    notes = tuple(recover(folder))
    for note in notes:
        log.warning("recovered at start: %s", note)
    return notes


def startup_notes() -> tuple[str, ...]:
    """What this process tidied after a crash when it first opened the data folder (once per process)."""
    try:
        return _recover(str(data_dir().resolve()))
    except (OSError, AlprError) as exc:  # a data folder that cannot be read is reported by the pages that need it
        log.warning("could not check the data folder after a crash: %s", exc)
        return ()


# --- deep links on a fresh server ------------------------------------------------------------------
# Streamlit keeps its legacy handling of a `pages/` folder until the first run of app.py calls
# st.navigation: so the very first request of a fresh server for /train runs pages/train.py on its
# own, with none of app.py's sidebar. A page seeing that sends the session through app.py once and
# app.py sends it on to the page asked for, query parameters included.
_ROUTED_KEY = "_alpr_routed"
_DEEP_LINK_KEY = "_alpr_deep_link"


def route(pages: list) -> None:
    """Called by app.py after st.navigation: this session has a router; finish a pending deep link."""
    st.session_state[_ROUTED_KEY] = True
    pending = st.session_state.pop(_DEEP_LINK_KEY, None)
    if pending:
        url_path, params = pending
        for page in pages:
            if page.url_path == url_path:
                st.switch_page(page, query_params=params or None)


def require_router(url_path: str) -> None:
    """First line of every page: when app.py did not run first, go through it to this page."""
    if not st.session_state.get(_ROUTED_KEY):
        st.session_state[_DEEP_LINK_KEY] = (url_path, st.query_params.to_dict())
        st.switch_page(str(Path(__file__).resolve().parent.parent / "app.py"))
