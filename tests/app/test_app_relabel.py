"""The Relabel page driven headless with AppTest, on a label store in a temporary folder.

Reads land in the store from the Recognize page; a click on a pill, a typed class or a typed plate
must end up as labels in the store (checked by opening the store itself), and nothing may reach
the page as a traceback. Plates are stored from synthetic scenes read by the shipped model, so
expected values come from what the store holds, never from what any model happens to read.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from apptest_support import assert_clean

import numpy as np

from alpr import synth
from alpr.pipeline import recognize
from alpr.labels.store import DATA_DIR_ENV, LabelStore
from alpr.types import REJECT, Box, Candidate, CharCrop, PlateRead, Prediction, Recognition

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 60


# --- helpers -----------------------------------------------------------------------------------


def _relabel(at: AppTest | None = None) -> AppTest:
    if at is None:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.run()
    at.switch_page("pages/relabel.py").run()
    assert_clean(at)
    return at


def _pills(at: AppTest, section: str = "plate") -> list:
    return [p for p in at.pills if p.key.startswith(f"relabel_pick_{section}_")]


def _typed(at: AppTest, section: str = "plate") -> list:
    return [t for t in at.text_input if t.key.startswith(f"relabel_type_{section}_")]


def _person_actions(data_dir: Path) -> int:
    """History actions behind the person labels in force: one per label a person gave."""
    with sqlite3.connect(data_dir / "labels.sqlite") as conn:
        return conn.execute(
            "SELECT COUNT(DISTINCT action_id) FROM labels WHERE source = 'person' AND undone_at IS NULL"
        ).fetchone()[0]


def _plate_text(at: AppTest):
    return next(t for t in at.text_input if t.key.startswith("relabel_text_"))


def _submit_plate(at: AppTest) -> AppTest:
    next(b for b in at.button if b.label == "Label the plate").click().run()
    assert_clean(at)
    return at


def _choices(pills) -> list[str]:
    """The classes a pills widget offers, read back from its "B 62%" / "∅" labels."""
    return [REJECT if o == "∅" else o.split()[0] for o in pills.options]


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv(DATA_DIR_ENV, str(folder))
    return folder


@pytest.fixture(scope="module")
def scene_read(scene, classifier):
    """The conftest scene (plate ABC1234, 7 segments) as the shipped model reads it."""
    rec = recognize(scene.image, country="us", topn=5, classifier=classifier)
    assert rec.plates and len(rec.plates[0].chars) == 7, "the fixture scene segments into 7 characters"
    return rec


@pytest.fixture
def stored(data_dir, scene, scene_read, classifier) -> tuple[Path, int]:
    """A store holding the scene's read, as the Recognize page leaves it; (data dir, plate id)."""
    with LabelStore.open(data_dir) as store:
        ids = store.add_recognition(scene.image, scene_read, "street.png", classifier.info.version)
    return data_dir, ids[0]


# --- the store methods the page adds -----------------------------------------------------------


def test_pending_per_class_counts_only_labels_newer_than_the_last_training(data_dir, scene, scene_read, classifier):
    with LabelStore.open(data_dir) as store:
        plate_id = store.add_recognition(scene.image, scene_read, "street.png", classifier.info.version)[0]
        chars = store.plate_chars(plate_id)
        store.set_label(chars[0].id, "X")
        store.mark_trained("v1")
        store.set_label(chars[1].id, "Y")
        pending = store.pending_per_class()
        assert pending["Y"] == 1 and pending["X"] == 0 and sum(pending.values()) == 1
        assert sum(pending.values()) == store.stats()["pending_training"]
        assert store.model_versions() == [classifier.info.version]


# --- the page ----------------------------------------------------------------------------------


def test_an_empty_store_says_where_plates_come_from(data_dir):
    at = _relabel()
    assert at.title[0].value == "Relabel"
    assert any("Nothing to relabel yet" in i.value for i in at.info)
    assert [m.value for m in at.metric] == ["0", "0", "0", "0"]
    assert (data_dir / "labels.sqlite").is_file()


