"""The readers' results as webhook events: a photo's Recognition (`recognize`), a batch row, a
clip's vehicle group. Their timestamp is when the photo was taken as far as the file says (its
modification time; for a clip, plus the vehicle's time in it), so reading the same files again
sends the same timestamps, and ALPR Database recognises the reads it holds already."""

from __future__ import annotations

import os

from alpr.assemble import COUNTRIES, matches
from alpr.webhooks.events import ReadEvent, iso_utc, jpeg, result


def _taken(path: str, offset_s: float = 0.0) -> str:
    try:
        return iso_utc(os.path.getmtime(path) + offset_s)
    except OSError:  # a file:// URI, a file gone since: when it was read
        return iso_utc()


def from_recognition(rec, filename: str, camera: str, hooks, watchlist=()) -> ReadEvent:
    """A photo read by `recognize`, with the results the API would answer for it."""
    from alpr.api.responses import snapshot_options, snapshot_results

    results = snapshot_results(rec, snapshot_options([], None, None, rec.country), watchlist)
    image = jpeg(rec.image, hooks.config) if hooks.wants_image and results else None
    return ReadEvent(camera, filename, _taken(filename), tuple(results), image)


def from_row(row, country: str, camera: str, hooks) -> ReadEvent:
    """A batch row (alpr.batch.rows.PhotoRow): its plates, the photo from its file when wanted."""
    templates = COUNTRIES[country].templates
    results = tuple(
        result(
            p.plate,
            p.confidence / 100,
            (p.box.x, p.box.y, p.box.x + p.box.w, p.box.y + p.box.h),
            [(c.plate, c.confidence / 100) for c in p.candidates],
            country,
            matches(p.plate, templates),
        )
        for p in row.plates
        if p.plate
    )
    image = None
    if hooks.wants_image and results:
        try:
            image = jpeg(row.path, hooks.config)
        except Exception:  # noqa: BLE001 - a photo that cannot be re-read still sends its plates
            image = None
    return ReadEvent(camera, row.path, _taken(row.path), results, image)


def from_group(group, clip: str, country: str, camera: str, hooks) -> ReadEvent:
    """A vehicle followed through a clip (alpr.video.track.VehicleGroup): its voted plate, the
    best read's box, and the crop around it as the photo. `source_url` and `position_sec` say where
    in the clip, as Plate Recognizer Stream does for a video file."""
    best = group.best
    read = result(
        group.plate,
        group.confidence / 100,
        (best.box.x, best.box.y, best.box.x2, best.box.y2),
        [(c.plate, c.confidence / 100) for c in group.candidates],
        country,
        matches(group.plate, COUNTRIES[country].templates),
        source_url=clip,
        position_sec=round(best.time_s, 3),
        direction=group.direction_deg,
    )
    image = jpeg(group.crop, hooks.config) if hooks.wants_image and group.crop is not None else None
    return ReadEvent(camera, clip, _taken(clip, best.time_s), (read,), image)
