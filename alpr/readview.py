"""How a read is presented to people: when a plate counts as certain, and what the assembler
changed from the classifier's own reading, in one line. The page draws; this decides.

Nothing here re-ranks: the Recognition's plates and candidates are shown in the order and with the
confidences the pipeline gave them (the assembler owns the ranking).
"""

from __future__ import annotations

from dataclasses import dataclass

from alpr import ties
from alpr.assemble import COUNTRIES
from alpr.types import REJECT, PlateRead


@dataclass(frozen=True)
class ReadViewConfig:
    # A plate's confidence is the geometric mean of its characters' probabilities (x100). Below 85
    # the product over 7 characters is under 1/3: more likely than not, some character is wrong,
    # and a green badge would overstate it (a patch of grass read as QIKW1HI scored in that range).
    certain_plate_confidence: float = 85.0
    # One character the classifier gives less than even odds makes the plate uncertain however
    # sure the others are: the mean hides a single coin toss.
    certain_char_probability: float = 0.5


DEFAULT_VIEW = ReadViewConfig()


@dataclass(frozen=True)
class Verdict:
    """What the badge of a plate says: "certain" (green), "uncertain" (orange), "remembered" (blue: a
    plate a person labeled, recognised by alpr/memory.py) or "no read"."""

    state: str
    why: str


def verdict(plate: PlateRead, country: str, config: ReadViewConfig = DEFAULT_VIEW) -> Verdict:
    if not plate.candidates:
        return Verdict("no read", "no character string could be built from this box")
    if plate.recalled is not None:
        return Verdict("remembered", plate.recalled.why)
    weak = [
        i
        for i, p in enumerate(plate.predictions, start=1)
        if p.char != REJECT and p.confidence < config.certain_char_probability
    ]
    fmt = COUNTRIES[country].name if country in COUNTRIES else country
    if plate.confidence < config.certain_plate_confidence:
        return Verdict("uncertain", f"confidence {plate.confidence:.0f} is below {config.certain_plate_confidence:.0f}")
    if weak:
        where = ", ".join(map(str, weak))
        return Verdict("uncertain", f"the classifier is unsure of character{'s' if len(weak) > 1 else ''} {where}")
    if not plate.matches_template:
        return Verdict("uncertain", f"does not fit a {fmt} plate format")
    return Verdict("certain", f"fits a {fmt} plate format, confidence {plate.confidence:.0f}")


def classifier_reading(plate: PlateRead) -> str:
    """The classifier's own best class per character, "not a character" crops left out."""
    return "".join(p.char for p in plate.predictions if p.char != REJECT)


def final_chars(plate: PlateRead) -> list[str | None]:
    """The headline plate's character for each crop (None for a crop left out as not a character),
    when the plate text lines up with the kept crops; else the classifier's own reads."""
    kept = [i for i, p in enumerate(plate.predictions) if p.char != REJECT]
    text = plate.plate
    out: list[str | None] = [None] * len(plate.predictions)
    if len(text) != len(kept):
        for i in kept:
            out[i] = plate.predictions[i].char
        return out
    for i, ch in zip(kept, text):
        out[i] = ch
    return out


def corrections(plate: PlateRead, country: str) -> str | None:
    """Where the headline differs from the classifier's own reading, in one line:
    "position 2: 1→I, Europe format"; None when it does not, or the two do not line up, or the
    headline is a remembered plate (the memory, not the format, changed it; `verdict` says so)."""
    own, text = classifier_reading(plate), plate.plate
    if not text or own == text or plate.recalled is not None:
        return None
    fmt = COUNTRIES[country].name if country in COUNTRIES else country
    if len(own) != len(text):
        return f"read as {own} by the classifier; {text} after fitting the {fmt} format"
    changes = [f"{i}: {a}→{b}" for i, (a, b) in enumerate(zip(own, text), start=1) if a != b]
    label = "position" if len(changes) == 1 else "positions"
    return f"{label} {', '.join(changes)}, {fmt} format" + ("" if plate.matches_template else " (no format fits)")


