"""Stage 4: build plate strings from per-character top-k, ranked with country formats.

Each character contributes its top-k classes; "not a character" contributes an empty string, so a
logo the segmenter let through can be dropped by the classifier rather than read as a letter. The
N best strings by joint probability are then re-ranked by the country's plate formats, as
OpenALPR's `-c` postprocessing does, with the formats as priors: each string's score is its joint
log-probability plus the log prior of the format it fits (relative to the likeliest format). Where
formats were counted on labeled plates (Brazil) the prior is those counts, smoothed; elsewhere a
string that fits any format gets a flat bonus over one that fits none.

The confidence shown for a candidate is the score that ranks it, per crop read:
`100 * exp(score / crops)`, so candidates are sorted by the number the page shows beside them and
the headline plate is always the one with the highest confidence. Strings whose scores tie
(alpr/ties.py: within `ties.tolerance`) go by `text_key`: one that fits the country's formats, then
one of its plate lengths, then the text's own order; a tied string never shows a higher confidence
than the one before it. The beam keeps tied strings by their text too, so which strings survive
does not hang on a probability's last bits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from alpr import ties
from alpr.config import DEFAULT, AssembleConfig
from alpr.errors import InputError
from alpr.priors import FormatPriors
from alpr.types import REJECT, Candidate, Prediction


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    # "@" a letter, "#" a digit, "*" either: one entry per plate format in use
    templates: tuple[str, ...]
    strict: bool  # True: a string matching a template always ranks above one that does not
    # Log-probability bonus of a fitting string where the formats are not strict: it settles
    # letter/digit look-alikes ("I"/"1", "O"/"0") in favour of the format without outvoting a
    # clear read (e^3 ~ 20x).
    bonus: float = 0.0
    # Labeled plates per template (same order) and fitting none, counted on training labels by
    # `count_formats`; when given they set the priors (add-one smoothed) in place of `bonus`.
    counts: tuple[int, ...] = ()
    other_count: int = 0
    # Where formats are too many to list (US states, vanity plates): labeled plates per letter/
    # digit layout ("#@@@###"), and the weight (0..1) their smoothed log prior is given.
    layout_counts: dict = field(default_factory=dict)
    layout_weight: float = 0.0
    # Rows longer than this are the plate's frame cut as a "1" or "I" at an end (alpr/stray.py);
    # 0 where long plates are common.
    max_length: int = 0

    @property
    def longest(self) -> int:
        """The most characters any of the country's formats holds."""
        return max(len(t) for t in self.templates)

    def has_length(self, n: int) -> bool:
        """Whether some format of the country is `n` characters long."""
        return any(len(t) == n for t in self.templates)

    def log_prior(self, plate: str) -> float:
        """Log prior of `plate`'s format relative to the likeliest format (0 for the likeliest)."""
        fits = [i for i, t in enumerate(self.templates) if _fits(plate, t)]
        if self.layout_counts and self.layout_weight:
            layout = "".join("#" if ch.isdigit() else "@" for ch in plate)
            best = max(self.layout_counts.values()) + 1
            return self.layout_weight * math.log((self.layout_counts.get(layout, 0) + 1) / best)
        if not self.counts:
            return 0.0 if fits else -self.bonus
        # Add-one smoothing for the formats: a format never seen in the labels is rare, not
        # impossible. A string fitting no format gets 1/100 of that in a strict country, where
        # only misreads fit none, so it ranks below every format short of ~100x the evidence.
        other = self.other_count + (0.01 if self.strict else 1.0)
        best = max(max(self.counts) + 1, other)
        count = max(self.counts[i] for i in fits) + 1 if fits else other
        return math.log(count / best)


