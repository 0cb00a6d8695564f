"""Format statistics from confirmed plates, and the gate that judges a run on the user's labels."""
import math

import pytest

from alpr.training.finetune import judge
from alpr.training.priors import MIN_PLATES, learn
from alpr.types import ALL_CLASSES


def test_confirmed_plates_teach_letters_first_then_digits_per_region():
    priors = learn([("US", "ABC1234"), ("US", "XYZ9876"), ("US", "KLM 5O00".replace("O", "0")), ("BR", "ABC1D23")])
    us = priors.get("us", 7)
    assert us is not None and us.plates == 3
    assert us.probability(0, "O") > us.probability(0, "0")  # a letter leads a US plate
    assert us.probability(4, "0") > us.probability(4, "O")  # a digit at the fifth place
    assert priors.summary() == [{"region": "US", "length": 7, "plates": 3, "pattern": "LLLDDDD"}]
    assert priors.get("BR", 7) is None  # one plate is not a format
    table = priors.log_prior("US", 7)
    assert len(table) == 7 and set(table[0]) == set(ALL_CLASSES)
    assert all(math.isfinite(v) and v < 0 for v in table[0].values())  # smoothed: nothing impossible


def test_a_correction_changes_the_statistics_at_once():
    plates = [("EU", "AB123")] * MIN_PLATES
    before = learn(plates).get("EU", 5).probability(2, "I")
    after = learn(plates + [("EU", "ABI23")]).get("EU", 5).probability(2, "I")
    assert after > before


def _ev(store, glyphs=None, replay=None):
    parts = [None, None, None, None]
    for i, part in ((0, store), (2, glyphs), (3, replay)):
        if part:
            parts[i] = {"n": part[1], "correct": part[0], "accuracy": part[0] / part[1]}
    return {"parts_list": parts}


def test_the_gate_judges_on_the_users_held_out_labels_not_on_replay():
    # The new run fixes two labeled crops and changes some of the old model's sure reads: accepted.
    accepted, line = judge(_ev((45, 50), replay=(80, 100)), _ev((43, 50), replay=(100, 100)), "v2")
    assert accepted
    assert line.startswith("accepted: reads 45/50 held-out crops you labeled right vs 43/50 for v2")
    assert "not judged on" in line


@pytest.mark.parametrize("mine,theirs", [(42, 43), (0, 1)])
def test_the_gate_rejects_a_run_that_unlearns_one_labeled_crop(mine, theirs):
    accepted, line = judge(_ev((mine, 50), replay=(100, 100)), _ev((theirs, 50), replay=(90, 100)), "v2")
    assert not accepted and line.startswith("rejected:")


def test_without_held_out_labels_the_gate_falls_back_to_rendered_glyphs():
    accepted, line = judge(_ev(None, glyphs=(70, 74)), _ev(None, glyphs=(71, 74)), "v2")
    assert not accepted and "rendered glyphs" in line
    assert judge(_ev((1, 1)), None, None) == (True, "accepted: no active model to compare with")
