"""Rendered test clips: cars with known plates driving across a street, encoded with PyAV.

Built from `alpr.synth`'s street, car and plate drawings, so the tests, the benchmark and the
Video page's sample all have clips whose every plate and every car's path is known. Each car is
drawn once as a sprite and moved; every frame gets its own sensor noise and, optionally, blur.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageFilter

from alpr import synth


@dataclass(frozen=True)
class Car:
    """One car of a clip: its plate, when it is in view and where it drives.

    `x0`, `x1` are the plate centre's horizontal positions (fractions of the frame's width) at
    `enter_s` and `leave_s`; outside that time the car is not drawn (it entered or left the view).
    """

    plate: str
    enter_s: float
    leave_s: float
    x0: float = -0.1
    x1: float = 1.1
    y: float = 0.62  # plate centre, fraction of the frame's height
    plate_width: float = 0.09  # fraction of the frame's width: a car about half the frame wide
    style: str = "us"
    seed: int = 0

    def x_at(self, t: float) -> float:
        f = (t - self.enter_s) / max(1e-6, self.leave_s - self.enter_s)
        return self.x0 + (self.x1 - self.x0) * f

    @property
    def direction(self) -> str:
        return "right" if self.x1 > self.x0 else "left"


def _sprite(car: Car, width: int) -> tuple[Image.Image, tuple[float, float]]:
    """The car's rear with its plate as an RGBA image, and the plate centre's place on it."""
    rng = np.random.default_rng(car.seed)
    pw = width * car.plate_width
    ph = pw / synth.PLATE_ASPECT[car.style]
    car_w = pw * synth.CAR_PER_PLATE[car.style]
    W, H = int(car_w * 1.15), int(car_w * 1.05)
    cx, cy = W / 2, H * 0.62
    img = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    pad = ph * 0.28
    recess = synth.quad(cx, cy, pw + 2 * pad, ph + 2 * pad, 0.0)
    synth.car(img, rng, cx, cy, car_w, recess)
    plate, _ = synth.render_plate(car.plate, rng, car.style, height=max(12, round(ph)))
    src = [(0, 0), (plate.shape[1], 0), (plate.shape[1], plate.shape[0]), (0, plate.shape[0])]
    coeffs = synth.perspective_coeffs(tuple(synth.quad(cx, cy, pw, ph, 0.0)), tuple(src))
    layer = (
        Image.fromarray(plate)
        .convert("RGBA")
        .transform(img.size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC)
    )
    img.alpha_composite(layer)
    return img, (cx, cy)


def render_frames(
    cars: list[Car],
    size: tuple[int, int] = (640, 360),
    fps: float = 10.0,
    seconds: float = 3.0,
    seed: int = 0,
    blur: float = 0.0,
) -> Iterator[np.ndarray]:
    """RGB uint8 frames of the street with the cars where they are at each frame's time."""
    W, H = size
    rng = np.random.default_rng(seed)
    street = synth.street(rng, W, H)
    sprites = [_sprite(car, W) for car in cars]
    for i in range(round(seconds * fps)):
        t = i / fps
        img = street.copy()
        # Nearer cars (lower in the frame) are drawn last, over the farther ones.
        for car, (sprite, (sx, sy)) in sorted(zip(cars, sprites), key=lambda cs: cs[0].y):
            if car.enter_s <= t <= car.leave_s:
                x, y = car.x_at(t) * W - sx, car.y * H - sy
                img.paste(sprite, (round(x), round(y)), sprite)
        if blur:
            img = img.filter(ImageFilter.GaussianBlur(blur))
        arr = np.asarray(img, np.float32) + rng.normal(0, 2.5, (H, W, 3))
        yield np.clip(arr, 0, 255).astype(np.uint8)


# (container, codec, pixel format) per extension
_FORMATS = {
    ".mp4": ("mp4", "libx264", "yuv420p"),
    ".mov": ("mov", "libx264", "yuv420p"),
    ".webm": ("webm", "libvpx-vp9", "yuv420p"),
    ".mkv": ("matroska", "libx264", "yuv420p"),
    ".avi": ("avi", "mjpeg", "yuvj420p"),
}


def encode(
    frames, path: str | Path, fps: float = 10.0, codec: str | None = None, audio: bool = False, quality: int = 23
) -> Path:
    """Write RGB frames into a clip; the container (and default codec) follows the extension.

    `audio=True` adds a silent audio track, as a phone's recording has one.
    """
    path = Path(path)
    fmt, default_codec, pix_fmt = _FORMATS[path.suffix.lower()]
    codec = codec or default_codec
    if codec == "mjpeg":
        pix_fmt = "yuvj420p"
    # MP4/MOV with their index first (as web video is served): a copy cut short still opens.
    options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
    with av.open(str(path), "w", format=fmt, options=options) as out:
        stream = None
        for image in frames:
            if stream is None:
                stream = out.add_stream(codec, rate=round(fps) if float(fps).is_integer() else fps)
                stream.width, stream.height, stream.pix_fmt = image.shape[1], image.shape[0], pix_fmt
                if codec == "libx264":
                    stream.options = {"crf": str(quality), "preset": "veryfast"}
                elif codec == "libvpx-vp9":
                    stream.options = {"crf": "32", "b:v": "0", "deadline": "realtime", "cpu-used": "8"}
                if audio:
                    sound = out.add_stream("aac", rate=16000)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        if stream is None:
            raise ValueError("no frames to encode")
        for packet in stream.encode():
            out.mux(packet)
        if audio:
            _silence(out, sound, seconds=1.0)
    return path


def _silence(out, stream, seconds: float) -> None:
    rate = stream.codec_context.sample_rate
    samples = np.zeros((1, int(rate * seconds)), np.float32)
    frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
    frame.sample_rate = rate
    for packet in stream.encode(frame):
        out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def encode_audio_only(path: str | Path, seconds: float = 1.0) -> Path:
    """An M4A-like MP4 holding nothing but silence: a phone's voice memo uploaded by mistake."""
    path = Path(path)
    with av.open(str(path), "w", format="mp4") as out:
        _silence(out, out.add_stream("aac", rate=16000), seconds)
    return path


def traffic(
    seconds: float = 6.0, plates: tuple[str, ...] = ("ABC1234", "7XYZ432", "KLM5678"), seed: int = 0
) -> list[Car]:
    """Cars driving across one after another, alternating direction, each in view ~`seconds/n`
    plus an overlap, so two are sometimes in view at once (as the tracker must tell apart)."""
    n = len(plates)
    span = seconds / n
    cars = []
    for i, plate in enumerate(plates):
        start = i * span * 0.85
        forward = i % 2 == 0
        cars.append(
            Car(
                plate,
                start,
                min(seconds, start + span * 1.3),
                x0=-0.05 if forward else 1.05,
                x1=1.05 if forward else -0.05,
                y=0.6 + 0.06 * (i % 2),
                seed=seed + i,
            )
        )
    return cars


def duration_frames(seconds: float, fps: float) -> int:
    return math.floor(seconds * fps)
