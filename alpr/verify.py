"""Plate or not: a cheap verifier over the character evidence of a read (issue 11, junk plates).

A photo's text that is not a plate reads as well as a plate does, so confidence alone cannot tell
them apart. What does: where it sits and what it says. On the development photos (the training
files of endtoend/us, eu, br) the shipped reader reported 74 plates away from the labeled plate;
three rules, each stated in `VerifyConfig`, catch 49 of them and 2 reads at labeled plates, both of
which were wrong reads:

* a dashcam or camera overlay: a mostly digit string in the photo's top or bottom strip;
* a grille, a bar or a row of bolts: a string mostly of the narrow glyphs I, 1, J, L, T;
* too long for any plate (9+ characters: timestamps, phone numbers, dealer names).

And a second plate in a photo must carry a digit: nearly every plate does, and the words on a car
(dealer names, badges, "VEHICLE") rarely do. The first plate is spared that rule: US vanity plates
are letters only.

Each rule returns why it fired, so the page can show why a read was not reported.
"""

from __future__ import annotations

from alpr.config import DEFAULT, VerifyConfig
from alpr.types import PlateRead


def why_not_a_plate(read: PlateRead, image_height: int, first: bool, config: VerifyConfig = DEFAULT.verify) -> str:
    """ "" when `read` may be a plate; else the reason it is not, in words."""
    text = read.plate
    n = len(text)
    if not n or not config.enabled:
        return ""
    digits = sum(ch.isdigit() for ch in text)
    top, bottom = read.box.y / image_height, read.box.y2 / image_height
    if (top < config.overlay_band or bottom > 1 - config.overlay_band) and digits >= config.overlay_digit_share * n:
        where = "top" if top < config.overlay_band else "bottom"
        return f"{text!r} is mostly digits in the photo's {where} {config.overlay_band:.0%}: a camera's date or time overlay"
    narrow = sum(ch in config.narrow_chars for ch in text)
    if narrow >= config.narrow_share * n:
        return f"{narrow} of {n} characters of {text!r} are narrow strokes ({config.narrow_chars}): a grille or bars"
    if n > config.max_chars:
        return f"{text!r} has {n} characters, more than any plate's {config.max_chars}"
    if not first and config.extra_needs_digit and digits == 0:
        return f"a second plate {text!r} without a digit: words on the car, not a plate"
    return ""
