"""Stage 4: build plate strings from per-character top-k, ranked with country formats.

Each character contributes its top-k classes; "not a character" contributes an empty string, so a
logo the segmenter let through can be dropped by the classifier rather than read as a letter. The
N best strings by joint probability are then re-ranked by the country's plate formats, as
OpenALPR's `-c` postprocessing does: in a country with one strict format (Brazil) a string that
fits it beats any that does not; elsewhere a fitting string only gets a bonus.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from alpr.config import DEFAULT, AssembleConfig
from alpr.errors import InputError
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


COUNTRIES = {
    "us": Country(
        "us",
        "United States",
        # Every state has its own serial formats, and vanity plates anything from 2 to 8 characters:
        # a US plate "matches" when its length is plausible, and no format is preferred.
        ("**", "***", "****", "*****", "******", "*******", "********"),
        False,
    ),
    "eu": Country(
        "eu",
        "Europe",
        # The serial layouts of the common European formats (IT, FR, HR, ES, UK, DE-like, ...).
        ("@@###@@", "@@##@@@", "@@@##@@", "@###@@@", "#@@####", "####@@@", "@@@###", "@@@####", "@@####", "@@@@###"),
        False,
        bonus=3.0,
    ),
    "br": Country("br", "Brazil", ("@@@####", "@@@#@##"), True),
}


def country(code: str) -> Country:
    try:
        return COUNTRIES[code]
    except KeyError:
        raise InputError(f"unknown country {code!r}; choose one of {', '.join(COUNTRIES)}") from None


def matches(plate: str, templates: tuple[str, ...]) -> bool:
    return any(_fits(plate, t) for t in templates)


def assemble(
    predictions: list[Prediction] | tuple[Prediction, ...],
    country_code: str = "us",
    topn: int = 10,
    config: AssembleConfig = DEFAULT.assemble,
) -> tuple[Candidate, ...]:
    """The `topn` best plate strings for a sequence of character predictions."""
    spec = country(country_code)
    options = [_options(p, config) for p in predictions]
    options = [o for o in options if o]
    if not options:
        return ()
    beam = _beam(options, width=max(50, 5 * topn))
    pool = dict(beam)
    for plate, logp in _template_reads(options, spec):
        pool[plate] = max(pool.get(plate, -math.inf), logp)

    ranked = []
    for plate, logp in pool.items():
        if not plate:
            continue
        fits = matches(plate, spec.templates)
        rank_key = (fits if spec.strict else True, logp + (spec.bonus if fits else 0.0))
        confidence = 100.0 * math.exp(logp / max(len(plate), 1))
        ranked.append((rank_key, Candidate(plate, round(confidence, 3), fits)))
    ranked.sort(key=lambda kc: kc[0], reverse=True)
    out = [c for _, c in ranked if c.confidence >= config.min_candidate_confidence]
    return tuple(out[:topn])


def _options(p: Prediction, config: AssembleConfig) -> list[tuple[str, float]]:
    """Alternatives for one crop as (text, log-probability); "" means "drop this crop"."""
    if p.char == REJECT and p.confidence >= config.reject_prob:
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
        beam = sorted(grown.items(), key=lambda kv: -kv[1])[:width]
    return beam


def _template_reads(options: list[list[tuple[str, float]]], spec: Country) -> list[tuple[str, float]]:
    """For each template as long as the kept crops, the best string that fits it."""
    kept = [o for o in options if o[0][0] != ""]  # crops whose best guess is a character
    reads = []
    for template in spec.templates:
        if len(template) != len(kept):
            continue
        text, logp = "", 0.0
        for slot, opts in zip(template, kept):
            fitting = [(ch, lp) for ch, lp in opts if ch and _slot_ok(ch, slot)]
            if not fitting:
                break
            ch, lp = max(fitting, key=lambda o: o[1])
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
