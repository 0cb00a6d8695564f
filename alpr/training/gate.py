"""The gate: whether a fine-tuned version may replace the active model, and why, in one line."""
from __future__ import annotations

import numpy as np

from alpr.training.fitting import PARTS
from alpr.types import ALL_CLASSES

TRUTH = (PARTS.index("store"), PARTS.index("datasets"))  # labels a person gave: what the gate judges on


def judge(new: dict, active: dict | None, against: str | None) -> tuple[bool, str]:
    """(accepted, the decision in one line). The truth is the held-out crops a person labeled (the
    store's confirmed and corrected plates, held out by plate, and labeled dataset folders): a run
    is accepted when it reads at least as many of them right as the active model, and never when it
    reads one fewer. Replay crops are answered with the base model's own confident reads, so a run
    that rightly changes a confidently wrong read would count as a loss there: they are reported,
    not judged on. Rendered glyphs judge only when no labeled crop was held out."""
    if active is None:
        return True, "accepted: no active model to compare with"

    def correct(ev, parts):
        return sum(ev["parts_list"][i]["correct"] for i in parts if ev["parts_list"][i])

    def total(ev, parts):
        return sum(ev["parts_list"][i]["n"] for i in parts if ev["parts_list"][i])

    parts, what = TRUTH, "held-out crops you labeled"
    if not total(new, parts):
        parts, what = (PARTS.index("glyphs"),), "rendered glyphs (no labeled crop was held out)"
    n, mine, theirs = total(new, parts), correct(new, parts), correct(active, parts)
    accepted = mine >= theirs
    verdict = "accepted" if accepted else "rejected"
    line = f"{verdict}: reads {mine}/{n} {what} right vs {theirs}/{n} for {against}"
    replay = PARTS.index("replay")
    if new["parts_list"][replay] and active["parts_list"][replay]:
        line += (f"; agrees with the old model's sure reads on {new['parts_list'][replay]['accuracy']:.1%} of "
                 f"replay crops (not judged on: those answers are the old model's own)")
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
        was, now = before(x).argmax(1), after(x).argmax(1)
        for plate in corrected:
            on = plates == plate
            rows.append({"plate": int(plate), "held_out": held, "truth": _text(y[on]), "before": _text(was[on]),
                         "after": _text(now[on]), "fixed": bool((now[on] == y[on]).all())})
    return rows


def _text(indices) -> str:
    return "".join(ALL_CLASSES[int(i)] for i in indices)
