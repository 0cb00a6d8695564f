"""How every reading decision compares floats, so that no answer hangs on a float's last bits.

A classifier's probabilities differ in their last bits from one CPU to the next (AVX2 against
AVX-512 kernels, oneDNN's summation order), and so do the scores built from them. Wherever the
pipeline picks, sorts or gates on such a number, it does so through this module:

* Two scores **tie** when the lower is within `ties.tolerance` of the higher, relative to the
  higher's size (absolute below 1): `margin(higher)`.
* A value within the tolerance of a threshold **counts as at it**: `at_least(x, t)` is
  `x >= t - tol`, `above(x, t)` is `x > t + tol`.
* Choosing and ordering (`best`, `ranked`): by score; scores that tie with the best of their run
  go by the caller's **tie key**, then by the order the items were given in. Every caller gives
  them in an order that does not hang on a float's last bits: detection's or the segmenter's
  (pixels only), the frames', or one already ranked this way.
  The readings' tie key (alpr/pipeline.py) prefers a read that fits the country's formats, then
  one of the country's plate lengths, then fewer segments; a candidate string's
  (alpr/assemble.py) prefers the country's formats and lengths, then the text's own order.
* `argmax`: the first class within the tolerance of the largest.

The tolerance is far above float noise (~1e-7 relative) and below the gaps that separate the
shipped model's different readings (docs/accuracy.md#ties); `tests/unit/test_ties.py` reads the
plumbing tests' scenes with every probability moved by about 1e-6 and asserts the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import numpy as np

from alpr.config import DEFAULT

T = TypeVar("T")
TOLERANCE = DEFAULT.ties.tolerance


def margin(value: float, tolerance: float = TOLERANCE) -> float:
    """How far from `value` another score still ties with it."""
    return tolerance * max(1.0, abs(value))


def at_least(value: float, threshold: float, tolerance: float = TOLERANCE) -> bool:
    """`value >= threshold`, a value within the tolerance of the threshold counting as at it."""
    return value >= threshold - margin(threshold, tolerance)


def above(value: float, threshold: float, tolerance: float = TOLERANCE) -> bool:
    """`value > threshold` by more than the tolerance."""
    return value > threshold + margin(threshold, tolerance)


def _no_key(item) -> tuple:
    return ()


def ranked(
    items: Iterable[T],
    score: Callable[[T], float],
    key: Callable[[T], object] = _no_key,
    tolerance: float = TOLERANCE,
) -> list[T]:
    """`items` best first: by `score`, highest first; a run of scores each within the tolerance of
    the run's highest is a tie, ordered by `key` (ascending), then by the order given."""
    given = list(items)
    order = sorted(range(len(given)), key=lambda i: -score(given[i]))
    out: list[T] = []
    run: list[int] = []
    lead = 0.0
    for i in order:
        s = score(given[i])
        if run and lead - s > margin(lead, tolerance):
            out += [given[j] for j in sorted(run, key=lambda j: (key(given[j]), j))]
            run = []
        if not run:
            lead = s
        run.append(i)
    out += [given[j] for j in sorted(run, key=lambda j: (key(given[j]), j))]
    return out


def best(
    items: Iterable[T],
    score: Callable[[T], float],
    key: Callable[[T], object] = _no_key,
    tolerance: float = TOLERANCE,
    default: T | None = None,
) -> T | None:
    """The first of `ranked(items, score, key)`, or `default` when there are none."""
    given = list(items)
    if not given:
        return default
    top = max(score(item) for item in given)
    near = [(key(item), i) for i, item in enumerate(given) if top - score(item) <= margin(top, tolerance)]
    return given[min(near)[1]]


def argmax(probs: np.ndarray, tolerance: float = TOLERANCE) -> np.ndarray:
    """Per row of `probs` (or for a 1-d array), the first index within the tolerance of the row's
    largest value: a near-tie between two classes goes to the one listed first."""
    probs = np.asarray(probs)
    top = probs.max(axis=-1, keepdims=True)
    near = probs >= top - tolerance * np.maximum(1.0, np.abs(top))
    return near.argmax(axis=-1)
