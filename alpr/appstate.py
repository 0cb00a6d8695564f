"""What the app's pages share: the loaded model, the sample photos, and cached reads.

Kept out of the page files so the pages read as a description of the UI. This is the only module
of the package that imports Streamlit; the pipeline itself never does.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from alpr.classify import DEFAULT_MODEL, CharClassifier, load_classifier
from alpr.errors import ModelError
from alpr.imageio import encode_png, load_image
from alpr.pipeline import recognize
from alpr.report import to_openalpr
from alpr.synth import sample_scenes
from alpr.types import Recognition

# The upload widget's and the samples folder's accepted types: what `load_image` decodes.
IMAGE_TYPES = ("jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif")
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
    return load_classifier(path)


def try_classifier() -> tuple[CharClassifier | None, str | None]:
    """The shipped model, loaded once per process, or None and the reason it cannot be used."""
    try:
        modified = DEFAULT_MODEL.stat().st_mtime_ns
    except OSError:
        modified = 0  # load_classifier then raises the ModelError that says what is missing
    try:
        return _load_classifier(str(DEFAULT_MODEL), modified), None
    except ModelError as exc:
        return None, str(exc)


def get_classifier() -> CharClassifier:
    """The model for a page that cannot work without it: shows why and stops the page if unusable."""
    classifier, error = try_classifier()
    if classifier is None:
        st.error(f"The character model cannot be used: {error}", icon=":material/error:")
        st.stop()
    return classifier


@st.cache_resource(show_spinner=False)
def device_line() -> str:
    """Where inference runs, for the sidebar: the installed TensorFlow sees a GPU or it does not."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    where = f"GPU ({len(gpus)})" if gpus else "CPU"
    return f"{where} · TensorFlow {tf.__version__}"


def model_summary(classifier: CharClassifier) -> list[str]:
    """Short Markdown lines describing the model, from its metadata file."""
    meta = classifier.info.metadata
    lines = [f"**Model** `{classifier.info.version}`"]
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
    return rec


def openalpr_json(rec: Recognition, name: str) -> str:
    """The read as OpenALPR's `alpr -j` JSON, for the download button."""
    return json.dumps(to_openalpr(rec, name), indent=2)
