"""The combiner's decisions: which string a read reports when the two readers differ, and how sure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alpr import plate_reader as pr
from alpr.combine import Combiner, choose
from alpr.training.combine_fit import FitRead, fit, isotonic
from alpr.combine import options
from alpr.types import Candidate


def whole_reading(text: str, p: float = 0.9) -> pr.WholeRead:
    """A reader output that spells `text`, each character in one column with probability `p`,
    blanks between and around them."""
    lp = np.full((pr.STEPS, len(pr.VOCAB)), (1 - p) / (len(pr.VOCAB) - 1))
    lp[:, pr.BLANK] = p
    for i, ch in enumerate(text):
        t = 2 * i + 1
        lp[t, :] = (1 - p) / (len(pr.VOCAB) - 1)
        lp[t, pr.INDEX[ch]] = p
    log_probs = np.log(lp)
    read, confs = pr.greedy(log_probs)
    return pr.WholeRead(read, confs, log_probs)


def fits_us(text: str) -> bool:
    return len(text) == 7


CANDIDATES = (Candidate("ABC123", 80.0, False), Candidate("ABC1234", 30.0, True))


def test_without_a_fitted_combiner_the_character_pipeline_stands():
    choice = choose(CANDIDATES, whole_reading("ABC1234"), fits_us, Combiner())
    assert choice.candidates == CANDIDATES and not choice.changed
    assert "ABC123 stands" in choice.why and "ABC1234" in choice.why


def test_a_candidate_the_reader_finds_likelier_wins_with_enough_weight():
    choice = choose(CANDIDATES, whole_reading("ABC1234"), fits_us, Combiner(weight=1.0))
    assert choice.changed and choice.candidates[0].plate == "ABC1234"
    assert "won over ABC123" in choice.why
    assert [c.plate for c in choice.candidates] == ["ABC1234", "ABC123"]


def test_the_readers_own_string_wins_only_with_the_margin():
    cands = (Candidate("XB01234", 5.0, True),)  # the pipeline is unsure; the reader sure of an O
    whole = whole_reading("XBO1234", p=0.99)
    loose = choose(cands, whole, fits_us, Combiner(weight=4.0, margin=0.5))
    assert loose.candidates[0].plate == "XBO1234" and "own XBO1234 won" in loose.why
    strict = choose(cands, whole, fits_us, Combiner(weight=4.0, margin=50.0))
    assert strict.candidates[0].plate == "XB01234" and not strict.changed


def test_a_changed_answer_reports_its_bands_measured_rate():
    bands = ((0.5, 0.2), (0.9, 0.6), (1.0, 0.95))
    c = Combiner(weight=1.0, bands=bands)
    sure = choose(CANDIDATES, whole_reading("ABC1234", p=0.999), fits_us, c)
    assert sure.candidates[0].confidence == pytest.approx(95.0)
    assert c.band_rate(0.4) == 0.2 and c.band_rate(0.7) == 0.6 and c.band_rate(1.0) == 0.95


def test_no_reader_read_leaves_the_candidates_alone():
    assert choose(CANDIDATES, None, fits_us, Combiner(weight=1.0)).candidates == CANDIDATES


def test_the_fit_learns_to_trust_the_reader_when_it_is_right_and_stays_put_when_not():
    def no_format(text: str) -> bool:  # formats cannot tell these apart: only the reader can
        return False

    unformatted = tuple(Candidate(c.plate, c.confidence, False) for c in CANDIDATES)
    truth_reader = [
        FitRead("g", "ABC1234", tuple(options(unformatted, whole_reading("ABC1234"), no_format, Combiner())))
        for _ in range(5)
    ]
    combiner, summary = fit(truth_reader)
    assert combiner.weight > 0 and summary["right_combined"] == 5 and summary["right_char_pipeline"] == 0
    truth_pipeline = [
        FitRead("g", "ABC123", tuple(options(CANDIDATES, whole_reading("ABC1234"), fits_us, Combiner())))
        for _ in range(5)
    ]
    combiner, summary = fit(truth_pipeline)
    assert combiner.weight == 0 and math.isinf(combiner.margin)  # nothing gained: nearest the pipeline alone
    assert summary["right_combined"] == summary["right_char_pipeline"] == 5


def test_the_fitted_combiner_round_trips_through_the_metadata():
    c = Combiner(weight=0.5, template=1.0, margin=2.0, bands=((1.0, 0.9),))
    assert Combiner.from_dict(c.as_dict()) == c
    assert math.isinf(Combiner.from_dict({"weight": 1.0, "margin": None}).margin)


def test_confidence_bands_never_fall_as_the_reader_grows_surer():
    # 0.9 over 10 reads then 0.8 over 30: pooled to their weighted mean, 0.825, in both bands.
    assert isotonic([0.5, 0.9, 0.8, 0.95], [4, 10, 30, 8]) == pytest.approx([0.5, 0.825, 0.825, 0.95])
    assert isotonic([0.2, 0.4, 0.6], [1, 1, 1]) == [0.2, 0.4, 0.6]


def test_a_gain_on_one_read_alone_is_not_trusted():
    unformatted = tuple(Candidate(c.plate, c.confidence, False) for c in CANDIDATES)

    def read(truth: str, reader_says: str) -> FitRead:
        return FitRead("g", truth, tuple(options(unformatted, whole_reading(reader_says), fits_us, Combiner())))

    # One read the reader would fix, four the pipeline reads right and the reader agrees with:
    # searched without that one read, no fold gains, so the pipeline's choice stands.
    reads = [read("ABC1234", "ABC1234")] + [read("ABC123", "ABC123") for _ in range(4)]
    combiner, summary = fit(reads)
    assert combiner.weight == 0 and math.isinf(combiner.margin)
    assert summary["cross_validated"]["right_searched"] <= summary["cross_validated"]["right_char_pipeline"]
