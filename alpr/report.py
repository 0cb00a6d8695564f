"""A Recognition as OpenALPR's `alpr -j` JSON, so existing tooling can read our output."""

from __future__ import annotations

import time
from typing import Sequence

from alpr.types import Recognition
from alpr.watchlist import WatchEntry, match


def to_openalpr(
    rec: Recognition,
    filename: str | None = None,
    regions_of_interest: list[dict] | None = None,
    watchlist: Sequence[WatchEntry] = (),
) -> dict:
    """OpenALPR's result object, plus `filename`, per-result `characters` with their top-k and
    `watchlist` (the listed plate the read matches, alpr.watchlist; null when none).

    `regions_of_interest` ([{x, y, width, height}]) is what OpenALPR was asked to search; like
    OpenALPR, the whole image when none is given (we always search the whole image)."""
    results = []
    for index, plate in enumerate(rec.plates):
        found = match(plate.plate, watchlist) if watchlist else None
        results.append(
            {
                "plate": plate.plate,
                "confidence": round(plate.confidence, 3),
                "matches_template": int(plate.matches_template),
                "plate_index": index,
                "region": "",
                "region_confidence": 0,
                "processing_time_ms": round(plate.processing_time_ms, 3),
                "requested_topn": rec.topn,
                "coordinates": plate.box.corners(),
                "candidates": [
                    {
                        "plate": c.plate,
                        "confidence": round(c.confidence, 3),
                        "matches_template": int(c.matches_template),
                    }
                    for c in plate.candidates
                ],
                "characters": [
                    {
                        "box": char.box.shifted(plate.crop_box.x, plate.crop_box.y).as_dict(),
                        "line": char.line,
                        "char": pred.char,
                        "confidence": round(pred.confidence, 4),
                        "topk": [{"char": k, "confidence": round(p, 4)} for k, p in pred.topk],
                    }
                    for char, pred in zip(plate.chars, plate.predictions)
                ],
                "watchlist": found.as_json() if found else None,
            }
        )
    out = {
        "version": 2,
        "data_type": "alpr_results",
        "epoch_time": int(time.time() * 1000),
        "img_width": rec.width,
        "img_height": rec.height,
        "processing_time_ms": rec.timings_ms.get("total", 0.0),
        "regions_of_interest": regions_of_interest or [{"x": 0, "y": 0, "width": rec.width, "height": rec.height}],
        "results": results,
    }
    if filename is not None:
        out = {"filename": filename, **out}
    return out
