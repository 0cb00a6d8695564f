"""Per-region plate-format statistics learnt from the plates a person confirmed or corrected.

Look-alikes (O/0, I/1, B/8, S/5, Z/2) are most corrections, and where the glyphs are drawn alike no
character classifier can tell them apart: the plate's format can ("ABC 1234": letters first). So
every confirmed plate also counts, per region and plate length, which classes appear at each
position. The assembler (`alpr.assemble`) can take `FormatPriors.log_prior(region, length)` as a
per-position bonus when it ranks candidate strings, so a correction changes the ranking at once,
before any retraining. A person's plates are the truth here; the model's reads never count.

    priors = learn(store.confirmed_plates())     # or from_store(LabelStore.open(folder))
    priors = from_json(version.metadata.get("format_priors"))   # what a fine-tune saved with its version
    priors.log_prior("US", 7)  # -> 7 dicts {class: log P(class | position)} or None when unseen
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from alpr.types import ALL_CLASSES

# A region/length pair is trusted once this many plates back it: with fewer, one typo would
# decide a position. Three is the fewest where a majority means something.
MIN_PLATES = 3
# Add-one smoothing per class kind (letter / digit), so an unseen class at a position is
# unlikely, not impossible: a new series of plates must still be readable.
SMOOTHING = 1.0


@dataclass(frozen=True)
class Format:
    region: str
    length: int
    plates: int
    counts: tuple[dict[str, int], ...]  # per position: class -> plates with it there

    def probability(self, position: int, char: str) -> float:
        """P(char at position), smoothed: letters and digits share what the counts say of their kind."""
        counts = self.counts[position]
        letter = char.isalpha()
        kind = self.letter_share(position) if letter else 1.0 - self.letter_share(position)
        same = [c for c in ALL_CLASSES if c.isalpha() == letter]
        seen = sum(counts.get(c, 0) for c in same)
        return kind * (counts.get(char, 0) + SMOOTHING) / (seen + SMOOTHING * len(same))

    def letter_share(self, position: int) -> float:
        """How often a letter (not a digit) stands at `position` on this region's plates."""
        counts = self.counts[position]
        letters = sum(n for c, n in counts.items() if c.isalpha())
        return (letters + SMOOTHING) / (sum(counts.values()) + 2 * SMOOTHING)


@dataclass(frozen=True)
class FormatPriors:
    formats: dict[tuple[str, int], Format] = field(default_factory=dict)

    def get(self, region: str | None, length: int) -> Format | None:
        found = self.formats.get(((region or "").upper(), length))
        return found if found is not None and found.plates >= MIN_PLATES else None

    def log_prior(self, region: str | None, length: int) -> list[dict[str, float]] | None:
        """Per position, log P(class | region, length, position); None where too few plates say."""
        fmt = self.get(region, length)
        if fmt is None:
            return None
        return [{c: math.log(fmt.probability(i, c)) for c in ALL_CLASSES} for i in range(length)]

    def summary(self) -> list[dict]:
        """One row per trusted format, for a page or a log: region, length, plates, L/D pattern."""
        rows = []
        for (region, length), fmt in sorted(self.formats.items()):
            if fmt.plates >= MIN_PLATES:
                pattern = "".join("L" if fmt.letter_share(i) > 0.5 else "D" for i in range(length))
                rows.append({"region": region or "-", "length": length, "plates": fmt.plates, "pattern": pattern})
        return rows


def to_json(priors: FormatPriors) -> list[dict]:
    """The statistics as a version's metadata keeps them (`format_priors`), trusted formats only."""
    return [
        {"region": f.region, "length": f.length, "plates": f.plates, "counts": list(f.counts)}
        for f in priors.formats.values()
        if f.plates >= MIN_PLATES
    ]


def from_json(rows: list[dict] | None) -> FormatPriors:
    """`to_json`'s rows back (a version's `format_priors`; None or [] gives no priors)."""
    formats = {}
    for r in rows or []:
        formats[(r["region"], int(r["length"]))] = Format(
            r["region"], int(r["length"]), int(r["plates"]), tuple(dict(c) for c in r["counts"])
        )
    return FormatPriors(formats)


def learn(plates: list[tuple[str, str]]) -> FormatPriors:
    """Statistics from (region, confirmed text) pairs; spaces and dashes are not positions."""
    counts: dict[tuple[str, int], list[Counter]] = {}
    n: Counter = Counter()
    for region, text in plates:
        chars = [c for c in (text or "").upper() if c in ALL_CLASSES]
        if not chars:
            continue
        key = ((region or "").upper(), len(chars))
        per = counts.setdefault(key, [Counter() for _ in chars])
        for i, c in enumerate(chars):
            per[i][c] += 1
        n[key] += 1
    return FormatPriors({k: Format(k[0], k[1], n[k], tuple(dict(c) for c in v)) for k, v in counts.items()})


def from_store(store) -> FormatPriors:
    """The label store's confirmed and corrected plates (`LabelStore.confirmed_plates`)."""
    return learn(store.confirmed_plates())