def best_first(plates) -> list[tuple[int, PlateRead]]:
    """(index in the Recognition, plate) ordered by the confidence of its best reading, highest first;
    ties (alpr/ties.py) keep the pipeline's order."""
    return ties.ranked(enumerate(plates), lambda item: item[1].confidence)


# Colours of the outlines on the demo photo: the badge colours of the plate cards.
OUTLINE = {
    "certain": (22, 163, 74),
    "uncertain": (234, 88, 12),
    "remembered": (37, 99, 235),
    "no read": (107, 114, 128),
}
_FONT = __import__("pathlib").Path(__file__).parent / "fonts" / "DejaVuSans-Bold.ttf"


def outlined_photo(rec, max_side: int = 1400, config: ReadViewConfig = DEFAULT_VIEW):
    """The photo with each plate outlined in its verdict's colour and its text above it, as RGB
    uint8 no larger than `max_side`: a picture that scales with the page (no blank bands on a phone),
    for the demo view; the interactive figure with the detector's boxes is for "how it decided"."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(np.asarray(rec.image, dtype=np.uint8))
    scale = min(1.0, max_side / max(image.size))
    if scale < 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(image)
    line = max(2, round(max(image.size) / 400))
    font = ImageFont.truetype(str(_FONT), max(14, round(max(image.size) / 40)))
    for index, plate in enumerate(rec.plates, start=1):
        colour = OUTLINE[verdict(plate, rec.country, config).state]
        b = plate.box
        x0, y0, x1, y1 = (round(v * scale) for v in (b.x, b.y, b.x2, b.y2))
        draw.rectangle((x0 - line, y0 - line, x1 + line, y1 + line), outline=colour, width=line)
        label = (plate.plate or "?") + (f"  #{index}" if len(rec.plates) > 1 else "")
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        w, h = right - left + 2 * line + 6, bottom - top + 2 * line + 4
        ty = y0 - line - h if y0 - line - h >= 0 else y1 + line
        tx = min(max(0, x0 - line), max(0, image.width - w))
        draw.rectangle((tx, ty, tx + w, ty + h), fill=colour)
        draw.text((tx + line + 3 - left, ty + line + 2 - top), label, font=font, fill=(255, 255, 255))
    return np.asarray(image)


def plain_binarization(name: str) -> str:
    """ "otsu/dark" in words: how the photo was turned black and white, and which ink was read
    ("+band": the row cut out by its glyphs' band; "+split": its wide boxes cut in two; "+red", "+green":
    read in that colour's channel)."""
    name, *extras = (name or "").split("+")
    method, _, ink = name.partition("/")
    how = {"otsu": "whole-photo threshold", "local": "local threshold", "adaptive": "local threshold"}.get(
        method, method or "threshold"
    )
    colour = {"dark": "dark characters on a light plate", "light": "light characters on a dark plate"}.get(ink, ink)
    then = {
        "band": "cut to the band the glyphs share",
        "split": "boxes two glyphs wide cut in two",
        "red": "in the red channel, where red artwork vanishes",
        "green": "in the green channel, where green artwork vanishes",
    }
    how = "; ".join([how] + [then.get(e, e) for e in extras])
    return f"{colour} ({how})" if colour else how


def batch_lines(rows, config: ReadViewConfig = DEFAULT_VIEW) -> list[dict]:
    """The batch table of many photos: one line per plate, best reading first within its photo; a
    photo without a plate (or an unusable file) keeps one line. `rows` are the app's BatchRows."""
    lines = []
    for n, r in enumerate(rows, start=1):
        readings = ties.ranked(r.readings, lambda t: t[1]) or [("", None, None)]
        for k, (text, conf, template) in enumerate(readings, start=1):
            uncertain = conf is not None and conf < config.certain_plate_confidence
            lines.append(
                {
                    "Photo": n,
                    "File": r.file,
                    "Plate #": k if r.readings else None,
                    "Plate": text,
                    "Confidence": conf,
                    "Matches template": template,
                    "Read": "" if conf is None else ("uncertain" if uncertain or not template else "certain"),
                    "Plates found": r.plates,
                    "ms": None if r.ms is None else round(r.ms),
                    "Error": r.error or "",
                }
            )
    return lines
