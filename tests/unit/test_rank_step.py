"""The plate scorer learns from the store (alpr/training/rank_step.py): what it learns from, how its
gate counts, and that a version's refitted rank is what `recognize` ranks candidates by."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from conftest import make_scene

from alpr.config import DEFAULT, RankConfig
from alpr.evaluate import overlaps
from alpr.labels.store import LabelStore
from alpr.pipeline import _with_version_rank, recognize
from alpr.training import rank_step


@pytest.fixture(scope="module")
def store(tmp_path_factory, classifier):
    """Three photos with a confirmed plate, and one whose only plate a person marked "not a plate"."""
    data = tmp_path_factory.mktemp("scorer") / "data"
    with LabelStore.open(data) as s:
        for text, seed in (("ABC1234", 2), ("KDX4417", 11), ("JKL5521", 5), ("MNP3390", 6)):
            scene = make_scene(text, seed)
            rec = recognize(scene.image, classifier=classifier)
            [plate_id, *_] = s.add_recognition(scene.image, rec, f"{text}.png", classifier.info.version)
            if text == "MNP3390":
                s.mark_not_a_plate(plate_id)
            else:
                s.label_plate(plate_id, text)
    with LabelStore.open(data) as s:
        yield s


def test_a_confirmed_plate_gives_a_positive_at_its_box_and_negatives_elsewhere_on_its_photo(store):
    examples = rank_step.store_examples(store)
    photos = {}
    for key, at in zip(examples.photo, examples.y):
        photos.setdefault(key, []).append(bool(at))
    assert len(photos) == 4
    with_plate = [v for v in photos.values() if any(v)]
    assert len(with_plate) == 3 and all(v.count(True) >= 1 for v in with_plate)
    assert sum(len(v) for v in with_plate) > 3  # the photo's other candidates are negatives


def test_a_not_a_plate_mark_gives_only_negatives_at_the_marked_box(store):
    examples = rank_step.store_examples(store)
    marked = [k for k in dict.fromkeys(examples.photo.tolist()) if not examples.y[examples.photo == k].any()]
    assert len(marked) == 1
    [(photo_id, image, confirmed, rejected)] = [p for p in store.plate_box_photos() if f"store:{p[0]}" == marked[0]]
    assert not confirmed and len(rejected) == 1
    # only the candidates at the marked box: the rest of the photo may hold a plate nobody labeled
    assert 1 <= (examples.photo == marked[0]).sum() <= 3


def test_found_counts_photos_by_where_their_plate_ranks_and_equal_scores_keep_detections_order():
    x = np.array([[1.0] + [0.0] * 8, [1.0] + [0.0] * 8, [2.0] + [0.0] * 8, [0.0] * 9])
    ex = rank_step.Examples(x, np.array([False, True, True, False]), np.ones(4, bool), np.array(["a", "a", "b", "b"]))
    rank = replace(DEFAULT.rank, **{name: 0.0 for name in rank_step.FEATURES})
    assert rank_step.found(ex, replace(rank, chars=1.0), 1) == 1  # a: tied, the first in order is a negative
    assert rank_step.found(ex, replace(rank, chars=1.0), 2) == 2
    assert rank_step.found(ex, replace(rank, chars=-1.0), 1) == 0


def test_a_refit_that_ranks_held_out_plates_better_replaces_a_bad_rank(store):
    bad = replace(DEFAULT.rank, chars=-2.0, plate_shaped=-3.0, log_height=-3.0)  # plates ranked last
    outcome = rank_step.run(store, bad, log=lambda line: None)
    assert outcome.refitted and outcome.summary["kept"] == "refit"
    counts = outcome.summary["counts"]
    assert counts["refit"]["first"] > counts["parent"]["first"]
    assert outcome.rank.chars > 0 and outcome.summary["rank"]["chars"] == outcome.rank.chars


def test_a_refit_without_a_gain_keeps_the_active_rank(store):
    refit = rank_step.run(store, DEFAULT.rank, log=lambda line: None).rank
    again = rank_step.run(store, refit, log=lambda line: None)  # the same data cannot beat its own fit
    assert not again.refitted and again.rank == refit and "not kept" in again.summary["gate"]


def test_recognize_ranks_by_the_versions_refitted_rank_unless_the_caller_chose_one(classifier):
    fitted = replace(DEFAULT.rank, bias=-1.0, chars=0.5)
    version = _versioned(classifier, {"rank": {**fitted.__dict__}})
    assert _with_version_rank(DEFAULT, version).rank == fitted
    chosen = replace(DEFAULT, rank=replace(DEFAULT.rank, bias=5.0))
    assert _with_version_rank(chosen, version).rank == chosen.rank
    assert _with_version_rank(DEFAULT, classifier).rank == DEFAULT.rank  # the shipped model carries none
    assert RankConfig.from_dict({"chars": 1.0}) is None  # a rank missing weights is ignored


def test_a_version_whose_rank_puts_the_plate_last_reads_another_candidate_first(classifier, scene):
    # The rank a version carries decides which candidate is read first: inverted, the plate loses.
    inverted = {name: -getattr(DEFAULT.rank, name) for name in (*rank_step.FEATURES, "bias")}
    normal = recognize(scene.image, classifier=classifier, plate_reader=False)
    upside = recognize(scene.image, classifier=_versioned(classifier, {"rank": inverted}), plate_reader=False)
    at = [overlaps(c.box, scene.box) for c in upside.plate_candidates]
    assert overlaps(normal.plate_candidates[0].box, scene.box)
    assert at and not at[0]


def _versioned(classifier, metadata: dict):
    import copy

    out = copy.copy(classifier)
    out.info = replace(classifier.info, metadata={**classifier.info.metadata, **metadata})
    return out
