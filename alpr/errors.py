"""Small named exceptions: each says what was received and how to fix it.

Every error the package raises on purpose is an `AlprError`, so a caller (the CLI, a page) catches
one class to turn any of them into a one-line message.
"""


class AlprError(Exception):
    """Base class of every error the package raises on purpose."""


class InputError(AlprError, ValueError):
    """An argument the function cannot use (an unknown country, top-N below 1, an array that is not
    an image). Also a ValueError, as these were before they had a name, so callers that catch
    ValueError keep working."""


class ImageLoadError(AlprError):
    """The input is not a usable photo (not an image, truncated, too large, empty)."""


class ModelError(AlprError):
    """The character model is missing, corrupt, or does not match this version of the code."""


class RegistryError(ModelError):
    """A version that does not exist or cannot be activated, or a registry that cannot be written."""


class DatasetError(AlprError):
    """A dataset folder is not in a format `alpr` can read."""


class StoreError(AlprError):
    """The label store cannot do what was asked: unusable folder or file, bad label, bad import."""


class JobError(AlprError):
    """A run cannot be started, found, resumed or cancelled; the message says why and what to do."""


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


class WatchlistError(AlprError):
    """A watch-list entry or CSV that cannot be listed (no plate, a bad alert flag, bad rows)."""


class WebhookError(AlprError):
    """A webhook that cannot work as given (not an http(s) URL, no API key for a receiver that needs
    one) or an outbox that cannot be opened or written."""
