"""Small named exceptions: each says what was received and how to fix it."""


class AlprError(Exception):
    """Base class of every error the package raises on purpose."""


class ImageLoadError(AlprError):
    """The input is not a usable photo (not an image, truncated, too large, empty)."""


class ModelError(AlprError):
    """The character model is missing, corrupt, or does not match this version of the code."""


class DatasetError(AlprError):
    """A dataset folder is not in a format `alpr` can read."""
