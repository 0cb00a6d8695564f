"""The combiner: which plate string a read reports, given the character pipeline and the whole-plate reader.

Each candidate string of the character pipeline scores

    score = log(candidate confidence / 100)  +  w * (reader's CTC log-likelihood of it per character)
            + t * (fits one of the country's formats)

and the reader's own greedy string, when the character pipeline did not propose it, scores the same
with the character pipeline's part at `log(floor / 100)`; it wins only when it beats the best
candidate by the margin `m`. `w`, `t`, `m` and the confidence bands are fitted on the development
fold of the benchmark (alpr/training/combine_fit.py) and saved in `plate_reader.json`: with none
fitted (`Combiner()`), w = t = 0 and m is infinite, so the character pipeline's order stands.

The reported confidence: unchanged when the character pipeline's first string stays first; else the
measured exact-plate rate of the fitting reads whose winner's reader probability per character fell
in the same band (`bands`), so a changed answer says how often such answers were right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from alpr import ties
from alpr.plate_reader import WholeRead, log_likelihood, log_likelihoods
from alpr.types import Candidate

# Below this per-character log-likelihood a string is as good as impossible for the reader; the
# clip keeps one impossible string from outweighing everything else in a fitted sum.
FLOOR_LL = -20.0


@dataclass(frozen=True)
class Combiner:
    """Fitted weights; the defaults leave the character pipeline's choice as it is."""

    weight: float = 0.0  # w: of the reader's log-likelihood per character
    template: float = 0.0  # t: for a string that fits one of the country's formats
    margin: float = math.inf  # m: how much better the reader's own string must score to win
    floor: float = 0.5  # the character pipeline's confidence (0..100) of a string it did not propose
    # (upper edge of the reader's probability per character, exact-plate rate 0..1), ascending edges
    bands: tuple[tuple[float, float], ...] = ()

    @classmethod
    def from_dict(cls, d: dict | None) -> Combiner:
        if not d:
            return cls()
        margin = d.get("margin")
        return cls(
            weight=float(d.get("weight", 0.0)),
            template=float(d.get("template", 0.0)),
            margin=math.inf if margin is None else float(margin),
            floor=float(d.get("floor", 0.5)),
            bands=tuple((float(a), float(b)) for a, b in d.get("bands", ())),
        )

    def as_dict(self) -> dict:
        return {
            "weight": self.weight,
            "template": self.template,
            "margin": None if math.isinf(self.margin) else self.margin,
            "floor": self.floor,
            "bands": [list(b) for b in self.bands],
        }

    def band_rate(self, per_char: float) -> float | None:
        """The fitted exact-plate rate of the band holding `per_char`, None without bands."""
        for edge, rate in self.bands:
            if per_char <= edge + 1e-12:
                return rate
        return self.bands[-1][1] if self.bands else None


@dataclass(frozen=True)
class Option:
    """One string the combiner weighs, with the parts of its score."""

    text: str
    char_conf: float  # the character pipeline's, 0..100 (the floor for the reader's own string)
    reader_ll: float  # per character, clipped at FLOOR_LL
    fits: bool
    proposed: bool  # by the character pipeline

    def score(self, c: Combiner) -> float:
        return math.log(max(self.char_conf, 1e-6) / 100.0) + c.weight * self.reader_ll + c.template * self.fits


@dataclass(frozen=True)
class Choice:
    candidates: tuple[Candidate, ...]  # the winner first, then the others in the pipeline's order
    why: str  # which won and why, in words (the page shows it)
    changed: bool  # the winner is not the character pipeline's first string


def per_char_ll(whole: WholeRead, text: str) -> float:
    if not text:
        return FLOOR_LL
    return max(FLOOR_LL, log_likelihood(whole.log_probs, text) / len(text))


def options(candidates: tuple[Candidate, ...], whole: WholeRead, fits, combiner: Combiner) -> list[Option]:
    """The character pipeline's strings, then the reader's own when it is new and not empty."""
    texts = [c.plate for c in candidates]
    own = bool(whole.text) and whole.text not in texts
    lls = log_likelihoods(whole.log_probs, texts + [whole.text] * own)
    per_char = [max(FLOOR_LL, ll / len(t)) if t else FLOOR_LL for ll, t in zip(lls, texts + [whole.text] * own)]
    out = [Option(c.plate, c.confidence, per_char[i], c.matches_template, True) for i, c in enumerate(candidates)]
    if own:
        out.append(Option(whole.text, combiner.floor, per_char[-1], fits(whole.text), False))
    return out


def choose(candidates: tuple[Candidate, ...], whole: WholeRead | None, fits, combiner: Combiner) -> Choice:
    """The candidates in the order the combiner ranks them, and why the first is first.

    `fits(text)` says whether a string fits the country's formats. Scores that tie (alpr/ties.py)
    keep the character pipeline's order; the reader's own string comes after its candidates then.
    """
    if whole is None or not candidates and not whole.text:
        return Choice(candidates, "", False)
    opts = options(candidates, whole, fits, combiner)
    proposed = [o for o in opts if o.proposed]
    best = ties.best(proposed, lambda o: o.score(combiner)) if proposed else None
    own = next((o for o in opts if not o.proposed), None)
    winner = best
    if own is not None and (best is None or ties.at_least(own.score(combiner), best.score(combiner) + combiner.margin)):
        winner = own
    if winner is None:
        return Choice(candidates, "", False)
    first = candidates[0].plate if candidates else ""
    p = math.exp(winner.reader_ll)
    if winner.text == first:
        agree = "agrees" if whole.text == first else f"read {whole.text or 'nothing'}"
        why = f"the character pipeline's {first} stands (the whole-plate reader {agree}; it gives {first} {p:.0%} per character)"
        return Choice(candidates, why, False)
    rate = combiner.band_rate(p)
    if winner.proposed:
        conf = next(c.confidence for c in candidates if c.plate == winner.text)
        why = (
            f"{winner.text} won over {first}: the whole-plate reader finds it likelier "
            f"({p:.0%} per character against {math.exp(per_char_ll(whole, first)):.0%})"
        )
    else:
        conf = combiner.floor
        margin = winner.score(combiner) - (best.score(combiner) if best else -math.inf)
        why = (
            f"the whole-plate reader's own {winner.text} won over {first or 'nothing'} "
            f"by {margin:.2f} (needs {combiner.margin:.2f}; {p:.0%} per character)"
        )
    if rate is not None:
        conf = round(100.0 * rate, 3)
    chosen = Candidate(winner.text, conf, winner.fits)
    rest = tuple(c for c in candidates if c.plate != winner.text)
    return Choice((chosen,) + rest, why, True)
