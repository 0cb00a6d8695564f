"""What a webhook carries: a read, its receiver, and the exact request bodies.

Two shapes, as their receivers expect them:

* `platerecognizer`: Plate Recognizer Stream's webhook (ParkPow, Stream-Gateway, Home Assistant
  receivers): a multipart form whose `json` field is `{"hook": {"target", "id", "event",
  "filename"}, "data": {"camera_id", "filename", "timestamp", "timestamp_local", "results"}}`,
  and with `--webhook-image` the photo as the file field `upload`.
* `alpr-database`: ALPR Database's `POST /api/plate-reads` (algertc/ALPR-Database), one JSON
  object per plate, `{"plate_number", "Image", "camera", "timestamp"}`, the photo as base64 JPEG.
  It answers 201 for a new read and 409 for one it holds already (same plate and timestamp), so a
  retry of a delivery it took is recognised, not stored twice.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import numpy as np

from alpr.config import WebhookConfig

FORMATS = ("platerecognizer", "alpr-database")
EVENTS = ("recognition", "alert")


@dataclass(frozen=True)
class Target:
    """One receiver: where, in which shape, and what it needs."""

    url: str
    format: str = "platerecognizer"
    image: bool = False  # platerecognizer: also send the photo as the file field `upload`
    api_key: str | None = field(default=None, repr=False)  # alpr-database: its `x-api-key`

    @property
    def wants_image(self) -> bool:
        return self.image or self.format == "alpr-database"

    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key} if self.api_key else {}

    def done(self, status: int) -> bool:
        """Whether an answer with this status means the receiver holds the delivery."""
        return 200 <= status < 300 or (status == 409 and self.format == "alpr-database")


@dataclass(frozen=True)
class ReadEvent:
    """One read to send: where and when it was seen, its plates, and its photo when a receiver wants it."""

    camera_id: str
    filename: str
    timestamp: str  # ISO 8601 UTC ("2026-05-01T12:00:00.123456Z"): when the photo was taken, else read
    results: tuple[dict, ...]  # Plate Recognizer result objects (see `result`), best first
    image: bytes | None = None  # JPEG
    extra: dict = field(default_factory=dict)  # more keys for `data` (a watch-list match)


def iso_utc(seconds: float | None = None) -> str:
    """Unix seconds (default: now) as Plate Recognizer writes a timestamp."""
    moment = datetime.now(UTC) if seconds is None else datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat().replace("+00:00", "Z")


def result(
    plate: str,
    score: float,
    box: tuple[int, int, int, int],
    candidates: list[tuple[str, float]],
    region_code: str,
    fits_region: bool,
    dscore: float | None = None,
    **extra,
) -> dict:
    """One plate as a Plate Recognizer result: `score`s 0..1, `box` as (xmin, ymin, xmax, ymax) in
    photo pixels, plates lower case as Plate Recognizer writes them. `dscore` is left out when the
    reader did not keep the detector's score (batch rows, clips)."""
    xmin, ymin, xmax, ymax = (int(v) for v in box)
    out = {
        "box": {"xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax},
        "plate": plate.lower(),
        "region": {"code": region_code, "score": 1.0 if fits_region else 0.0},
        "score": round(float(score), 3),
        "candidates": [{"score": round(float(s), 3), "plate": p.lower()} for p, s in candidates],
    }
    if dscore is not None:
        out["dscore"] = round(float(dscore), 3)
    out["vehicle"] = {"score": 0.0, "type": "Unknown", "box": dict(out["box"])}
    return out | extra


def jpeg(image: np.ndarray | str | Path, config: WebhookConfig) -> bytes:
    """A photo as the JPEG a receiver gets: an RGB array, or a file (a JPEG already small enough
    is sent as it is), shrunk to `max_image_side`."""
    from PIL import Image, ImageOps

    if isinstance(image, np.ndarray):
        picture = Image.fromarray(np.ascontiguousarray(image[..., :3] if image.ndim == 3 else image))
    else:
        with Image.open(image) as probe:
            if probe.format == "JPEG" and max(probe.size) <= config.max_image_side:
                return Path(image).read_bytes()
            picture = ImageOps.exif_transpose(probe).convert("RGB")
    if max(picture.size) > config.max_image_side:
        picture.thumbnail((config.max_image_side, config.max_image_side))
    out = io.BytesIO()
    picture.convert("RGB").save(out, "JPEG", quality=config.jpeg_quality)
    return out.getvalue()


def bodies(event: ReadEvent, target: Target, kind: str = "recognition") -> list[tuple[str, bytes]]:
    """(content type, body) of each request `target` gets for `event`: none for a read without a
    plate; one for Plate Recognizer's shape; one per plate for ALPR Database's (which takes one
    plate a request), and none of an alert (ALPR Database alerts on its own known plates)."""
    if not event.results:
        return []
    if target.format == "alpr-database":
        if kind != "recognition":
            return []
        image = {"Image": base64.b64encode(event.image).decode("ascii")} if event.image else {}
        return [
            (
                "application/json",
                json.dumps(
                    {
                        "plate_number": r["plate"].upper(),
                        **image,
                        "camera": event.camera_id,
                        "timestamp": event.timestamp,
                    }
                ).encode(),
            )
            for r in event.results
        ]
    payload = {
        "hook": {"target": target.url, "id": event.camera_id, "event": kind, "filename": event.filename},
        "data": {
            "camera_id": event.camera_id,
            "filename": event.filename,
            "timestamp": event.timestamp,
            "timestamp_local": _local(event.timestamp),
            "results": list(event.results),
            **event.extra,
        },
    }
    parts = [("json", None, None, json.dumps(payload).encode())]
    if target.image and event.image:
        parts.append(("upload", _file_name(event.filename), "image/jpeg", event.image))
    return [multipart(parts)]


def multipart(parts: list[tuple[str, str | None, str | None, bytes]]) -> tuple[str, bytes]:
    """A multipart/form-data body of (field, file name or None, content type or None, bytes)."""
    boundary = uuid.uuid4().hex
    chunks = []
    for name, filename, content_type, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        chunks.append(head.encode() + b"\r\n" + data + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(chunks)


def _file_name(filename: str) -> str:
    """The photo's name for the `upload` part: its last path part, as a JPEG, without quotes or line breaks."""
    stem = PurePosixPath(filename.replace("\\", "/")).stem or "upload"
    return "".join(c for c in stem if c not in '"\r\n') + ".jpg"


def _local(timestamp: str) -> str:
    """The timestamp in this machine's time zone, as Stream's `timestamp_local` ("2021-09-29 07:56:13.606935+02:00")."""
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    return moment.astimezone().isoformat(sep=" ")
