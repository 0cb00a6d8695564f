"""The photos the Recognize page offers without an upload: rendered scenes, and a folder's photos."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from alpr.imageio import IMAGE_TYPES, encode_png
from alpr.paths import SAMPLES_DIR_ENV
from alpr.synth import sample_scenes

# Enough synthetic photos to show each plate style (us, eu, br) twice.
SAMPLE_COUNT = 6
SAMPLE_SEED = 0
# A folder of thousands of photos must not make a picker nobody can scroll.
MAX_FOLDER_FILES = 500


@dataclass(frozen=True)
class Photo:
    """One photo to read: a display name, the file's bytes, and the plate it shows when known."""

    name: str
    data: bytes
    expected: str | None = None


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
    return files[:MAX_FOLDER_FILES]


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
