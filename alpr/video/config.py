"""Every tunable of clip reading, with the reason for its default."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class VideoConfig:
    # --- sampling -------------------------------------------------------------------------------
    # Frames read per second of clip when neither `every` nor `fps` is given. A car crossing a
    # 720p frame takes 3-5 s, so 2 reads a second still see each plate 6-10 times, enough for the
    # vote; a 720p frame takes ~0.25 s to read on an idle 2-core machine (~0.5 s when it is shared),
    # so 2/s reads a clip in about its own length (scripts/bench_video.py measures it).
    default_fps: float = 2.0
    # Read every Nth decoded frame instead (None: sample by `fps`).
    every: int | None = None
    # Frames read per second of clip (None: `default_fps`, unless `every` is set).
    fps: float | None = None
    # --- limits ---------------------------------------------------------------------------------
    # Seconds of clip read at most; the rest is skipped with a warning. Ten minutes bounds one
    # upload's work to about ten minutes; a longer recording belongs in the CLI with a bigger value.
    max_duration_s: float = 600.0
    # Frames are downscaled so their longer side is at most this before reading: detection works
    # at <= 1280 px anyway (DetectConfig.max_side), and a 4K frame would only cost decode time.
    max_side: int = 1280
    # A clip whose frames are larger than this is refused before decoding: 8K (33 Mpx) is the
    # largest real camera format; beyond it the header is more likely a lie than a camera.
    max_pixels: int = 40_000_000
    # Uploads larger than this are refused before decoding (60 s of 1080p H.264 is ~30-60 MB).
    max_bytes: int = 500 * 1024 * 1024
    # --- tracking -------------------------------------------------------------------------------
    # A read joins a group seen at most this long ago: a car hidden behind another for a moment
    # still continues its group, two cars with the same plate minutes apart do not.
    window_s: float = 1.5
    # ... when its centre moved at most this many plate widths per second since the group's last
    # read (cars crossing a frame in 2 s move ~4 plate widths a second at 720p).
    max_shift_per_s: float = 8.0
    # ... and its plate is at most this much larger or smaller (an approaching car grows ~10%/frame).
    max_size_ratio: float = 1.8
    # ... and its text is at least this similar (1 - edit distance / length): a misread character
    # or two of seven still joins, another car's plate does not.
    min_text_similarity: float = 0.5
    # A read this similar joins regardless of position (the same plate re-found after a jump of
    # the detector to a neighbouring region).
    same_text_similarity: float = 0.85
    # Groups with fewer reads than this are dropped: a single frame's read of a texture or a badge
    # rarely repeats, a real plate is seen in many sampled frames.
    min_frames: int = 2
    # Reads below this confidence (0-100) are not tracked at all: a plate read this badly adds
    # noise to the vote instead of evidence.
    min_confidence: float = 40.0
    # Travel direction is told only when the plate's centre moved this many plate widths between
    # the group's first and last read; less is jitter of the detector.
    min_travel_widths: float = 1.0

    def sampling(self, every: int | None = None, fps: float | None = None) -> VideoConfig:
        """This config with the CLI's or page's sampling choice (at most one of the two)."""
        if every is not None and fps is not None:
            raise ValueError("give either every (every Nth frame) or fps (frames per second), not both")
        return replace(self, every=every, fps=fps)


DEFAULT_VIDEO = VideoConfig()