def test_a_read_on_recognize_is_fixed_with_one_click_and_undone(data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.selectbox(key="recognize_sample").select_index(0).run()
    assert_clean(at)
    with LabelStore.open(data_dir) as store:
        plates = store.recent_plates()
    assert plates, "the read was kept in the label store"
    links = [link for link in at.get("page_link") if link.proto.label == "Fix this read"]
    assert links and links[0].proto.page == "relabel"

    _relabel(at)
    assert at.selectbox(key="relabel_plate").value == plates[0].id
    with LabelStore.open(data_dir) as store:
        chars = store.plate_chars(plates[0].id)
    pills = _pills(at)
    assert len(pills) == len(chars)
    first = pills[0]
    assert REJECT in _choices(first)
    other = next(c for c in _choices(first) if c not in (chars[0].pred_char, REJECT))
    first.set_value(other).run()
    assert_clean(at)
    assert f"Character 1 labeled {other}" in [t.value for t in at.toast]

    with LabelStore.open(data_dir) as store:
        stats = store.stats()
        assert store.plate_chars(plates[0].id)[0].label == other
    assert stats["labeled"] == 1 and stats["corrections"] == 1 and stats["per_class"][other] == 1
    assert [m.value for m in at.metric][1:] == ["1", "1", "1"]
    assert _pills(at)[0].value == other  # the pill now shows the person's label

    at.button(key="relabel_undo").click().run()
    assert_clean(at)
    assert f"Undid character 1 of plate #{plates[0].id} labeled {other}" in [t.value for t in at.toast]
    with LabelStore.open(data_dir) as store:
        assert store.stats()["labeled"] == 0


def test_typing_the_whole_plate_labels_every_character(stored):
    data_dir, plate_id = stored
    at = _relabel()
    _plate_text(at).set_value("abc-1234")
    _submit_plate(at)
    assert any(t.value.startswith(f"Plate #{plate_id} labeled ABC1234") for t in at.toast)
    with LabelStore.open(data_dir) as store:
        assert [c.label for c in store.plate_chars(plate_id)] == list("ABC1234")
        assert store.plate(plate_id).text_confirmed == "ABC1234"
        assert store.stats()["labeled"] == 7


def test_a_count_mismatch_is_explained_and_labels_nothing(stored):
    data_dir, plate_id = stored
    at = _relabel()
    _plate_text(at).set_value("ABC123")
    _submit_plate(at)
    warning = " ".join(w.value for w in at.warning)
    assert "6 characters" in warning and "7" in warning and "segments" in warning
    assert "∅" in warning  # says how to fix the cut
    with LabelStore.open(data_dir) as store:
        assert store.stats()["labeled"] == 0


def test_a_segment_marked_not_a_character_is_skipped_when_the_plate_is_typed(stored):
    data_dir, plate_id = stored
    at = _relabel()
    _pills(at)[3].set_value(REJECT).run()  # the "1": pretend it is a bolt
    assert_clean(at)
    _plate_text(at).set_value("ABC234")
    _submit_plate(at)
    assert any("1 segment kept as not a character" in t.value for t in at.toast)
    with LabelStore.open(data_dir) as store:
        assert [c.label for c in store.plate_chars(plate_id)] == list("ABC_234")
        assert store.plate(plate_id).text_confirmed == "ABC234"


def test_any_class_can_be_typed_and_a_bad_one_is_a_message(stored):
    data_dir, plate_id = stored
    at = _relabel()
    _typed(at)[6].set_value("z").run()
    assert_clean(at)
    _typed(at)[5].set_value("?").run()
    assert_clean(at)
    assert any("'?' is not a character class" in e.value for e in at.error)
    with LabelStore.open(data_dir) as store:
        labels = [c.label for c in store.plate_chars(plate_id)]
        assert labels[6] == "Z" and store.stats()["labeled"] == 1


def test_a_typed_label_whose_own_run_never_happened_is_saved_by_the_next_interaction(stored):
    # The browser sends every box's value with every interaction. Streamlit drops a run that a
    # newer interaction overtakes before its callbacks ran (a second Enter a tenth of a second
    # later on a busy server); the next run must still find the first box's label and save it.
    data_dir, plate_id = stored
    at = _relabel()
    boxes = _typed(at)
    boxes[1].set_value("y")  # its Enter's run is lost: no .run()
    boxes[2].set_value("z").run()
    assert_clean(at)
    with LabelStore.open(data_dir) as store:
        labels = [c.label for c in store.plate_chars(plate_id)]
        assert labels[1:3] == ["Y", "Z"] and store.stats()["labeled"] == 2
    assert _person_actions(data_dir) == 2, "one history action per label"
    assert [t.value for t in _typed(at)] == [""] * 7, "every box is drawn empty again"


def test_a_box_that_changed_nothing_is_drawn_empty_and_a_replay_of_it_saves_nothing(stored):
    data_dir, plate_id = stored
    at = _relabel()
    _typed(at)[0].set_value("q").run()
    old_key = _typed(at)[0].key
    _typed(at)[0].set_value("Q").run()  # the label it already has
    assert_clean(at)
    assert "Character 1 is already labeled Q" in [t.value for t in at.toast]
    assert _typed(at)[0].key != old_key and _typed(at)[0].value == ""
    _typed(at)[0].set_value("?").run()
    assert any("'?' is not a character class" in e.value for e in at.error)
    assert _typed(at)[0].value == ""
    assert _person_actions(data_dir) == 1


def test_review_queue_sorts_by_confidence_and_filters(stored, classifier):
    data_dir, plate_id = stored
    at = _relabel()
    with LabelStore.open(data_dir) as store:
        chars = store.plate_chars(plate_id)
    queue = _pills(at, "queue")
    assert len(queue) == len(chars)  # every guess of the one plate, none reviewed yet
    confidences = {c.id: c.pred_conf for c in chars}
    order = [int(p.key.split("_")[3]) for p in queue]
    assert [confidences[i] for i in order] == sorted(confidences.values())
    assert classifier.info.version in at.selectbox(key="relabel_queue_model").options

    # Correct the least certain crop to the first other class it offers.
    pills, target = queue[0], chars[[c.id for c in chars].index(order[0])]
    other = next(c for c in _choices(pills) if c not in (target.pred_char, REJECT))
    pills.set_value(other).run()
    assert_clean(at)
    assert len(_pills(at, "queue")) == len(chars) - 1  # the reviewed crop left the queue
    at.segmented_control(key="relabel_queue_status").set_value("corrected").run()
    assert_clean(at)
    assert [p.key.split("_")[3] for p in _pills(at, "queue")] == [str(target.id)]
    at.segmented_control(key="relabel_queue_status").set_value("all").run()
    at.selectbox(key="relabel_queue_class").set_value(other).run()
    assert_clean(at)
    assert str(target.id) in [p.key.split("_")[3] for p in _pills(at, "queue")]
    assert all(p.key.split("_")[4] == other for p in _pills(at, "queue"))


def test_counts_chart_shows_labels_waiting_for_training(stored):
    data_dir, plate_id = stored
    with LabelStore.open(data_dir) as store:
        store.label_plate(plate_id, "ABC1234")
    at = _relabel()
    import json

    chart = next(c for c in at.get("plotly_chart") if "relabel_counts" in c.proto.id)
    figure = json.loads(chart.proto.spec)
    waiting = next(t for t in figure["data"] if t["name"] == "waiting for training")
    assert sum(waiting["y"]) == 7
    assert [m.value for m in at.metric][3] == "7"


def test_an_unusable_store_is_an_error_and_recognize_still_reads(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    monkeypatch.setenv(DATA_DIR_ENV, str(blocker))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.selectbox(key="recognize_sample").select_index(1).run()
    assert_clean(at)
    assert at.metric or at.info, "the photo was still read"
    assert any("not being kept for relabeling" in w.value for w in at.warning)
    at.switch_page("pages/relabel.py").run()
    assert_clean(at)
    assert any("label store cannot be used" in e.value and "is a file" in e.value for e in at.error)


def test_a_plate_named_in_the_link_opens_and_the_arrows_step_through_plates(stored, scene, classifier):
    data_dir, first_id = stored
    from alpr.synth import sample_scenes

    text, image = sample_scenes(1, seed=0)[0]
    with LabelStore.open(data_dir) as store:
        newer = store.add_recognition(
            image, recognize(image, classifier=classifier), "other.png", classifier.info.version
        )
    assert newer and newer[0] != first_id
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.query_params["plate"] = str(first_id)  # what the "Fix this read" link carries
    _relabel(at)
    assert at.selectbox(key="relabel_plate").value == first_id
    at.button(key="relabel_newer").click().run()
    assert_clean(at)
    assert at.selectbox(key="relabel_plate").value == min(newer)  # the next plate stored after it
    at.button(key="relabel_older").click().run()
    assert at.selectbox(key="relabel_plate").value == first_id
    assert at.button(key="relabel_older").disabled  # the oldest plate


# --- fixing the segmentation on the page -------------------------------------------------------


def _overcut_plate(data_dir: Path) -> tuple[int, Box]:
    """A synthetic plate "ABC1234" stored as if the segmenter had cut its B in two: 8 segments.

    Boxes come from the renderer, so the test knows them without depending on the segmenter.
    Returns the plate id and the B's true box.
    """
    from alpr.detect import to_grey
    from alpr.segment import normalize_crop

    plate, boxes = synth.render_plate("ABC1234", np.random.default_rng(7), "us", height=80)
    image = np.full((400, 640, 3), 110, np.uint8)
    x, y = 120, 150
    image[y : y + plate.shape[0], x : x + plate.shape[1]] = plate
    b = boxes[1]
    cut = [boxes[0], Box(b.x, b.y, b.w // 2, b.h), Box(b.x + b.w // 2, b.y, b.w - b.w // 2, b.h), *boxes[2:]]
    grey = to_grey(plate)
    chars = tuple(CharCrop(c, 0, normalize_crop(grey, c, 32)) for c in cut)
    preds = tuple(Prediction(ch, 0.6, ((ch, 0.6), ("8", 0.3))) for ch in "A13C1234")
    crop_box = Box(x, y, plate.shape[1], plate.shape[0])
    read = PlateRead(
        box=crop_box,
        crop_box=crop_box,
        crop=plate,
        chars=chars,
        predictions=preds,
        candidates=(Candidate("A13C1234", 60.0, False),),
        binarization="local/dark",
        processing_time_ms=1.0,
    )
    tiny = np.zeros((2, 2), np.float32)
    rec = Recognition(image, tiny, 1.0, tiny.astype(np.int32), (), (), (read,), "us", 10)
    with LabelStore.open(data_dir) as store:
        [plate_id] = store.add_recognition(image, rec, "overcut.png", "test-model")
    return plate_id, b.shifted(x, y)


def test_a_mismatch_is_fixed_with_merge_and_then_the_typed_plate_labels_it(data_dir):
    plate_id, b_box = _overcut_plate(data_dir)
    at = _relabel()
    fix = next(e for e in at.expander if e.label == "Fix the segmentation")
    assert not fix.proto.expanded  # closed until the typed text does not fit
    _plate_text(at).set_value("ABC1234")
    _submit_plate(at)
    assert any("**8** segments" in w.value and "merge ↔" in w.value for w in at.warning)
    assert next(e for e in at.expander if e.label == "Fix the segmentation").proto.expanded
    with LabelStore.open(data_dir) as store:
        halves = store.plate_chars(plate_id)[1:3]
        assert store.stats()["labeled"] == 0
    merges = [b for b in at.button if b.key.startswith("relabel_merge_")]
    assert len(merges) == 7 and len([b for b in at.button if b.key.startswith("relabel_split_")]) == 8

    at.button(key=f"relabel_merge_{halves[0].id}_{halves[1].id}").click().run()
    assert_clean(at)
    assert f"Merged segments 2 and 3 of plate #{plate_id} into one" in [t.value for t in at.toast]
    assert any("Now cut into **7** segments" in i.value for i in at.info)
    assert not at.warning
    assert len(_pills(at)) == 7  # the crops redrew
    assert _plate_text(at).value == "ABC1234"  # what was typed, ready to submit again
    _submit_plate(at)
    assert any(t.value.startswith(f"Plate #{plate_id} labeled ABC1234") for t in at.toast)
    with LabelStore.open(data_dir) as store:
        chars = store.plate_chars(plate_id)
        assert [c.label for c in chars] == list("ABC1234") and store.stats()["labeled"] == 7
        assert chars[1].box == b_box  # the two halves make the B's box again

    # Undo takes back the labels, then the merge.
    at.button(key="relabel_undo").click().run()
    at.button(key="relabel_undo").click().run()
    assert_clean(at)
    assert f"Undid the merge of two segments on plate #{plate_id}" in [t.value for t in at.toast]
    with LabelStore.open(data_dir) as store:
        assert [c.id for c in store.plate_chars(plate_id)][1:3] == [h.id for h in halves]
        assert store.stats()["labeled"] == 0


def test_split_on_the_page_and_plates_without_a_photo_offer_only_drop(stored, tmp_path):
    data_dir, plate_id = stored
    at = _relabel()
    with LabelStore.open(data_dir) as store:
        first = store.plate_chars(plate_id)[0]
    at.button(key=f"relabel_split_{first.id}").click().run()
    assert_clean(at)
    assert f"Split segment 1 of plate #{plate_id} in two" in [t.value for t in at.toast]
    assert len(_pills(at)) == 8
    with LabelStore.open(data_dir) as store:
        chars = store.plate_chars(plate_id)
    at.button(key=f"relabel_drop_{chars[0].id}").click().run()
    assert_clean(at)
    with LabelStore.open(data_dir) as store:
        assert store.plate_chars(plate_id)[0].label == REJECT
        store.merge_chars(plate_id, 0)  # another tab merges: the page's buttons now name old places
    at.button(key=f"relabel_split_{chars[3].id}").click().run()
    assert_clean(at)
    assert any("changed since the page was drawn: nothing was done" in i.value for i in at.info)
    with LabelStore.open(data_dir) as store:
        assert len(store.plate_chars(plate_id)) == 7

    # Crops imported without their photo: no merge or split, the drop still works.
    with LabelStore.open(data_dir) as store:
        store.set_label(store.plate_chars(plate_id)[3].id, "C")
        store.export_dataset(tmp_path / "out")
        imported = store.import_path(tmp_path / "out")
        assert imported.plates == 1
        crops_plate = store.recent_plates()[0]
    at.run()  # the picker lists the new plate
    at.selectbox(key="relabel_plate").set_value(crops_plate.id).run()
    assert_clean(at)
    assert any("without its photo" in c.value for c in at.caption)
    assert all(b.disabled for b in at.button if b.key.startswith(("relabel_split_", "relabel_merge_")))


# --- the page's figures ------------------------------------------------------------------------


def test_stored_plate_figure_boxes_every_character_in_its_label_colour(stored):
    from alpr import figures, review_figures

    data_dir, plate_id = stored
    with LabelStore.open(data_dir) as store:
        chars = store.plate_chars(plate_id)
        store.set_label(chars[0].id, "X")
        chars = store.plate_chars(plate_id)
        plate = store.plate(plate_id)
        photo, scale = store.photo_image(plate.photo_id)
    fig = review_figures.stored_plate_figure(photo, scale, plate.box, chars)
    outlines = [t for t in fig.data if t.type == "scatter" and t.mode == "lines"]
    assert len(outlines) == len(chars)
    assert outlines[0].line.color == review_figures.CORRECTED_COLOUR  # a person's label unlike the guess
    assert {o.line.color for o in outlines[1:]} <= {figures.CHAR_COLOUR, figures.REJECT_COLOUR}
    readings = [a.text for a in fig.layout.annotations if a.text.startswith("<b>")]
    assert readings[0] == "<b>X</b>" and len(readings) == len(chars)
    assert review_figures.stored_plate_figure(photo, scale, None, []).layout.annotations[0].text.startswith("No plate")
    assert review_figures.stored_plate_figure(None, 1.0, None, chars).layout.annotations[0].text.startswith("No photo")


def test_label_counts_figure_splits_trained_and_waiting_and_lists_every_class():
    from alpr import review_figures
    from alpr.types import ALL_CLASSES

    per_class = dict.fromkeys(ALL_CLASSES, 0)
    per_class.update(A=5, _=2)
    fig = review_figures.label_counts_figure(per_class, {"A": 2, "_": 2})
    trained, waiting = fig.data
    assert list(trained.x) == list(waiting.x) and len(trained.x) == len(ALL_CLASSES) and trained.x[-1] == "∅"
    assert trained.y[ALL_CLASSES.index("A")] == 3 and waiting.y[ALL_CLASSES.index("A")] == 2
    assert trained.y[-1] == 0 and waiting.y[-1] == 2
    assert "7 in all, 4 waiting" in fig.layout.title.text


def test_a_plate_marked_not_a_plate_leaves_the_queue_and_a_queue_card_opens_its_plate(stored, scene, classifier):
    data_dir, plate_id = stored
    other = synth.render_scene("7XYZ123", np.random.default_rng(3), "us")[0]
    with LabelStore.open(data_dir) as store:
        second = store.add_recognition(
            other, recognize(other, country="us", topn=5, classifier=classifier), "van.png", classifier.info.version
        )[0]
    at = _relabel()
    assert at.selectbox(key="relabel_plate").value == second
    at.button(key=f"relabel_not_plate_{second}").click().run()
    assert_clean(at)
    assert f"Plate #{second} marked not a plate: its crops left the review queue" in [t.value for t in at.toast]
    with LabelStore.open(data_dir) as store:
        assert {c.plate_id for c in store.review_queue(limit=64)} == {plate_id}
    opens = [b for b in at.button if b.key.startswith("relabel_open_queue_")]
    assert opens and all(b.label.startswith(f"Plate #{plate_id} ") for b in opens)
    opens[0].click().run()
    assert_clean(at)
    assert at.selectbox(key="relabel_plate").value == plate_id

    at.toggle(key="relabel_queue_junk").set_value(True).run()
    assert any(b.label.startswith(f"Plate #{second} ") for b in at.button if b.key.startswith("relabel_open_queue_"))


def test_six_segments_for_seven_characters_advise_adding_one_and_the_added_segment_fits(data_dir):
    plate_id, _ = _overcut_plate(data_dir)
    at = _relabel()
    _plate_text(at).set_value("ABC123456")  # one more than the 8 segments
    _submit_plate(at)
    warning = " ".join(w.value for w in at.warning)
    assert "add a segment" in warning and "1 segment short" in warning and "**merge" not in warning
    at.button(key=f"relabel_add_last_{plate_id}").click().run()
    assert_clean(at)
    with LabelStore.open(data_dir) as store:
        assert len(store.plate_chars(plate_id)) == 9
    assert any("Now cut into **9** segments" in i.value for i in at.info)


def test_a_box_value_whose_callback_never_ran_is_saved_before_the_page_draws(stored):
    # What Streamlit leaves when it stops a callback early for a newer interaction: the box's
    # value is taken as seen, so no later run calls the callback for it. The page saves it itself.
    data_dir, plate_id = stored
    at = _relabel()
    box = _typed(at)[1]
    at.session_state[box.key] = "y"  # the value is there, no callback is called for it
    at.run()
    assert_clean(at)
    with LabelStore.open(data_dir) as store:
        assert [c.label for c in store.plate_chars(plate_id)][1] == "Y"
    assert "Character 2 labeled Y" in [t.value for t in at.toast]
    assert _typed(at)[1].key != box.key and _typed(at)[1].value == ""
    at.run()  # and only once
    assert _person_actions(data_dir) == 1
