"""The relabeling rules of alpr.labels: idempotent saves, fitting a typed plate to the cut, advice
that names only fixes that can work, and the history Undo reads. Plates are built by hand
(test_store's fakes), so no model runs."""
from __future__ import annotations

import pytest
from test_store import add

from alpr.labels import history
from alpr.labels.relabel import (
    advice,
    aligned,
    choices,
    label_plate,
    plate_text,
    save_label,
)
from alpr.labels import LabelStore
from alpr.types import REJECT


@pytest.fixture
def store(tmp_path):
    with LabelStore.open(tmp_path / "data") as s:
        yield s


def test_the_same_label_saved_twice_is_one_history_action(store):
    plate_id = add(store, 1)
    char = store.plate_chars(plate_id)[0]
    assert save_label(store, char.id, "x", "ana").changed
    assert not save_label(store, char.id, "X", "ana").changed  # a replayed Enter
    assert history.last_action(store).describe() == f"character 1 of plate #{plate_id} labeled X"
    store.undo_last(action_id=history.last_action(store).id)
    assert store.plate_chars(plate_id)[0].source == "model"  # one undo took the one label back
    assert history.last_action(store) is None


def test_history_names_a_typed_plate_and_place_follows_the_reading_order(store):
    plate_id = add(store, 1)
    label_plate(store, plate_id, "ABC123", "ana")
    assert history.last_action(store).describe() == f"plate #{plate_id} typed as ABC123"
    third = store.plate_chars(plate_id)[2]
    assert history.place(store, third.id) == (plate_id, 3)
    assert history.current_label(store, third.id) == ("C", "person")


def test_a_plate_typed_without_its_not_a_character_segment_is_fitted_around_it(store):
    plate_id = add(store, 1)
    store.set_label(store.plate_chars(plate_id)[2].id, REJECT)
    result = label_plate(store, plate_id, "AB123", "ana")
    assert result.matched and result.text == "AB_123"
    assert aligned("AB123", ["A", "B", REJECT, "1", "2", "3"]) == "AB_123"
    assert aligned("AB12", ["A", "B", REJECT, "1", "2", "3"]) is None  # still one short


def test_plate_text_drops_separators_and_choices_end_with_not_a_character():
    assert plate_text(" ab-12.3 ") == "AB123"
    offered = choices((("1", 0.9),), None, "1")
    assert offered[0] == "1" and "I" in offered and offered[-1] == REJECT


def test_too_few_segments_advise_adding_a_segment_never_merging():
    said = advice("ABC1234", 6, can_recut=True)
    assert said.fixes == ("add", "split") and "**merge" not in said.text
    assert "1 segment short" in said.text


def test_too_many_segments_advise_merging_or_not_a_character():
    said = advice("ABC123", 7, can_recut=True)
    assert said.fixes == ("merge", "drop") and "A_BC123" in said.text
    assert advice("ABC123", 7, can_recut=False).fixes == ("drop",)
    assert advice("ABC123", 6, can_recut=True).fixes == ()
