"""What one row of the label store holds, checked and encoded: labels, plate texts, photos and
character crops as PNG. Shared by the store, its segment fixes and its import."""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from alpr.errors import StoreError
from alpr.types import ALL_CLASSES, REJECT, Box, CharCrop, Prediction

# Photos are kept to show plates in context, not to re-detect at full resolution: 1600 px keeps a
# 60 px wide plate legible while a 12 Mpx phone photo shrinks from ~5 MB to ~1.5 MB of PNG.
PHOTO_MAX_SIDE = 1600

SOURCES = ("model", "person", "import")
TRAINING_SOURCES = ("person", "import")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def check_label(label) -> str:
    """A class name of ALL_CLASSES; lower-case letters are accepted as their capitals."""
    text = str(label).strip().upper() if isinstance(label, str) else label
    if text not in ALL_CLASSES:
        raise StoreError(
            f"{label!r} is not a character class; a label is one of 0-9, A-Z, or {REJECT!r} for a segment "
            "that is not a character"
        )
    return text


def check_source(source: str) -> None:
    if source not in SOURCES:
        raise StoreError(f"unknown label source {source!r}; choose one of {', '.join(SOURCES)}")


SEPARATORS = re.compile(r"[\s\-.·]")


def clean_plate_text(text) -> str:
    """Plate text as stored: upper case without spaces, dashes or dots; "_" marks a non-character."""
    cleaned = SEPARATORS.sub("", str(text)).upper()
    if not cleaned:
        raise StoreError(f"plate text {text!r} is empty; type the characters of the plate, e.g. ABC1234")
    bad = sorted(set(cleaned) - set(ALL_CLASSES))
    if bad:
        raise StoreError(
            f"plate text {text!r} has {''.join(bad)!r}, which are not plate characters; use 0-9, A-Z "
            f"and {REJECT!r} for a segment that is not a character"
        )
    return cleaned


def as_rgb(image) -> np.ndarray:
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise StoreError(
            f"photos are stored from uint8 RGB arrays; got dtype {array.dtype}: load them with alpr.imageio.load_image"
        )
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise StoreError(f"photos are stored from (H, W, 3) RGB arrays; got shape {array.shape}")
    return np.ascontiguousarray(array)


@dataclass
class PhotoRow:
    image: np.ndarray
    sha256: str
    name: str
    encoded: bytes | None  # the PNG, encoded before the write lock is taken unless already stored

    @classmethod
    def of(cls, image, name: str, has_photo: Callable[[str], bool]) -> "PhotoRow":
        rgb = as_rgb(image)
        h, w = rgb.shape[:2]
        digest = hashlib.sha256(f"{h}x{w}x3:".encode() + rgb.tobytes()).hexdigest()
        photo = cls(rgb, digest, str(name), None)
        if not has_photo(digest):
            photo.encoded = photo.png()
        return photo

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    def png(self) -> bytes:
        img = Image.fromarray(self.image)
        if max(img.size) > PHOTO_MAX_SIDE:
            f = PHOTO_MAX_SIDE / max(img.size)
            img = img.resize((max(1, round(img.width * f)), max(1, round(img.height * f))), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        img.save(buffer, format="PNG")
        return buffer.getvalue()


@dataclass(frozen=True)
class CharRow:
    line: int
    box: Box  # photo pixels
    png: bytes
    pred_char: str | None
    pred_conf: float | None
    topk: str | None


def char_rows(chars: Sequence[CharCrop], crop_box: Box, predictions: Sequence[Prediction] | None) -> list[CharRow]:
    """Character rows ready to insert: boxes moved from crop to photo pixels, crops encoded."""
    if predictions is not None and len(predictions) != len(chars):
        raise StoreError(f"got {len(chars)} character crops but {len(predictions)} predictions; they must pair up")
    rows = []
    for i, c in enumerate(chars):
        p = predictions[i] if predictions is not None else None
        rows.append(
            CharRow(
                c.line,
                c.box.shifted(crop_box.x, crop_box.y),
                encode_crop(c.image),
                check_label(p.char) if p else None,
                float(p.confidence) if p else None,
                json.dumps([[k, round(float(v), 6)] for k, v in p.topk]) if p else None,
            )
        )
    return rows


def encode_crop(image: np.ndarray) -> bytes:
    grey = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
    buffer = io.BytesIO()
    Image.fromarray((grey * 255 + 0.5).astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


# Crops are 32x32; anything near this size is not a character crop (and might be a decompression bomb).
MAX_CROP_PIXELS = 1024 * 1024


def decode_crop(png: bytes, size: int | None) -> np.ndarray:
    """A stored or imported crop as float32 in [0, 1], resized to size x size when it differs."""
    try:
        # PNG only: imported crops are untrusted, and Pillow's rarer parsers need not see them.
        img = Image.open(io.BytesIO(png), formats=("PNG",))
        if img.width * img.height > MAX_CROP_PIXELS:
            raise StoreError(f"a {img.width}x{img.height} image is too large for a character crop")
        img.load()
    except StoreError:
        raise
    except Exception as exc:  # Pillow raises many types for a damaged file; all mean "not a crop"
        raise StoreError(f"not a readable PNG crop ({type(exc).__name__}: {exc})") from None
    img = img.convert("L")
    if size is None:
        size = 32 if img.size == (32, 32) else None
        if size is None:
            from alpr.config import DEFAULT

            size = DEFAULT.classify.input_size
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img, np.float32) / 255.0
