"""Vehicle groups as OpenALPR's `alpr_group` JSON, and frame reads as `alpr -j` with their place."""

from __future__ import annotations

import time
from typing import Sequence

from alpr.report import to_openalpr
from alpr.types import Recognition
from alpr.video.track import VehicleGroup
from alpr.watchlist import WatchEntry, match


def to_alpr_group(group: VehicleGroup, filename: str, watchlist: Sequence[WatchEntry] = ()) -> dict:
    """OpenALPR's group object; `travel_direction` is degrees in the image (0 = moving right,
    90 = down the frame) or null when it cannot be told, `direction` says it in a word;
    `watchlist` is the listed plate the voted plate matches (alpr.watchlist), null when none."""
    found = match(group.plate, watchlist) if watchlist else None
    return {
        "version": 2,
        "data_type": "alpr_group",
        "epoch_start": int(time.time() * 1000),
        "filename": filename,
        "frame_start": group.frame_start,
        "frame_end": group.frame_end,
        "frame_count": group.frame_count,
        "time_start_s": group.time_start_s,
        "time_end_s": group.time_end_s,
        "best_plate_number": group.plate,
        "best_confidence": round(group.confidence, 3),
        "best_plate": {**group.best.result, "frame": group.best.frame, "time_s": group.best.time_s},
        "candidates": [
            {"plate": c.plate, "confidence": c.confidence, "matches_template": int(c.matches_template)}
            for c in group.candidates
        ],
        "travel_direction": group.direction_deg,
        "direction": group.direction,
        "watchlist": found.as_json() if found else None,
    }


def frame_json(
    rec: Recognition, filename: str, frame: int, time_s: float, watchlist: Sequence[WatchEntry] = ()
) -> dict:
    """One sampled frame's read in the usual `alpr -j` schema, with where it is in the clip."""
    return {**to_openalpr(rec, filename, watchlist=watchlist), "frame": frame, "time_s": time_s}
