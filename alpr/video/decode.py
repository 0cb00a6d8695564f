"""Decode a clip as a stream of sampled RGB frames with PyAV (FFmpeg in its wheel).

Frames are decoded one packet at a time and handed on at once, so memory stays flat with the
clip's length. A packet that fails to decode is skipped with a warning and the rest is still
read; a file that is not a readable clip raises one of the named `VideoError`s with a one-line
message.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from alpr.errors import (
    CorruptVideoError,
    EmptyVideoError,
    NoVideoStreamError,
    UnsupportedVideoError,
    VideoError,
)
from alpr.video.config import DEFAULT_VIDEO, VideoConfig

# Extensions taken as clips by `python -m alpr recognize` and offered by the Video page.
# (The CLI also sniffs the content of a file with another extension, see `is_clip`.)
CLIP_TYPES = ("mp4", "m4v", "mov", "webm", "mkv", "avi", "mjpeg", "mjpg")

Source = str | os.PathLike | bytes
Warn = Callable[[str], None]


@dataclass(frozen=True)
class ClipInfo:
    """What the container says about the clip, before any frame is decoded."""

    name: str
    codec: str
    width: int  # as stored; frames are handed on downscaled to `VideoConfig.max_side`
    height: int
    fps: float  # average frame rate; 0 when the container does not say
    duration_s: float  # 0 when the container does not say (an MJPEG stream, a live capture)
    frames: int  # frame count the container declares; 0 when unknown

    @property
    def estimated_frames(self) -> int:
        return self.frames or round(self.duration_s * self.fps)


@dataclass(frozen=True, eq=False)
class Frame:
    """One sampled frame: its place in the clip and its pixels (RGB uint8, possibly downscaled)."""

    index: int  # 0-based count of decoded frames
    time_s: float
    image: np.ndarray


def is_clip(name: str | os.PathLike) -> bool:
    """Whether a path names a clip: by extension, else by a look at its first bytes."""
    path = Path(name)
    if path.suffix.lower().lstrip(".") in CLIP_TYPES:
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    # ISO media (MP4/MOV: "ftyp" at byte 4), Matroska/WebM (EBML magic), AVI (RIFF....AVI ).
    return (
        head[4:8] in (b"ftyp", b"moov", b"mdat")
        or head[:4] == b"\x1a\x45\xdf\xa3"
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
    )


def _label(source: Source, name: str | None) -> str:
    if name:
        return name
    return "the clip" if isinstance(source, bytes) else str(source)


def _open(source: Source, label: str, config: VideoConfig):
    """The open container and its first video stream, or a named error saying why not."""
    if isinstance(source, bytes):
        size = len(source)
        target: object = io.BytesIO(source)
    else:
        path = Path(source)
        if path.is_dir():
            raise UnsupportedVideoError(f"{label} is a folder, not a clip")
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise VideoError(f"cannot open {label}: {exc.strerror or exc}") from None
        target = str(path)
    if size == 0:
        raise EmptyVideoError(f"{label} is empty (0 bytes): the upload or copy did not finish")
    if size > config.max_bytes:
        raise VideoError(
            f"{label} is {size / 2**20:.0f} MB, more than the {config.max_bytes / 2**20:.0f} MB "
            "a clip may be; cut it shorter (e.g. ffmpeg -t 60) or raise VideoConfig.max_bytes"
        )
    try:
        container = av.open(target, mode="r")
    except av.FFmpegError as exc:
        raise UnsupportedVideoError(
            f"{label} is not a video FFmpeg can read ({_reason(exc)}); use MP4/H.264, WebM, MOV or MJPEG"
        ) from None
    except OSError as exc:
        raise VideoError(f"cannot open {label}: {exc.strerror or exc}") from None
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        container.close()
        raise NoVideoStreamError(
            f"{label} has no video stream (it holds {', '.join(kinds)}): nothing to read plates in"
        )
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if min(width, height) < 8:
        container.close()
        raise UnsupportedVideoError(f"{label} has {width}x{height} frames: too small to hold a readable plate")
    if width * height > config.max_pixels:
        container.close()
        raise UnsupportedVideoError(
            f"{label} has {width}x{height} frames, more than the {config.max_pixels / 1e6:.0f} Mpx this reader "
            "accepts; downscale it first (e.g. ffmpeg -vf scale=1920:-2)"
        )
    stream.thread_type = "AUTO"  # frame threads: decoding a 1080p H.264 stream is ~2x faster on 2 cores
    return container, stream


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[0].strip().lower() if text else type(exc).__name__


def _info(container, stream, label: str) -> ClipInfo:
    fps = float(stream.average_rate or stream.guessed_rate or 0)
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    else:
        duration = 0.0
    return ClipInfo(
        label,
        stream.codec_context.name,
        stream.codec_context.width,
        stream.codec_context.height,
        fps,
        max(0.0, duration),
        int(stream.frames or 0),
    )


def probe(source: Source, config: VideoConfig = DEFAULT_VIDEO, name: str | None = None) -> ClipInfo:
    """The clip's codec, size, rate and length; raises a `VideoError` when it is not a readable clip."""
    label = _label(source, name)
    container, stream = _open(source, label, config)
    try:
        return _info(container, stream, label)
    finally:
        container.close()


def output_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Frame size after downscaling to `max_side`, even on both sides (what YUV formats need)."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