COUNTRIES = {
    "us": Country(
        "us",
        "United States",
        # Every state has its own serial formats, and vanity plates anything from 2 to 8 characters:
        # a US plate "matches" when its length is plausible, and no format is preferred.
        ("**", "***", "****", "*****", "******", "*******", "********"),
        False,
        # The layouts of the 521 training labels of endtoend/us and plates/us (hold-out fifth left
        # out), those seen 3 times or more; at half weight, an unseen layout costs e^-2.2 ~ 9x.
        layout_counts={
            "###@@@": 80,
            "@@@###": 65,
            "@@@####": 44,
            "#@@@###": 35,
            "@@#@#@": 32,
            "@@####": 19,
            "@@@@@@@": 17,
            "#######": 14,
            "####": 14,
            "@######": 12,
            "@@@##@": 12,
            "####@@": 12,
            "@@###": 12,
            "#@@###": 11,
            "######": 11,
            "@@@@@@": 8,
            "@@#@###": 8,
            "@@@@@": 8,
            "#####": 7,
            "##@@##": 5,
            "@@#@@@@": 4,
            "#####@": 4,
            "#@@####": 3,
            "#@#####": 3,
            "@###@@": 3,
            "@####": 3,
            "#@####": 3,
        },
        layout_weight=0.5,
        # 8 or more characters: 1 of 124 development photos' labels and 7 of 519 crops'.
        max_length=7,
    ),
    "eu": Country(
        "eu",
        "Europe",
        # The serial layouts of the common European formats (IT, FR, HR, ES, UK, DE-like, ...).
        # "@@#####" (PL WA 56660) and "#@#####" (CZ/SK 1Z7 5233): 7 of the 47 training labels of
        # endtoend/eu fit no other layout.
        (
            "@@###@@",
            "@@##@@@",
            "@@@##@@",
            "@###@@@",
            "#@@####",
            "####@@@",
            "@@@###",
            "@@@####",
            "@@####",
            "@@@@###",
            "@@#####",
            "#@#####",
        ),
        False,
        bonus=3.0,
    ),
    # The benchmark's Brazilian photos predate Mercosul (2018): of 971 training labels (63 of
    # endtoend/br outside the hold-out, 908 of openalpr-train-detector/br outside its by-plate
    # hold-out) every one is the old LLLDDDD, so a Mercosul LLLDLDD read, or one fitting neither,
    # needs ~970x the evidence at its letter/digit slots: a 0 read as O in the fifth place loses.
    "br": Country("br", "Brazil", ("@@@####", "@@@#@##"), True, counts=(971, 0), other_count=0, max_length=7),
}


def country(code: str) -> Country:
    try:
        return COUNTRIES[code]
    except KeyError:
        raise InputError(f"unknown country {code!r}; choose one of {', '.join(COUNTRIES)}") from None


def count_formats(plates, templates: tuple[str, ...]) -> tuple[tuple[int, ...], int]:
    """(labeled plates per template, plates fitting none): the numbers behind a Country's `counts`.
    A plate fitting several templates counts for the first."""
    counts, other = [0] * len(templates), 0
    for plate in plates:
        i = next((k for k, t in enumerate(templates) if _fits(plate, t)), None)
        if i is None:
            other += 1
        else:
            counts[i] += 1
    return tuple(counts), other


def matches(plate: str, templates: tuple[str, ...]) -> bool:
    return any(_fits(plate, t) for t in templates)


def assemble(
    predictions: list[Prediction] | tuple[Prediction, ...],
    country_code: str = "us",
    topn: int = 10,
    config: AssembleConfig = DEFAULT.assemble,
    priors: FormatPriors | None = None,
) -> tuple[Candidate, ...]:
    """The `topn` best plate strings for a sequence of character predictions.

    `priors`: per-position statistics of the plates a person confirmed (alpr/priors.py, saved with a
    fine-tuned version); where they hold a format of this country and length, a string scores the
    log prior of its characters at their positions, relative to the likeliest ones, at
    `config.learned_prior_weight`: a correction of an O to a 0 at the fifth place makes a 0 there
    likelier on every later plate of that format."""
    spec = country(country_code)
    learned = _learned(priors, spec.code, config.learned_prior_weight)
    options = [_options(p, config) for p in predictions]
    options = [o for o in options if o]
    if not options:
        return ()
    beam = _beam(options, width=max(50, 5 * topn))
    pool = dict(beam)
    for plate, logp in _template_reads(options, spec):
        pool[plate] = max(pool.get(plate, -math.inf), logp)

    scored = [(logp + spec.log_prior(plate) + learned(plate), plate) for plate, logp in pool.items() if plate]
    out: list[Candidate] = []
    for score, plate in ties.ranked(scored, lambda sp: sp[0], lambda sp: text_key(sp[1], spec)):
        # Per crop read, not per character kept: a crop dropped as "not a character" was read
        # too (its reject probability is in logp), so strings of different lengths compare fairly.
        confidence = round(100.0 * math.exp(score / len(options)), 3)
        if out:
            confidence = min(confidence, out[-1].confidence)  # a tie ranked second shows no more
        if ties.at_least(confidence, config.min_candidate_confidence):
            out.append(Candidate(plate, confidence, matches(plate, spec.templates)))
    return tuple(out[:topn])


