"""What the Video page needs beyond widgets: reading a clip once per session, frames on demand,
thumbnails, and storing a group's best frame for relabeling. The only Streamlit module of
`alpr.video`."""

from __future__ import annotations

import base64
import hashlib
import io
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from alpr import app as appstate
from alpr.app.watchlist_view import label as watch_label
from alpr.errors import AlprError, StoreError
from alpr.pipeline import recognize
from alpr.types import Recognition
from alpr.video import decode
from alpr.video.config import DEFAULT_VIDEO
from alpr.video.reader import FRAME_CONFIG, ClipRead, read_clip
from alpr.video.track import VehicleGroup

_READS_KEY = "_alpr_video_reads"
_MAX_READS = 4  # clips kept per session: a ClipRead is small (reads and a crop per car)
# Uploaded clips kept on disk for seeking frames, newest first, for every session of the server:
# enough for a few people's current clips, bounded however many clips are uploaded.
_MAX_CLIP_FILES = 8
SAMPLE_NAME = "rendered traffic.mp4"


@dataclass(frozen=True)
class Clip:
    """An uploaded or sample clip: its name and bytes, kept on disk so frames can be sought."""

    name: str
    path: Path
    digest: str


def clip_of(name: str, data: bytes) -> Clip:
    digest = hashlib.sha256(data).hexdigest()
    folder = Path(tempfile.gettempdir()) / "alpr-video"
    folder.mkdir(exist_ok=True)
    path = folder / f"{digest[:24]}{Path(name).suffix.lower() or '.mp4'}"
    if not path.exists():
        path.write_bytes(data)
        for old in sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)[_MAX_CLIP_FILES:]:
            old.unlink(missing_ok=True)
    return Clip(name, path, digest)


@st.cache_data(show_spinner="Rendering a sample clip…", max_entries=1)
def sample_clip() -> bytes:
    """Three cars crossing a street, 12 s of 640x360 H.264 drawn by the project's renderer."""
    from alpr.video import synthclip

    path = Path(tempfile.gettempdir()) / "alpr-video-sample.mp4"
    cars = synthclip.traffic(12.0, plates=("ABC1234", "7XYZ432", "KLM5678"))
    synthclip.encode(synthclip.render_frames(cars, seconds=12.0), path)
    return path.read_bytes()


def read(clip: Clip, fps: float, progress) -> ClipRead:
    """The clip's read, once per (contents, sampling, model) per session. Raises VideoError."""
    classifier = appstate.get_classifier()
    key = (clip.digest, fps, classifier.info.version)
    reads: OrderedDict = st.session_state.setdefault(_READS_KEY, OrderedDict())
    if key not in reads:
        reads[key] = read_clip(
            clip.path, classifier, DEFAULT_VIDEO.sampling(fps=fps), name=clip.name, progress=progress
        )
        while len(reads) > _MAX_READS:
            reads.popitem(last=False)
    reads.move_to_end(key)
    return reads[key]


@st.cache_data(show_spinner=False, max_entries=16)
def frame_read(path: str, time_s: float, model_version: str) -> Recognition:
    """The full read of the sampled frame at `time_s` (decoded again: frames are never kept)."""
    frame = decode.frame_at(path, time_s, DEFAULT_VIDEO)
    return recognize(frame.image, classifier=appstate.get_classifier(), config=FRAME_CONFIG)


def _thumbnail(crop: np.ndarray | None, height: int = 48) -> str | None:
    if crop is None or not crop.size:
        return None
    image = Image.fromarray(crop)
    image = image.resize((max(1, round(image.width * height / image.height)), height))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def group_label(i: int, g: VehicleGroup) -> str:
    return f"Vehicle {i + 1} · {g.plate} · {g.time_start_s:.1f}-{g.time_end_s:.1f} s"


def groups_table(groups: tuple[VehicleGroup, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Plate crop": [_thumbnail(g.crop) for g in groups],
            "Plate": [g.plate for g in groups],
            "Confidence": [g.confidence for g in groups],
            "From (s)": [g.time_start_s for g in groups],
            "To (s)": [g.time_end_s for g in groups],
            "Frames": [g.frame_count for g in groups],
            "Direction": [g.direction or "" for g in groups],
            "Watch list": [watch_label(g.plate) for g in groups],
        },
        index=pd.RangeIndex(1, len(groups) + 1, name="Vehicle"),
    )


def reads_table(group: VehicleGroup) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Frame": [r.frame for r in group.reads],
            "Time (s)": [r.time_s for r in group.reads],
            "Read": [r.plate for r in group.reads],
            "Confidence": [r.confidence for r in group.reads],
            "Agrees": [r.plate == group.plate for r in group.reads],
        }
    )


def store_best_frame(clip: Clip, group: VehicleGroup) -> int | None:
    """Store the group's best frame like a photo (as the Recognize page does) with the voted plate
    as its best candidate; returns the plate id to open on Relabel, None (said on the page) when
    the store cannot be written or the frame no longer reads."""
    classifier = appstate.get_classifier()
    frame = decode.frame_at(clip.path, group.best.time_s, DEFAULT_VIDEO)
    rec = recognize(frame.image, classifier=classifier, config=FRAME_CONFIG)
    if not rec.plates:
        st.warning("That frame no longer shows a readable plate.", icon=":material/warning:")
        return None
    # The plate of that frame nearest the group's box goes first, so Relabel opens the car chosen.
    plates = sorted(rec.plates, key=lambda p: -p.box.iou(group.best.box))
    rec = replace(rec, plates=tuple(plates))
    store, error = appstate.try_store()
    name = f"{Path(clip.name).stem} frame {group.best.frame}.png"
    try:
        if store is None:
            raise StoreError(error)
        ids = store.add_recognition(frame.image, rec, name, classifier.info.version)
    except AlprError as exc:
        st.warning(f"The frame could not be kept for relabeling: {exc}", icon=":material/warning:")
        return None
    return ids[0] if ids else None
