"""Plate Recognizer's Snapshot API and CodeProject.AI's ALPR module in our terms: their request
fields to our options, and a Recognition as their responses. docs/api.md says what each field
means here."""

from __future__ import annotations

import json
import socket
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from typing import Sequence

from alpr.assemble import COUNTRIES, matches
from alpr.errors import AlprError
from alpr.types import Box, PlateRead, Recognition
from alpr.watchlist import WatchEntry, match

# Plate Recognizer's region codes that read as our European formats: the EU, EEA, UK and
# neighbours whose plates follow the same letter-digit layouts.
EUROPEAN_CODES = frozenset(
    [
        "eu",
        "at",
        "be",
        "bg",
        "ch",
        "cy",
        "cz",
        "de",
        "dk",
        "ee",
        "es",
        "fi",
        "fr",
        "gb",
        "gr",
        "hr",
        "hu",
        "ie",
        "is",
        "it",
        "li",
        "lt",
        "lu",
        "lv",
        "mt",
        "nl",
        "no",
        "pl",
        "pt",
        "ro",
        "se",
        "si",
        "sk",
        "uk",
        "al",
        "ba",
        "me",
        "mk",
        "rs",
        "md",
        "ua",
    ]
)


class RequestError(AlprError):
    """A request field we cannot honour: its message says which and what to send instead."""


@dataclass(frozen=True)
class SnapshotOptions:
    country: str  # our plate formats to read by
    region_code: str  # what to answer in `region.code`: the region asked for, else our country
    mmc: bool
    threshold_d: float  # results with a lower dscore are dropped
    threshold_o: float  # results with a lower score are dropped
    strict_region: bool  # drop reads that do not fit the region's plate formats


def country_of_region(code: str) -> str | None:
    """Our plate formats for a Plate Recognizer region code (`us`, `us-ca`, `br`, `de`, `eu`), or None."""
    code = code.strip().lower()
    base = code.split("-", 1)[0]
    if base in ("us", "br"):
        return base
    if base in EUROPEAN_CODES:
        return "eu"
    return None


def snapshot_options(regions: list[str], mmc: str | None, config: str | None, default_country: str) -> SnapshotOptions:
    """The request's `regions`, `mmc` and `config` fields as options. Regions are tried in order and
    the first we have formats for is used (the reader ranks by one country); ones we do not know are
    skipped, as Plate Recognizer reads a plate of any region whatever was asked."""
    region = next((r.strip().lower() for r in regions if country_of_region(r)), None)
    country = country_of_region(region) if region else default_country
    settings = _config(config)
    return SnapshotOptions(
        country=country,
        region_code=region or country,
        mmc=_flag("mmc", mmc),
        threshold_d=_fraction(settings, "threshold_d"),
        threshold_o=_fraction(settings, "threshold_o"),
        strict_region=settings.get("region") == "strict",
    )


def _flag(name: str, value: str | None) -> bool:
    if value is None or value.strip() == "":
        return False
    text = value.strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", "none"):
        return False
    raise RequestError(f"form field {name} is {value!r}; send true or false")


def _config(text: str | None) -> dict:
    if text is None or text.strip() == "":
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise RequestError(
            f'form field config is not JSON ({exc}); send a JSON object such as {{"threshold_o": 0.6}}'
        ) from None
    if not isinstance(value, dict):
        raise RequestError(
            f'form field config is JSON {type(value).__name__}, not an object; send e.g. {{"region": "strict"}}'
        )
    return value