def text_key(plate: str, spec: Country) -> tuple:
    """How candidate strings whose scores tie are ordered, lowest first: one that fits the
    country's formats, then one of its plate lengths, then by the text."""
    return (not matches(plate, spec.templates), not spec.has_length(len(plate)), plate)


def _learned(priors: FormatPriors | None, region: str, weight: float):
    """plate -> weighted log prior of its characters by position, relative to the likeliest
    characters (0 where no statistics hold the plate's format, or `weight` is 0)."""
    if priors is None or not weight:
        return lambda plate: 0.0
    tables: dict[int, tuple[list[dict[str, float]], float] | None] = {}  # per length, computed once

    def score(plate: str) -> float:
        if len(plate) not in tables:
            table = priors.log_prior(region, len(plate))
            tables[len(plate)] = None if table is None else (table, sum(max(t.values()) for t in table))
        if tables[len(plate)] is None:
            return 0.0
        table, best = tables[len(plate)]
        return weight * (sum(table[i][ch] for i, ch in enumerate(plate)) - best)

    return score


def _options(p: Prediction, config: AssembleConfig) -> list[tuple[str, float]]:
    """Alternatives for one crop as (text, log-probability); "" means "drop this crop"."""
    if p.char == REJECT and ties.at_least(p.confidence, config.reject_prob):
        return []
    opts = []
    for cls, prob in p.topk[: config.per_char_k]:
        opts.append(("" if cls == REJECT else cls, math.log(max(prob, 1e-6))))
    return opts


def _beam(options: list[list[tuple[str, float]]], width: int) -> list[tuple[str, float]]:
    beam = [("", 0.0)]
    for opts in options:
        grown: dict[str, float] = {}
        for text, logp in beam:
            for ch, lp in opts:
                key = text + ch
                grown[key] = max(grown.get(key, -math.inf), logp + lp)
        # Strings that tie are kept by their text: which survive the cut must not hang on float noise.
        beam = ties.ranked(grown.items(), lambda kv: kv[1], lambda kv: kv[0])[:width]
    return beam


def _template_reads(options: list[list[tuple[str, float]]], spec: Country) -> list[tuple[str, float]]:
    """For each template as long as the kept crops, the best string that fits it."""
    kept = [o for o in options if o[0][0] != ""]  # crops whose best guess is a character
    # The crops left out were read as "not a character": that reading's probability is part of
    # the string's, as it is for the beam's strings, or dropping a crop would come free.
    dropped = sum(o[0][1] for o in options if o[0][0] == "")
    reads = []
    for template in spec.templates:
        if len(template) != len(kept):
            continue
        text, logp = "", dropped
        for slot, opts in zip(template, kept):
            fitting = [(ch, lp) for ch, lp in opts if ch and _slot_ok(ch, slot)]
            if not fitting:
                break
            ch, lp = ties.best(fitting, lambda o: o[1])  # a tie: the crop's own order (classify)
            text, logp = text + ch, logp + lp
        else:
            reads.append((text, logp))
    return reads


def _slot_ok(ch: str, slot: str) -> bool:
    return slot == "*" or (slot == "@" and ch.isalpha()) or (slot == "#" and ch.isdigit())


def _fits(plate: str, template: str) -> bool:
    return len(plate) == len(template) and all(_slot_ok(c, s) for c, s in zip(plate, template))


_PLATE_RE = re.compile(r"[^A-Z0-9]")


def normalize_plate(text: str) -> str:
    """Plate text as benchmarks compare it: upper case, no spaces or dashes."""
    return _PLATE_RE.sub("", text.upper())
