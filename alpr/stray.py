"""The stray-end stage, between classification and assembly: a plate's frame, a bolt or a border
cut as a thin segment at either end of the row reads as "1" or "I" to the classifier; its size and
spacing against the row's own characters say it is not one, and it becomes "not a character". An
end read with doubt (a sticker read as a weak "5") is judged by its spacing too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alpr import ties
from alpr.config import DEFAULT, ReadConfig
from alpr.types import REJECT, CharCrop, Prediction


def overrule_stray_ends(
    chars: Sequence[CharCrop],
    preds: tuple[Prediction, ...],
    config: ReadConfig = DEFAULT.read,
    max_length: int = 0,
) -> tuple[Prediction, ...]:
    """The predictions, with a thin mark at either end of a one-line row set to "not a character"
    when its size or spacing says it is the plate's frame, a bolt or a border (see ReadConfig),
    or when the row is longer than the country's plates (`max_length`, 0 for no limit) and an
    end reads as one of those narrow classes.

    `chars` and `preds` pair up one to one, in reading order. A row shorter than
    `stray_end_min_row` glyphs, or on more than one line, is returned unchanged: too few
    characters to say what the row's size and spacing are."""
    rc = config
    glyphs = [i for i, p in enumerate(preds) if p.char != REJECT]
    if len(glyphs) < rc.stray_end_min_row or len({chars[i].line for i in glyphs}) > 1:
        return preds
    out = _by_size_and_spacing(chars, preds, glyphs, rc)
    glyphs = [i for i, p in enumerate(out) if p.char != REJECT]
    if not max_length or len(glyphs) <= max_length:
        return out
    # More characters than the country's plates hold, and ends that read "1" or "I": those ends
    # are the frame the segmenter cut with the row, the narrower first. Only when that leaves a
    # row the country's plates can hold: a longer one is not a plate's row, and made shorter it
    # would only look more like one.
    count, drop = len(glyphs), []
    while len(glyphs) > max_length:
        ends = [i for i in (glyphs[0], glyphs[-1]) if out[i].char in rc.stray_end_chars]
        if not ends:
            return out
        end = min(ends, key=lambda i: chars[i].box.w)
        drop.append(end)
        glyphs.remove(end)
    why = f"{count} characters where the country's plates hold at most {max_length}"
    return tuple(_not_a_character(preds[i], why) if i in drop else p for i, p in enumerate(out))


def _not_a_character(pred: Prediction, why: str) -> Prediction:
    return Prediction(
        REJECT,
        1.0,
        ((REJECT, 1.0),),
        note=f"a mark at the row's end ({why}), not a character; the classifier read "
        f"{pred.char} at {pred.confidence:.0%}",
    )


def _by_size_and_spacing(chars, preds, glyphs: list[int], rc: ReadConfig) -> tuple[Prediction, ...]:
    """The narrow end marks that stand out from the row by height or spacing."""
    inner = [chars[i].box for i in glyphs[1:-1]]
    height = float(np.median([b.h for b in inner]))
    width = float(np.median([b.w for b in inner]))
    gap = float(np.median([b.x - a.x2 for a, b in zip(inner, inner[1:])]))
    out = list(preds)
    for end, neighbour in ((glyphs[0], glyphs[1]), (glyphs[-1], glyphs[-2])):
        box, pred = chars[end].box, preds[end]
        thin_bar = pred.char in rc.stray_end_chars and box.w < width
        if not thin_bar and ties.at_least(pred.confidence, rc.stray_end_doubt):
            continue
        apart = (chars[neighbour].box.x - box.x2 if end < neighbour else box.x - chars[neighbour].box.x2) - gap
        if thin_bar and abs(box.h / height - 1) > rc.stray_end_height_tolerance:
            why = f"{box.h} px tall where the row's characters are {height:.0f}"
        elif apart > rc.stray_end_gap * height:
            why = f"set {apart:.0f} px further apart than the row's characters are"
        else:
            continue
        out[end] = _not_a_character(pred, why)
    return tuple(out)
