"""Small named exceptions: each says what was received and how to fix it."""


class AlprError(Exception):
    """Base class of every error the package raises on purpose."""


class ImageLoadError(AlprError):
    """The input is not a usable photo (not an image, truncated, too large, empty)."""


class ModelError(AlprError):
    """The character model is missing, corrupt, or does not match this version of the code."""


class DatasetError(AlprError):
    """A dataset folder is not in a format `alpr` can read."""


class VideoError(AlprError):
    """The input is not a usable video clip (base of the clip errors below)."""


class EmptyVideoError(VideoError):
    """The clip's file holds no bytes (an upload or copy that did not finish)."""


class UnsupportedVideoError(VideoError):
    """The file is not a video container or codec that FFmpeg can read."""


class NoVideoStreamError(VideoError):
    """The file is a media file without a video stream (audio only, subtitles)."""


class CorruptVideoError(VideoError):
    """The clip's container opened but not one frame of it could be decoded."""
