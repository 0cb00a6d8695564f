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
