"""Decoding clips: the formats, sampling, limits, and every way a file can be unusable.

Clips are rendered with `alpr.video.synthclip` and encoded with PyAV in the test, so each test
knows exactly how many frames, how long and how large its clip is.
"""

from __future__ import annotations

import numpy as np
import pytest

from alpr.errors import (
    AlprError,
    CorruptVideoError,
    EmptyVideoError,
    NoVideoStreamError,
    UnsupportedVideoError,
)
from alpr.video import decode, synthclip
from alpr.video.config import DEFAULT_VIDEO, VideoConfig

FPS = 10
EVERY_FRAME = DEFAULT_VIDEO.sampling(every=1)


def _frames(n: int, size=(320, 240)) -> list[np.ndarray]:
    return list(
        synthclip.render_frames(synthclip.traffic(n / FPS, plates=("ABC1234",)), size=size, fps=FPS, seconds=n / FPS)
    )


@pytest.fixture(scope="module")
def frames30() -> list[np.ndarray]:
    return _frames(30)


@pytest.mark.parametrize("suffix, codec", [(".mp4", "h264"), (".mov", "h264"), (".webm", "vp9"), (".avi", "mjpeg")])
def test_each_format_decodes_every_frame_at_its_time(tmp_path, frames30, suffix, codec):
    path = synthclip.encode(frames30, tmp_path / f"clip{suffix}", fps=FPS)
    info = decode.probe(path)
    assert (info.codec, info.width, info.height, info.fps) == (codec, 320, 240, FPS)
    got = list(decode.frames(path, EVERY_FRAME))
    assert [f.index for f in got] == list(range(30))
    assert [f.time_s for f in got] == pytest.approx([i / FPS for i in range(30)], abs=0.011)
    assert got[0].image.shape == (240, 320, 3) and got[0].image.dtype == np.uint8
    assert decode.is_clip(path)


def test_a_clip_is_told_by_its_content_when_its_extension_says_nothing(tmp_path, frames30):
    path = synthclip.encode(frames30[:3], tmp_path / "clip.mp4", fps=FPS)
    renamed = path.rename(tmp_path / "download.bin")
    assert decode.is_clip(renamed)
    (tmp_path / "photo.bin").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    assert not decode.is_clip(tmp_path / "photo.bin")


def test_sampling_by_rate_and_by_count(tmp_path, frames30):
    path = synthclip.encode(frames30, tmp_path / "clip.mp4", fps=FPS)
    by_rate = list(decode.frames(path, DEFAULT_VIDEO.sampling(fps=2)))
    assert [f.time_s for f in by_rate] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5], abs=0.011)
    by_count = list(decode.frames(path, DEFAULT_VIDEO.sampling(every=7)))
    assert [f.index for f in by_count] == [0, 7, 14, 21, 28]
    with pytest.raises(ValueError):
        DEFAULT_VIDEO.sampling(every=2, fps=2)


def test_reading_stops_at_the_maximum_duration_and_says_so(tmp_path, frames30):
    path = synthclip.encode(frames30, tmp_path / "clip.mp4", fps=FPS)
    warnings: list[str] = []
    config = VideoConfig(every=1, max_duration_s=1.0)
    got = list(decode.frames(path, config, warn=warnings.append))
    assert [f.index for f in got] == list(range(11))  # 0.0 .. 1.0 s
    assert len(warnings) == 1 and "first 1 s of 3 s" in warnings[0]


def test_a_huge_frame_is_downscaled_and_a_larger_one_refused(tmp_path):
    path = synthclip.encode(_frames(3, size=(3840, 2160)), tmp_path / "uhd.avi", fps=FPS)
    got = list(decode.frames(path, EVERY_FRAME))
    assert len(got) == 3 and got[0].image.shape == (720, 1280, 3)
    small_limit = VideoConfig(max_pixels=4_000_000)
    with pytest.raises(UnsupportedVideoError, match=r"3840x2160 frames, more than the 4 Mpx"):
        list(decode.frames(path, small_limit))


def test_an_empty_file_is_refused_in_one_line(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(EmptyVideoError, match=r"empty \(0 bytes\)"):
        decode.probe(tmp_path / "empty.mp4")


def test_an_audio_only_file_says_it_has_no_video(tmp_path):
    path = synthclip.encode_audio_only(tmp_path / "memo.mp4")
    with pytest.raises(NoVideoStreamError, match="no video stream .*audio"):
        list(decode.frames(path))


def test_a_file_that_is_no_video_at_all_is_unsupported(tmp_path):
    (tmp_path / "notes.mp4").write_bytes(b"these are not the frames you are looking for\n" * 50)
    with pytest.raises(UnsupportedVideoError, match="not a video FFmpeg can read") as caught:
        decode.probe(tmp_path / "notes.mp4")
    assert isinstance(caught.value, AlprError) and "\n" not in str(caught.value)


def test_a_clip_cut_short_reads_what_is_there_and_warns(tmp_path, frames30):
    whole = synthclip.encode(frames30, tmp_path / "clip.mp4", fps=FPS).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(whole[: len(whole) // 2])
    warnings: list[str] = []
    got = list(decode.frames(tmp_path / "cut.mp4", EVERY_FRAME, warn=warnings.append))
    assert 3 <= len(got) < 30
    assert any("ends at" in w and "of the 3.0 s it declares" in w for w in warnings)


def test_a_frame_that_fails_to_decode_is_skipped_and_the_rest_read(tmp_path, frames30):
    data = bytearray(synthclip.encode(frames30, tmp_path / "clip.avi", fps=FPS).read_bytes())
    starts = [i for i in range(len(data) - 2) if data[i : i + 3] == b"\xff\xd8\xff"]  # one JPEG per frame
    assert len(starts) == 30
    begin, end = starts[15], starts[16] - 16
    data[begin:end] = np.random.default_rng(0).integers(0, 256, end - begin, dtype=np.uint8).tobytes()
    (tmp_path / "bad.avi").write_bytes(bytes(data))
    warnings: list[str] = []
    got = list(decode.frames(tmp_path / "bad.avi", EVERY_FRAME, warn=warnings.append))
    assert len(got) == 29
    assert len(warnings) == 1 and "could not be decoded" in warnings[0]


def test_a_clip_with_no_decodable_frame_is_corrupt(tmp_path, frames30):
    data = bytearray(synthclip.encode(frames30[:4], tmp_path / "clip.avi", fps=FPS).read_bytes())
    starts = [i for i in range(len(data) - 2) if data[i : i + 3] == b"\xff\xd8\xff"]
    for begin, end in zip(starts, starts[1:] + [len(data) - 200]):
        data[begin : end - 16] = bytes(end - 16 - begin)  # every frame's bytes zeroed
    (tmp_path / "dead.avi").write_bytes(bytes(data))
    with pytest.raises(CorruptVideoError, match="not one frame could be decoded"):
        list(decode.frames(tmp_path / "dead.avi", EVERY_FRAME, warn=lambda m: None))


def test_frame_at_seeks_to_the_frame_shown_at_a_time(tmp_path, frames30):
    path = synthclip.encode(frames30, tmp_path / "clip.mp4", fps=FPS)
    streamed = {f.time_s: f.image for f in decode.frames(path, EVERY_FRAME)}
    sought = decode.frame_at(path, 2.3)
    assert sought.time_s == pytest.approx(2.3, abs=0.011)
    assert np.array_equal(sought.image, streamed[sought.time_s])
