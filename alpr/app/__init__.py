"""What the app's pages share, one module per concern; the pages import this package as `appstate`.

- `models`: the active model through the registry's one fallback, other models by path
- `samples`: the sample photos; `reads`: reading photos and batches (reading never writes)
- `store`: the label store, who labels, `keep_read` (the explicit write of a read)
- `training`: device, ImageNet weights, folders for the Train page
- `startup`: crash notes; `routing`: deep links; `flash`: messages left by actions
- `relabel_actions`, `relabel_view`, `evaluate_view`, `recognize_view`: the callbacks and widgets of
  those pages, so each page file only lays out its UI (imported by their page, not re-exported here)

This package and the pages are the only code that imports Streamlit; the pipeline never does.
"""

from alpr.app.console import log
from alpr.app.models import (
    ActiveModel,
    active_model,
    active_version_name,
    current_runtime,
    device_line,
    get_classifier,
    load_model,
    model_choices,
    model_summary,
    runtime_picker,
    try_classifier,
)
from alpr.app.reads import BATCH_THRESHOLD, BatchRow, openalpr_json, read_batch, read_photo
from alpr.app.routing import require_router, route
from alpr.app.samples import SAMPLE_COUNT, Photo, as_photo, folder_samples, sample_choices, synthetic_samples
from alpr.app.startup import startup_notes
from alpr.app.store import author, get_store, keep_read, stored_plates, try_store
from alpr.app.training import imagenet_weights, training_device, training_folders
from alpr.imageio import IMAGE_TYPES
from alpr.paths import DATA_ROOTS_ENV, SAMPLES_DIR_ENV, data_dir, data_roots

__all__ = [
    "ActiveModel",
    "BATCH_THRESHOLD",
    "BatchRow",
    "DATA_ROOTS_ENV",
    "IMAGE_TYPES",
    "Photo",
    "SAMPLES_DIR_ENV",
    "SAMPLE_COUNT",
    "active_model",
    "active_version_name",
    "current_runtime",
    "as_photo",
    "author",
    "data_dir",
    "data_roots",
    "device_line",
    "folder_samples",
    "get_classifier",
    "get_store",
    "imagenet_weights",
    "keep_read",
    "load_model",
    "log",
    "model_choices",
    "model_summary",
    "runtime_picker",
    "openalpr_json",
    "read_batch",
    "read_photo",
    "require_router",
    "route",
    "sample_choices",
    "startup_notes",
    "stored_plates",
    "synthetic_samples",
    "training_device",
    "training_folders",
    "try_classifier",
    "try_store",
]
