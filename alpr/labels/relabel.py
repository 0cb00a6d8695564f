"""Relabeling rules the Relabel page follows, kept out of the page so they can be tested alone.

A save is idempotent (the same label twice is one action), a typed plate is fitted to the cut
before anything is written, and the advice for a plate that does not fit names the fix that can
work for that case: too many segments want a merge or ∅, too few want a segment added or the box
widened (merging can only make fewer).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from alpr.types import REJECT

# Classes a glyph is often mistaken for: offered as one-click choices when the model's own top-k is
# short (a confident model lists only its guess), so the usual fixes never need typing.
LOOKALIKES = {
    "0": "OD",
    "O": "0DQ",
    "D": "0O",
    "Q": "O0",
    "1": "I7",
    "I": "1T",
    "7": "1T",
    "T": "7I",
    "8": "B3",
    "B": "8R",
    "3": "8",
    "5": "S",
    "S": "5",
    "2": "Z",
    "Z": "2",
    "6": "G",
    "G": "6C",
    "C": "G",
    "U": "V",
    "V": "UY",
    "Y": "V",
    "M": "NW",
    "W": "M",
    "N": "MH",
    "H": "N",
    "K": "X",
    "X": "K",
    "E": "F",
    "F": "EP",
    "P": "R",
    "R": "PB",
    "4": "A",
    "A": "4",
    "9": "P",
    "J": "U",
    "L": "1",
}
# Pills under a crop: the model's top-k, topped up with look-alikes to this many, then ∅. Four fit
# a card's width on two rows; more would push the typing box below the fold of a phone.
PILLS_BEFORE_REJECT = 4
_SEPARATORS = re.compile(r"[\s\-.·]")


def plate_text(typed: str | None) -> str:
    """What a person typed for a whole plate, as the store wants it: no spaces or dashes, capitals."""
    return _SEPARATORS.sub("", typed or "").upper()


def choices(topk: Sequence[tuple[str, float]], label: str | None, guess: str | None) -> list[str]:
    """The classes offered as pills: the model's top-k, the current label, look-alikes of the
    current class up to PILLS_BEFORE_REJECT, and ∅ last."""
    options = [k for k, _ in topk if k != REJECT]
    for extra in [label, *LOOKALIKES.get(label or guess or "", "")]:
        if len(options) >= PILLS_BEFORE_REJECT and extra != label:
            break
        if extra is not None and extra != REJECT and extra not in options:
            options.append(extra)
    return [*options, REJECT]


@dataclass(frozen=True)
class Saved:
    """What saving one label did: `changed` is False when the character already had it."""

    char_id: int
    label: str
    changed: bool


def save_label(store, char_id: int, label: str, author: str | None) -> Saved:
    """Label one character unless a person (or an import) already gave it this very label.

    A browser may deliver the same Enter twice (a rerun interrupted and replayed); the second
    delivery must not become a second history action that Undo would then take back while the
    label stays on screen.
    """
    from alpr.labels.history import current_label

    wanted = (label or "").strip().upper()
    if current_label(store, char_id) in ((wanted, "person"), (wanted, "import")):
        return Saved(char_id, wanted, False)
    store.set_label(char_id, wanted, author=author)
    return Saved(char_id, wanted, True)


def aligned(text: str, current: Sequence[str | None]) -> str | None:
    """`text` with "_" put where the segments are not characters, when that makes the counts match:
    the segments currently labeled (or guessed) "not a character" are exactly the extra ones."""
    rejects = [i for i, label in enumerate(current) if label == REJECT]
    if REJECT in text or not rejects or len(text) + len(rejects) != len(current):
        return None
    it = iter(text)
    return "".join(REJECT if i in rejects else next(it) for i in range(len(current)))


def label_plate(store, plate_id: int, text: str, author: str | None):
    """Label a whole plate from its text; when the counts differ only by segments already marked ∅,
    label it with those skipped. Returns the store's PlateLabelResult (matched False: the text is
    kept as the plate's, no character is labeled)."""
    current = [c.label if c.label is not None else c.pred_char for c in store.plate_chars(plate_id)]
    fitted = aligned(text, current) if len(text) != len(current) else None
    return store.label_plate(plate_id, fitted or text, author=author)


@dataclass(frozen=True)
class Advice:
    """What to do about a typed plate that does not fit the cut: a headline and the fixes that can work."""

    text: str
    fixes: tuple[str, ...]  # of "add", "widen", "merge", "split", "drop"


def advice(typed: str, segments: int, can_recut: bool) -> Advice:
    """The fixes that can make `segments` match the `typed` text's length, and nothing else."""
    n = len(typed)
    if n == segments:
        return Advice(
            f"Now cut into **{segments}** segments, as many as {typed} has characters: label the plate again.", ()
        )
    if segments < n:
        missing = n - segments
        what = f"{missing} segment{'s' if missing > 1 else ''} short"
        if not can_recut:
            return Advice(
                f"{typed} has {n} characters but the plate holds only **{segments}** crops ({what}), and it was imported "
                "without its photo, so nothing can be cut again: label the crops one by one.",
                (),
            )
        return Advice(
            f"{typed} has {n} characters but the plate is cut into **{segments}** segments ({what}): the text is kept "
            "as the plate's, but no character was labeled, and merging would only make fewer. A character the cut missed (one outside the detected box, "
            "or one without a box of its own) needs a segment: **add a segment** before the first or after the last, "
            "or **split** a segment that holds two.",
            ("add", "split"),
        )
    extra = segments - n
    what = f"{extra} segment{'s' if extra > 1 else ''} too many"
    example = f"{typed[:1]}_{typed[1:]}" if typed else "_"
    fixes = ("merge", "drop") if can_recut else ("drop",)
    merge = "**merge ↔** two segments that are one character, " if can_recut else ""
    return Advice(
        f"{typed} has {n} characters but the plate is cut into **{segments}** segments ({what}): the text is kept "
        f"as the plate's, but no character was labeled, since labeling by position would teach wrong letters. {merge.capitalize() if merge else ''}"
        f"{'or ' if merge else ''}mark each extra segment **∅** (not a character); you can also type the text with "
        f"_ for each extra segment, e.g. {example} when the first segment is not a character.",
        fixes,
    )


def display_name(label: str | None) -> str:
    """A class as the page shows it: ∅ for "not a character", ? for none yet."""
    return "∅" if label == REJECT else (label or "?")


def status_text(label: str | None, source: str | None, guess: str | None) -> str:
    """One character's review state in Markdown: corrected (a person changed the model's guess),
    confirmed, imported, or not reviewed."""
    if source == "person":
        if guess is not None and label != guess:
            return f":orange[**{display_name(label)}** · corrected]"
        return f":green[**{display_name(label)}** · confirmed]"
    if source == "import":
        return f":green[**{display_name(label)}** · imported]"
    return ":gray[not reviewed]"


def shown_text(labels: Sequence[str | None], guesses: Sequence[str | None]) -> str:
    """The plate's text as read now: each segment's label, else the model's guess; ∅ segments left out."""
    return "".join(display_name(lab if lab is not None else g) for lab, g in zip(labels, guesses)).replace("∅", "")
