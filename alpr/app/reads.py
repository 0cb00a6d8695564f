"""Reading photos for the pages: one read remembered per session, and the summary rows of a batch.

Reading never writes anywhere: a page that wants a read kept for relabeling says so with
`alpr.app.store.keep_read` (or `read_batch(..., keep=True)`).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from alpr.app.console import log
from alpr.app.samples import Photo
from alpr.app.store import keep_read
from alpr.classify import CharClassifier
from alpr.errors import ImageLoadError
from alpr.imageio import load_image
from alpr.pipeline import recognize
from alpr.report import to_openalpr
from alpr.types import Recognition

# Reads kept per browser session: a rerun (any widget change) must not recompute them, but a
# long session uploading hundreds of photos must not keep every one of them in memory.
_RESULTS_KEY = "_alpr_recognitions"
_MAX_RESULTS = 8

# More photos than this and the Recognize page shows one summary row per photo instead of a full
# section each: a section draws the photo and four charts, so 200 of them make a page that takes
# minutes to draw and that nobody scrolls. Six is the sample picker's count, which still fits.
BATCH_THRESHOLD = 6
# Summary rows kept per browser session, by photo: a few hundred bytes each, so far more than any
# one upload holds, and still a bound for a session that uploads batch after batch.
_BATCH_KEY = "_alpr_batch_rows"
_MAX_BATCH_ROWS = 5000


def read_photo(photo: Photo, country: str, topn: int, classifier: CharClassifier) -> Recognition:
    """`recognize` on the photo, remembered per (file contents, country, top-N, model, runtime) in the session.

    Raises ImageLoadError (one-line message naming the photo) when the file is not a usable image.
    """
    key = (hashlib.sha256(photo.data).hexdigest(), country, topn, classifier.info.version, classifier.runtime)
    results: OrderedDict = st.session_state.setdefault(_RESULTS_KEY, OrderedDict())
    if key in results:
        results.move_to_end(key)
        return results[key]
    image = load_image(photo.data, name=photo.name)
    rec = recognize(image, country=country, topn=topn, classifier=classifier)
    results[key] = rec
    while len(results) > _MAX_RESULTS:
        results.popitem(last=False)
    return rec


def openalpr_json(rec: Recognition, name: str) -> str:
    """The read as OpenALPR's `alpr -j` JSON, for the download button."""
    return json.dumps(to_openalpr(rec, name), indent=2)


@dataclass(frozen=True)
class BatchRow:
    """One photo of a batch as the summary table shows it. Only this is kept per photo, never its
    Recognition, which holds the photo and several full-size arrays derived from it."""

    file: str
    plate: str  # the best plate's best reading; "" when no plate was found or the file is unusable
    confidence: float | None  # 0..100, of that reading
    matches_template: bool | None
    plates: int  # plates found in the photo
    ms: float | None  # the pipeline's time on it, as its detail view's timings chart shows
    error: str | None  # why the file could not be read; None when it was
    # Every plate found, as (reading, confidence, matches template), in the pipeline's order.
    readings: tuple[tuple[str, float, bool], ...] = ()


def read_batch(
    photos: list[Photo],
    country: str,
    topn: int,
    classifier: CharClassifier,
    progress: Callable[[int, int, str], None] | None = None,
    keep: bool = False,
) -> list[BatchRow]:
    """One summary row per photo, in order; a photo that cannot be read gets its error in its row
    and the others are still read. With `keep`, each new read is kept in the label store.

    Rows are remembered in the session by the photo's name and size (with country, top-N and
    model), so a rerun, a batch interrupted by a widget change, or one more upload reads only the
    photos not read yet; names and sizes tell the upload widget's files apart without hashing them
    all on every rerun. `progress(done, total, name)` is called before each photo that is read.
    """
    rows: OrderedDict = st.session_state.setdefault(_BATCH_KEY, OrderedDict())
    out = []
    for done, photo in enumerate(photos):
        key = (photo.name, len(photo.data), country, topn, classifier.info.version, classifier.runtime)
        if key not in rows:
            if progress is not None:
                progress(done, len(photos), photo.name)
            rows[key] = _batch_row(photo, country, topn, classifier, keep)
        rows.move_to_end(key)
        out.append(rows[key])
    while len(rows) > _MAX_BATCH_ROWS:
        rows.popitem(last=False)
    return out


def _batch_row(photo: Photo, country: str, topn: int, classifier: CharClassifier, keep: bool) -> BatchRow:
    try:
        rec = read_photo(photo, country, topn, classifier)
    except ImageLoadError as exc:
        return BatchRow(photo.name, "", None, None, 0, None, str(exc))
    except Exception as exc:  # noqa: BLE001 - one bad photo must not stop the batch
        log.exception("reading %s failed", photo.name)
        return BatchRow(photo.name, "", None, None, 0, None, f"Could not read {photo.name}: {exc}")
    if keep:
        keep_read(photo, rec, classifier)
    ms = rec.timings_ms.get("total")
    if not rec.plates:
        return BatchRow(photo.name, "", None, None, 0, ms, None)
    best = rec.plates[0]
    readings = tuple((p.plate, p.confidence, p.matches_template) for p in rec.plates)
    return BatchRow(photo.name, best.plate, best.confidence, best.matches_template, len(rec.plates), ms, None, readings)
