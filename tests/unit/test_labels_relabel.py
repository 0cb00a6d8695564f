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
    display_name,
    label_plate,
    plate_text,
    save_label,
    shown_text,
    status_text,
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


def test_a_class_is_shown_as_its_letter_reject_as_the_empty_set_and_nothing_as_a_question_mark():
    assert display_name("A") == "A"
    assert display_name(REJECT) == "∅"
    assert display_name(None) == "?"


def test_a_label_that_differs_from_the_guess_reads_corrected_and_one_that_agrees_confirmed():
    assert status_text("B", "person", "8") == ":orange[**B** · corrected]"
    assert status_text("B", "person", "B") == ":green[**B** · confirmed]"
    assert status_text("B", "person", None) == ":green[**B** · confirmed]"  # no guess to differ from
    assert status_text(REJECT, "import", "0") == ":green[**∅** · imported]"
    assert status_text(None, None, "B") == ":gray[not reviewed]"


def test_the_plate_text_shown_takes_labels_over_guesses_and_leaves_out_not_a_character():
    assert shown_text(["A", None, REJECT, None], ["4", "B", "C", "1"]) == "AB1"
    assert shown_text([], []) == ""