class _Sampler:
    """Decides which decoded frames are read: every Nth, or N per second by their timestamps."""

    def __init__(self, config: VideoConfig):
        self.every = config.every
        self.step = 0.0 if config.every else 1.0 / (config.fps or config.default_fps)
        self.next_time = 0.0

    def take(self, index: int, time_s: float) -> bool:
        if self.every:
            return index % self.every == 0
        if time_s + 1e-6 < self.next_time:
            return False
        # Step from the frame taken, not from the ideal grid: a gap in the clip (dropped frames)
        # then restarts the rhythm instead of taking a burst of frames to catch up.
        self.next_time = max(self.next_time + self.step, time_s + self.step * 0.5)
        return True


def frames(
    source: Source,
    config: VideoConfig = DEFAULT_VIDEO,
    name: str | None = None,
    warn: Warn | None = None,
    info: Callable[[ClipInfo], None] | None = None,
) -> Iterator[Frame]:
    """The sampled frames of a clip in order, each downscaled to `config.max_side`.

    `info` is called once with the clip's `ClipInfo` before the first frame; `warn` with a
    one-line message for each packet that fails to decode, a clip that ends before its declared
    length, or one cut at `max_duration_s`. Raises a `VideoError` when the clip cannot be opened
    or not one frame of it decodes.
    """
    label = _label(source, name)
    warn = warn or (lambda message: None)
    container, stream = _open(source, label, config)
    try:
        clip = _info(container, stream, label)
        if info is not None:
            info(clip)
        size = output_size(clip.width, clip.height, config.max_side)
        sampler = _Sampler(config)
        decoded = failed = 0
        last_time = 0.0
        base = stream.time_base or Fraction(1, 1)
        start = float(stream.start_time * base) if stream.start_time is not None else 0.0
        for packet in _packets(container, stream, label, warn):
            try:
                decoded_frames = packet.decode()
            except (av.FFmpegError, ValueError) as exc:
                failed += 1
                warn(f"{label}: a frame at about {last_time:.2f} s could not be decoded ({_reason(exc)}); skipped it")
                continue
            for frame in decoded_frames:
                index = decoded
                decoded += 1
                if frame.pts is not None:
                    last_time = max(0.0, float(frame.pts * base) - start)
                elif clip.fps:
                    last_time = index / clip.fps
                if last_time > config.max_duration_s:
                    warn(
                        f"{label}: read the first {config.max_duration_s:g} s of {clip.duration_s:.0f} s "
                        "(VideoConfig.max_duration_s)"
                    )
                    return
                if sampler.take(index, last_time):
                    image = frame.to_ndarray(format="rgb24", width=size[0], height=size[1])
                    yield Frame(index, round(last_time, 3), image)
        if decoded == 0:
            raise CorruptVideoError(
                f"{label}: not one frame could be decoded; the file is damaged or not a {clip.codec} stream"
            )
        if clip.duration_s and last_time + max(1.0, 2 / (clip.fps or 1)) < clip.duration_s:
            warn(
                f"{label}: the clip ends at {last_time:.1f} s of the {clip.duration_s:.1f} s it declares "
                "(cut short or damaged); read what was there"
            )
    finally:
        container.close()


def _packets(container, stream, label: str, warn: Warn):
    """The stream's packets, and then a flush packet; a container that breaks off ends the stream
    with a warning instead of an exception, so what was read is kept."""
    demux = container.demux(stream)
    while True:
        try:
            packet = next(demux)
        except StopIteration:
            return
        except (av.FFmpegError, ValueError) as exc:
            warn(f"{label}: the container breaks off ({_reason(exc)}); read what came before")
            return
        yield packet  # the last one (size 0) flushes the decoder's buffered frames


def frame_at(source: Source, time_s: float, config: VideoConfig = DEFAULT_VIDEO, name: str | None = None) -> Frame:
    """The frame shown at `time_s`, downscaled as `frames` hands it on: seek to the keyframe before,
    then decode forward, so showing one late frame does not decode the whole clip."""
    label = _label(source, name)
    container, stream = _open(source, label, config)
    try:
        clip = _info(container, stream, label)
        size = output_size(clip.width, clip.height, config.max_side)
        base = stream.time_base or Fraction(1, 1)
        start = float(stream.start_time * base) if stream.start_time is not None else 0.0
        tolerance = 0.5 / clip.fps if clip.fps else 0.02
        try:
            container.seek(int((time_s + start) / base), stream=stream, backward=True, any_frame=False)
        except av.FFmpegError:
            container.seek(0, stream=stream)
        best = None
        for packet in _packets(container, stream, label, lambda message: None):
            try:
                decoded_frames = packet.decode()
            except (av.FFmpegError, ValueError):
                continue
            for frame in decoded_frames:
                t = float(frame.pts * base) - start if frame.pts is not None else 0.0
                best = frame, t
                if t >= time_s - tolerance:
                    image = frame.to_ndarray(format="rgb24", width=size[0], height=size[1])
                    return Frame(-1, round(t, 3), image)
        if best is None:
            raise CorruptVideoError(f"{label}: no frame could be decoded at {time_s:.2f} s")
        frame, t = best
        return Frame(-1, round(t, 3), frame.to_ndarray(format="rgb24", width=size[0], height=size[1]))
    finally:
        container.close()
