"""License-plate reader: find plates with connected components, segment, classify with a Keras CNN."""

from alpr.errors import AlprError, DatasetError, ImageLoadError, ModelError

__version__ = "0.1.0"

__all__ = ["AlprError", "DatasetError", "ImageLoadError", "ModelError", "__version__"]
