"""The gate: whether a fine-tuned version may replace the active model, and why, in one line."""

from __future__ import annotations

import numpy as np

from alpr import ties
from alpr.training.fitting import PARTS
from alpr.types import ALL_CLASSES

TRUTH = (PARTS.index("store"), PARTS.index("datasets"))  # labels a person gave: what the gate judges on
# A new network must read at least this many more of them than the active one: one crop either
# way is chance. On the benchmark (scripts/learning_loop.py) a run that read 38 of 47 against 37
# read 116 of 142 hold-out photos against 122, and one that tied read 5 fewer. A run turned down
# still ships what the person taught: the version keeps the active network and adds the memory.
MIN_GAIN = 2


def judge(new: dict, active: dict | None, against: str | None) -> tuple[bool, str]:
    """(accepted, the decision in one line).

    The truth is the held-out crops a person labeled (the store's confirmed and corrected plates,
    held out whole, and labeled dataset folders): a run must read `MIN_GAIN` more of them.
    The other held-out crops (rendered glyphs, and replay crops answered with the old model's own
    sure reads) guard against unlearning what nobody labeled; but a run that rightly fixes a
    look-alike changes some of the old model's sure-but-wrong reads too, so they may lose at most
    as many as the truth gained. Measured (scripts/learning_loop.py, 10 corrections): truth 10/12
    both, the others 2 fewer, and 5 of 142 hold-out photos read worse: rejected here.
    Rendered glyphs are the truth only when no labeled crop was held out. The counts come from
    `fitting.evaluate`, whose near-tied classes go by `alpr.ties.argmax`, so the decision is the
    same on any CPU."""
    if active is None:
        return True, "accepted: no active model to compare with"

    def correct(ev, parts):
        return sum(ev["parts_list"][i]["correct"] for i in parts if ev["parts_list"][i])

    def total(ev, parts):
        return sum(ev["parts_list"][i]["n"] for i in parts if ev["parts_list"][i])

    glyphs, replay = PARTS.index("glyphs"), PARTS.index("replay")
    truth, what, others = TRUTH, "held-out crops you labeled", (glyphs, replay)
    if not total(new, truth):
        truth, what, others = (glyphs,), "rendered glyphs (no labeled crop was held out)", (replay,)
    n, mine, theirs = total(new, truth), correct(new, truth), correct(active, truth)
    gained = mine - theirs
    lost = correct(active, others) - correct(new, others)
    accepted = gained >= MIN_GAIN and lost <= gained
    line = f"{'accepted' if accepted else 'rejected'}: reads {mine}/{n} {what} right vs {theirs}/{n} for {against}"
    if 0 <= gained < MIN_GAIN:
        line += f" (fewer than {MIN_GAIN} more: chance)"
    if total(new, others):
        line += f"; the other held-out crops (glyphs, replay answered by the old model): {max(lost, 0) or 'none'} lost"
        if lost > 0:
            line += f", at most the {gained} gained" if accepted else f", more than the {max(gained, 0)} gained"
    return accepted, line


def learnt(data: dict, before, after, most: int) -> list[dict]:
    """Every store plate with a correction (trained on, then held out): the labeled characters as
    `before` and `after` (crops -> probabilities) read them, and whether the plate now reads right."""
    rows = []
    for part, held in (("tr", False), ("va", True)):
        x, y, plates = data[f"x_store_{part}"], data[f"y_store_{part}"], data[f"p_store_{part}"]
        fixed = data.get(f"c_store_{part}", np.zeros(len(y), bool))
        corrected = sorted(set(plates[fixed].tolist()))[:most]
        if not corrected:
            continue
        was, now = ties.argmax(before(x)), ties.argmax(after(x))  # near-ties as the gate counts them
        for plate in corrected:
            on = plates == plate
            rows.append(
                {
                    "plate": int(plate),
                    "held_out": held,
                    "truth": _text(y[on]),
                    "before": _text(was[on]),
                    "after": _text(now[on]),
                    "fixed": bool((now[on] == y[on]).all()),
                }
            )
    return rows


def _text(indices) -> str:
    return "".join(ALL_CLASSES[int(i)] for i in indices)
