"""Fitting the candidate rank: a logistic regression in the units RankConfig holds, and the count of
photos whose plate is among the first k candidates that `python -m alpr.training.rank_fit` prints."""

from __future__ import annotations

import numpy as np

from alpr.config import RankConfig
from alpr.training.rank_fit import FEATURES, Example, coverage, fit, scores


def test_fit_recovers_the_weights_of_a_known_logistic_model():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.integers(0, 9, 4000), rng.normal(size=(4000, len(FEATURES) - 1))]).astype(float)
    true = np.zeros(len(FEATURES))
    true[FEATURES.index("chars")] = 0.8
    true[FEATURES.index("log_height")] = -1.5
    p = 1 / (1 + np.exp(-(x @ true - 3.0)))
    y = (rng.random(4000) < p).astype(float)
    fitted = fit(x, y)
    assert abs(fitted.chars - 0.8) < 0.15 and abs(fitted.log_height + 1.5) < 0.25
    assert abs(fitted.bias + 3.0) < 0.5
    assert max(abs(getattr(fitted, f)) for f in FEATURES if f not in ("chars", "log_height")) < 0.2


def test_scores_are_the_fitted_models_log_odds():
    rank = RankConfig(**({f: 0.0 for f in FEATURES} | {"chars": 2.0}), bias=-1.0)
    e = Example("a.jpg", "us", False, np.array([3.0] + [1.0] * (len(FEATURES) - 1)), True, 0.0)
    assert scores([e], rank).tolist() == [5.0]


def example(photo: str, at_plate: bool) -> Example:
    return Example(photo, "us", False, np.zeros(len(FEATURES)), at_plate, 0.0)


def test_coverage_counts_photos_by_where_their_plate_ranks():
    examples = [example("a", True), example("a", False), example("b", False), example("b", True), example("c", False)]
    table = coverage(examples, np.array([2.0, 1.0, 2.0, 1.0, 0.0]))["us"]
    assert table["n"] == 3
    assert (table[1], table[2], table[12]) == (1, 2, 2)  # "a" first, "b" second, "c" has no plate


def test_a_folder_without_labeled_photos_is_refused_with_a_message(tmp_path, capsys):
    import pytest

    from alpr.training.rank_fit import main

    with pytest.raises(SystemExit) as missing:
        main([str(tmp_path / "nowhere")])
    assert missing.value.code == 2 and "does not exist" in capsys.readouterr().err
    (tmp_path / "labels.csv").write_text("file,plate\na.png,ABC123\n")  # plate crops: no boxes to rank
    (tmp_path / "a.png").write_bytes(b"")
    with pytest.raises(SystemExit) as crops:
        main([str(tmp_path)])
    assert crops.value.code == 2 and "no labeled photos with a plate box" in capsys.readouterr().err
