"""The stray-end stage, between classification and assembly: a plate's frame, a bolt or a border
cut as a thin segment at either end of the row reads as "1" or "I" to the classifier; its size and
spacing against the row's own characters say it is not one, and it becomes "not a character".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alpr.config import DEFAULT, ReadConfig
from alpr.types import REJECT, CharCrop, Prediction


def overrule_stray_ends(
    chars: Sequence[CharCrop], preds: tuple[Prediction, ...], config: ReadConfig = DEFAULT.read
) -> tuple[Prediction, ...]:
    """The predictions, with a thin mark at either end of a one-line row set to "not a character"
    when its size or spacing says it is the plate's frame, a bolt or a border (see ReadConfig).

    `chars` and `preds` pair up one to one, in reading order. A row shorter than
    `stray_end_min_row` glyphs, or on more than one line, is returned unchanged: too few
    characters to say what the row's size and spacing are."""
    rc = config
    glyphs = [i for i, p in enumerate(preds) if p.char != REJECT]
    if len(glyphs) < rc.stray_end_min_row or len({chars[i].line for i in glyphs}) > 1:
        return preds
    inner = [chars[i].box for i in glyphs[1:-1]]
    height = float(np.median([b.h for b in inner]))
    width = float(np.median([b.w for b in inner]))
    gap = float(np.median([b.x - a.x2 for a, b in zip(inner, inner[1:])]))
    out = list(preds)
    for end, neighbour in ((glyphs[0], glyphs[1]), (glyphs[-1], glyphs[-2])):
        box, pred = chars[end].box, preds[end]
        if pred.char not in rc.stray_end_chars or box.w >= width:
            continue
        apart = (chars[neighbour].box.x - box.x2 if end < neighbour else box.x - chars[neighbour].box.x2) - gap
        if abs(box.h / height - 1) > rc.stray_end_height_tolerance:
            why = f"{box.h} px tall where the row's characters are {height:.0f}"
        elif apart > rc.stray_end_gap * height:
            why = f"set {apart:.0f} px further apart than the row's characters are"
        else:
            continue
        out[end] = Prediction(
            REJECT,
            1.0,
            ((REJECT, 1.0),),
            note=f"a mark at the row's end ({why}), not a character; the classifier read "
            f"{pred.char} at {pred.confidence:.0%}",
        )
    return tuple(out)