def _fraction(settings: dict, name: str) -> float:
    value = settings.get(name, 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise RequestError(f"config {name} is {value!r}; send a number from 0 to 1")
    return float(value)


def detector_score(rec: Recognition, read: PlateRead) -> float:
    """How likely detection judged this plate, 0..1: the probability the rank model
    (config.RankConfig) gave the kept candidate that holds most of the read's box. 1.0 for a given
    plate crop."""
    best, best_overlap = None, 0.0
    for cand in rec.plate_candidates:
        if not cand.kept:
            continue
        overlap = _intersection(cand.box, read.box) / max(read.box.area, 1)
        if overlap > best_overlap:
            best, best_overlap = cand, overlap
    if best is None:
        return 0.0
    if best.source == "given":
        return 1.0
    return round(best.likelihood, 3)


def _intersection(a: Box, b: Box) -> int:
    return max(0, min(a.x2, b.x2) - max(a.x, b.x)) * max(0, min(a.y2, b.y2) - max(a.y, b.y))


def _box(box: Box) -> dict:
    return {"xmin": box.x, "ymin": box.y, "xmax": box.x2, "ymax": box.y2}


def snapshot_results(rec: Recognition, options: SnapshotOptions, watchlist: Sequence[WatchEntry] = ()) -> list[dict]:
    """One Plate Recognizer result per plate read, best first, after the request's thresholds;
    `watchlist` is the listed plate each read matches (alpr.watchlist), null when none."""
    templates = COUNTRIES[rec.country].templates
    out = []
    for read in rec.plates:
        if not read.candidates:
            continue
        score = round(read.confidence / 100, 3)
        dscore = detector_score(rec, read)
        if score < options.threshold_o or dscore < options.threshold_d:
            continue
        fits = matches(read.plate, templates)
        if options.strict_region and not fits:
            continue
        result = {
            "box": _box(read.box),
            "plate": read.plate.lower(),
            "region": {"code": options.region_code, "score": 1.0 if fits else 0.0},
            "score": score,
            "candidates": [{"score": round(c.confidence / 100, 3), "plate": c.plate.lower()} for c in read.candidates],
            "dscore": dscore,
            # No vehicle detector yet: the type is unknown and the plate's own box stands in.
            "vehicle": {"score": 0.0, "type": "Unknown", "box": _box(read.box)},
            "watchlist": _watch_json(read, watchlist),
        }
        if options.mmc:
            # Make, model, colour and orientation need a vehicle classifier we do not have: each is
            # answered "Unknown" at score 0, which integrations that filter on a score drop.
            result["model_make"] = [{"make": "Unknown", "model": "Unknown", "score": 0.0}]
            result["color"] = [{"color": "Unknown", "score": 0.0}]
            result["orientation"] = [{"orientation": "Unknown", "score": 0.0}]
        out.append(result)
    return out


def _watch_json(read: PlateRead, watchlist: Sequence[WatchEntry]) -> dict | None:
    found = match(read.plate, watchlist) if watchlist else None
    return found.as_json() if found else None


# ------------------------------------------------------------------------ CodeProject.AI ALPR

# What CodeProject.AI Server's License Plate Reader module (codeproject/CodeProject.AI-ALPR) says
# about itself in every answer: Blue Iris and Agent DVR show these names in their AI status.
CODEPROJECT_MODULE = {"moduleId": "ALPR", "moduleName": "License Plate Reader", "command": "alpr"}
# The module's summary names at most this many plates, then "...".
_MESSAGE_PLATES = 3


def min_confidence(value: str | None) -> float:
    """The request's `min_confidence` (0-1; empty or absent: 0, every plate read)."""
    if value is None or str(value).strip() == "":
        return 0.0
    try:
        number = float(value)
    except ValueError:
        raise RequestError(f"min_confidence is {value!r}; send a number from 0 to 1, e.g. 0.4") from None
    if not 0 <= number <= 1:
        raise RequestError(f"min_confidence is {value}; send a number from 0 to 1, e.g. 0.4")
    return number


def codeproject_predictions(rec: Recognition, minimum: float, watchlist: Sequence[WatchEntry] = ()) -> list[dict]:
    """The module's `predictions`: one per plate read at `minimum` confidence (0-1) or more, best
    first, with our `watchlist` field added (null when the read matches no listed plate)."""
    out = []
    for read in rec.plates:
        confidence = round(read.confidence / 100, 4)
        if not read.plate or confidence < minimum:
            continue
        out.append(
            {
                "confidence": confidence,
                "label": f"Plate: {read.plate}",
                "plate": read.plate,
                "x_min": read.box.x,
                "y_min": read.box.y,
                "x_max": read.box.x2,
                "y_max": read.box.y2,
                "watchlist": _watch_json(read, watchlist),
            }
        )
    return out


def codeproject_answer(predictions: list[dict], inference_ms: float, process_ms: float, device: str) -> dict:
    """The module's answer to a photo it read, as the CodeProject.AI server sends it on."""
    labels = [p["label"] for p in predictions]
    if not labels:
        message = "No plates found"
    else:
        message = "Found " + ", ".join(labels[:_MESSAGE_PLATES]) + ("..." if len(labels) > _MESSAGE_PLATES else "")
    return {
        "success": True,
        "message": message,
        "error": None,
        "count": len(predictions),
        "predictions": predictions,
        "inferenceMs": int(round(inference_ms)),
        "processMs": int(round(process_ms)),
        **_envelope(200, device, process_ms),
    }


def codeproject_failure(error: str, process_ms: float, device: str) -> dict:
    """The module's answer to a request it could not read: HTTP 200 with success false (the server
    answers 200 whatever its module says, and code 500 in the body, as CodeProject.AI does)."""
    text = " ".join(str(error).split())
    return {
        "success": False,
        "message": text,
        "error": text,
        "count": 0,
        "predictions": [],
        "inferenceMs": 0,
        "processMs": int(round(process_ms)),
        **_envelope(500, device, process_ms),
    }


def _envelope(code: int, device: str, process_ms: float) -> dict:
    return {
        **CODEPROJECT_MODULE,
        "code": code,
        "requestId": str(uuid.uuid4()),
        "inferenceDevice": device,
        "analysisRoundTripMs": int(round(process_ms)),
        "processedBy": socket.gethostname(),
        "timestampUTC": formatdate(usegmt=True),
    }
