"""The label store keeps every label: transactions, migrations, history and undo, concurrency, crashes,
export and import.

Most tests build `Recognition` objects by hand (`fake_plate`), so they run without TensorFlow and
know exactly what the "model" said. The few that use the shipped model assert only what was stored,
never what it read. Child processes (concurrent writers, kill -9) import this module to run the
`_child_*` functions.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alpr.labels import archives as archives_module
from alpr.labels import schema as schema_module
from alpr.labels import store as store_module
from alpr import synth
from alpr.labels.store import DB_NAME, SCHEMA_VERSION, LabelStore, StoreError
from alpr.types import ALL_CLASSES, Box, Candidate, CharCrop, PlateRead, Prediction, Recognition

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parents[1]


# --- fixtures and helpers ----------------------------------------------------------------------


def photo(seed: int, shape: tuple[int, int] = (90, 120)) -> np.ndarray:
    """A small RGB photo whose pixels (and so hash) differ for every seed."""
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def fake_plate(read: str = "ABC123", confs=None, x: int = 40, y: int = 30) -> PlateRead:
    """A plate as `recognize` returns it, whose model read `read` with confidences `confs`."""
    confs = confs or [0.9] * len(read)
    crop_box = Box(x, y, 15 * len(read) + 10, 30)
    chars = tuple(
        CharCrop(Box(5 + 15 * i, 4, 12, 22), 0, np.full((32, 32), (i + 1) / 20, np.float32)) for i in range(len(read))
    )
    preds = tuple(Prediction(ch, c, ((ch, c), ("_", round(1 - c, 6)))) for ch, c in zip(read, confs))
    return PlateRead(
        box=crop_box,
        crop_box=crop_box,
        crop=np.zeros((30, crop_box.w, 3), np.uint8),
        chars=chars,
        predictions=preds,
        candidates=(Candidate(read, 80.0, True),),
        binarization="local/dark",
        processing_time_ms=1.0,
    )


def fake_rec(image: np.ndarray, *plates: PlateRead) -> Recognition:
    tiny = np.zeros((2, 2), np.float32)
    return Recognition(image, tiny, 1.0, tiny.astype(np.int32), (), (), tuple(plates), "us", 10)


def add(store: LabelStore, seed: int, read: str = "ABC123", confs=None, model: str = "m1") -> int:
    image = photo(seed)
    [plate_id] = store.add_recognition(image, fake_rec(image, fake_plate(read, confs)), f"photo{seed}.png", model)
    return plate_id


def dump(data_dir: Path) -> dict[str, list[tuple]]:
    """Every row of every table, read through a separate connection."""
    conn = sqlite3.connect(data_dir / DB_NAME)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}
    finally:
        conn.close()


def query(data_dir: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(data_dir / DB_NAME)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def labels_of(store: LabelStore, plate_id: int) -> list[tuple[str | None, str | None]]:
    return [(c.label, c.source) for c in store.plate_chars(plate_id)]


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir):
    with LabelStore.open(data_dir) as s:
        yield s


# --- opening, migrations, refusals -------------------------------------------------------------


def test_open_creates_the_data_dir_and_database(tmp_path):
    folder = tmp_path / "a" / "b"
    LabelStore.open(folder).close()
    assert (folder / DB_NAME).is_file()


def test_open_defaults_to_alpr_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ALPR_DATA_DIR", str(tmp_path / "from-env"))
    with LabelStore.open() as s:
        assert s.path == tmp_path / "from-env" / DB_NAME


def test_open_defaults_to_data_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("ALPR_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    LabelStore.open().close()
    assert (tmp_path / "data" / DB_NAME).is_file()


def test_new_database_is_current_version_in_wal_mode(store, data_dir):
    assert query(data_dir, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert query(data_dir, "PRAGMA journal_mode") == [("wal",)]


def test_empty_v0_database_is_migrated(data_dir):
    data_dir.mkdir()
    (data_dir / DB_NAME).write_bytes(b"")  # an empty file is an SQLite database at user_version 0
    LabelStore.open(data_dir).close()
    assert query(data_dir, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    tables = {r[0] for r in query(data_dir, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"photos", "plates", "chars", "labels", "actions", "training_runs"} <= tables


def test_only_the_missing_migrations_run(data_dir, monkeypatch):
    LabelStore.open(data_dir).close()  # at the current version
    ran = []
    nxt = SCHEMA_VERSION + 1

    def to_next(conn):
        ran.append(nxt)
        conn.execute("ALTER TABLE plates ADD COLUMN note TEXT")

    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS + (to_next,))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", nxt)
    LabelStore.open(data_dir).close()
    LabelStore.open(data_dir).close()
    assert ran == [nxt]
    assert query(data_dir, "PRAGMA user_version") == [(nxt,)]


def test_database_from_a_newer_alpr_is_refused_and_left_alone(data_dir):
    data_dir.mkdir()
    conn = sqlite3.connect(data_dir / DB_NAME)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(
        StoreError, match=rf"schema version 99 but this alpr knows versions up to {SCHEMA_VERSION}.*upgrade alpr"
    ):
        LabelStore.open(data_dir)
    assert query(data_dir, "PRAGMA user_version") == [(99,)]
    assert query(data_dir, "SELECT COUNT(*) FROM sqlite_master") == [(0,)]
    assert query(data_dir, "PRAGMA journal_mode") == [("delete",)]


def test_file_that_is_not_a_database_is_refused(data_dir):
    data_dir.mkdir()
    (data_dir / DB_NAME).write_bytes(b"these are my notes, not a database\n" * 200)
    with pytest.raises(StoreError, match=r"is not a label database .*move it away"):
        LabelStore.open(data_dir)
    assert (data_dir / DB_NAME).read_bytes() == b"these are my notes, not a database\n" * 200


def test_data_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "data").write_text("x")
    with pytest.raises(StoreError, match=r"is a file, not a folder; set ALPR_DATA_DIR or --data-dir"):
        LabelStore.open(tmp_path / "data")


def _child_open(data_dir: str) -> None:
    try:
        LabelStore.open(data_dir).close()
    except StoreError as exc:
        print(exc)
        sys.exit(3)


def _open_without_permission_override(data_dir: Path) -> str:
    """Open the store in a child process that file permissions apply to, and return its error.

    Root ignores permissions, so a root child first drops CAP_DAC_OVERRIDE with setpriv.
    """
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: chmod cannot make a folder read-only")
        prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]
    child = _spawn("_child_open", data_dir, prefix=prefix)
    out, err = child.communicate(timeout=60)
    if child.returncode != 3 and "setpriv" in err:
        pytest.skip(f"cannot drop root's permission override here: {err.strip()}")
    assert child.returncode == 3, (out, err)
    return out.strip()


def test_read_only_data_dir_is_refused_and_left_unchanged(data_dir):
    with LabelStore.open(data_dir) as s:
        add(s, 1)
    before = {p.name: p.read_bytes() for p in data_dir.iterdir()}
    data_dir.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    try:
        message = _open_without_permission_override(data_dir)
        assert message == (
            f"the data folder {data_dir} is not writable, and the label database needs to write labels.sqlite "
            "and its journal there; fix its permissions or set ALPR_DATA_DIR or --data-dir to a writable folder"
        )
        assert {p.name: p.read_bytes() for p in data_dir.iterdir()} == before
    finally:
        data_dir.chmod(stat.S_IRWXU)


def test_data_dir_under_a_read_only_folder_is_refused(tmp_path):
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    try:
        message = _open_without_permission_override(parent / "data")
        assert message.startswith(f"cannot create the data folder {parent / 'data'} (Permission denied)")
        assert list(parent.iterdir()) == []
    finally:
        parent.chmod(stat.S_IRWXU)


# --- adding recognitions -----------------------------------------------------------------------


def test_add_recognition_stores_photo_plate_chars_and_model_labels(store):
    image = photo(1)
    ids = store.add_recognition(
        image, fake_rec(image, fake_plate("A8C123"), fake_plate("XY12", x=5, y=60)), "car.jpg", "m1"
    )
    assert len(ids) == 2
    [first, second] = [store.plate(i) for i in ids]
    assert (first.name, first.box, first.text_read, first.text_confirmed, first.characters, first.labeled) == (
        "car.jpg",
        Box(40, 30, 100, 30),
        "A8C123",
        None,
        6,
        0,
    )
    chars = store.plate_chars(ids[0])
    assert [c.idx for c in chars] == [0, 1, 2, 3, 4, 5]
    assert [(c.label, c.source, c.pred_char, c.model_version) for c in chars][:2] == [
        ("A", "model", "A", "m1"),
        ("8", "model", "8", "m1"),
    ]
    # Character boxes move from the crop's pixels to the photo's.
    assert chars[1].box == Box(40 + 20, 30 + 4, 12, 22)
    assert chars[1].topk == (("8", 0.9), ("_", 0.1))
    assert second.characters == 4
    assert store.stats()["photos"] == 1


def test_crop_is_stored_to_within_one_grey_level(store):
    plate_id = add(store, 1)
    stored = store.plate_chars(plate_id)[3].image
    assert stored.dtype == np.float32 and stored.shape == (32, 32)
    assert np.abs(stored - 4 / 20).max() <= 0.5 / 255 + 1e-7


def test_same_photo_is_stored_once(store, data_dir):
    image = photo(1)
    store.add_recognition(image, fake_rec(image, fake_plate("ABC123")), "first.jpg", "m1")
    store.add_recognition(image.copy(), fake_rec(image, fake_plate("XYZ789", x=0, y=0)), "second.jpg", "m1")
    assert query(data_dir, "SELECT name FROM photos") == [("first.jpg",)]
    assert store.stats()["plates"] == 2


def test_adding_the_same_recognition_again_adds_nothing(store, data_dir):
    image = photo(1)
    rec = fake_rec(image, fake_plate("ABC123"))
    first = store.add_recognition(image, rec, "a.jpg", "m1")
    before = dump(data_dir)
    assert store.add_recognition(image, rec, "a.jpg", "m1") == first
    assert dump(data_dir) == before


def test_photo_is_downscaled_to_1600_px_on_its_long_side(store, data_dir):
    ramp = np.linspace(0, 255, 2000, dtype=np.float32)
    big = np.repeat(np.repeat(ramp[None, :, None], 1000, axis=0), 3, axis=2).astype(np.uint8)
    [plate_id] = store.add_recognition(big, fake_rec(big, fake_plate()), "big.png", "m1")
    image, scale = store.photo_image(store.plate(plate_id).photo_id)
    assert image.shape == (800, 1600, 3)
    assert scale == 0.8
    assert query(data_dir, "SELECT width, height FROM photos") == [(2000, 1000)]


def test_failure_mid_write_stores_nothing(store, data_dir, monkeypatch):
    calls = []
    real = LabelStore._insert_label

    def fail_on_third(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk unplugged")
        return real(self, *args)

    monkeypatch.setattr(LabelStore, "_insert_label", fail_on_third)
    with pytest.raises(RuntimeError, match="disk unplugged"):
        add(store, 1)
    assert {t: rows for t, rows in dump(data_dir).items() if rows and t != "sqlite_sequence"} == {}
    monkeypatch.undo()
    add(store, 1)  # the store is usable afterwards
    assert store.stats()["plates"] == 1


def test_threads_share_one_store(store):
    plate_id = add(store, 1)
    char_ids = [c.id for c in store.plate_chars(plate_id)]

    def work(n: int) -> None:
        for k in range(50):
            store.set_label(char_ids[k % 6], ALL_CLASSES[(n + k) % 36], author=f"t{n}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.stats()["labeled"] == 6
    assert len(query(store.data_dir, "SELECT id FROM labels WHERE source = 'person'")) == 200


# --- labels, history, undo ---------------------------------------------------------------------


def test_set_label_makes_a_person_label_effective_and_keeps_history(store, data_dir):
    plate_id = add(store, 1, "A8C123")
    char = store.plate_chars(plate_id)[1]
    store.set_label(char.id, "B", author="ana")
    store.set_label(char.id, "b", author="ana")  # lower case is taken as its capital
    assert (store.plate_chars(plate_id)[1].label, store.plate_chars(plate_id)[1].source) == ("B", "person")
    history = query(
        data_dir, "SELECT label, source, superseded_by IS NULL FROM labels WHERE char_id = ? ORDER BY id", (char.id,)
    )
    assert history == [("8", "model", 0), ("B", "person", 0), ("B", "person", 1)]


@pytest.mark.parametrize("bad", ["AB", "?", "", " ", "Ä", "-", 7, None])
def test_set_label_rejects_what_is_not_a_class(store, data_dir, bad):
    plate_id = add(store, 1)
    before = dump(data_dir)
    with pytest.raises(StoreError, match=r"is not a character class; a label is one of 0-9, A-Z, or '_'"):
        store.set_label(store.plate_chars(plate_id)[0].id, bad)
    assert dump(data_dir) == before


def test_set_label_on_a_missing_character_is_refused(store):
    with pytest.raises(StoreError, match=r"no character with id 999 in"):
        store.set_label(999, "A")


def test_undo_restores_the_previous_label(store):
    plate_id = add(store, 1, "A8C123")
    char_id = store.plate_chars(plate_id)[1].id
    store.set_label(char_id, "B")
    store.set_label(char_id, "D")
    undone = store.undo_last()
    assert (undone.kind, undone.plate_id, undone.char_ids, undone.labels) == ("label", plate_id, (char_id,), ("D",))
    assert labels_of(store, plate_id)[1] == ("B", "person")
    store.undo_last()
    assert labels_of(store, plate_id)[1] == ("8", "model")


def test_undo_with_nothing_to_undo_returns_none(store):
    add(store, 1)  # model labels are not undoable
    assert store.undo_last() is None


def test_undo_of_label_plate_restores_every_character_and_the_text(store):
    plate_id = add(store, 1, "A8C123")
    store.label_plate(plate_id, "ABC123")
    undone = store.undo_last()
    assert (undone.kind, undone.labels) == ("plate", tuple("ABC123"))
    assert labels_of(store, plate_id) == [(ch, "model") for ch in "A8C123"]
    assert store.plate(plate_id).text_confirmed is None


def test_undo_by_author_leaves_other_authors_labels(store):
    plate_id = add(store, 1, "A8C123")
    c0, c1 = [c.id for c in store.plate_chars(plate_id)[:2]]
    store.set_label(c0, "K", author="ana")
    store.set_label(c1, "B", author="ben")
    assert store.undo_last(author="ana").char_ids == (c0,)
    assert labels_of(store, plate_id)[:2] == [("A", "model"), ("B", "person")]
    assert store.undo_last(author="ana") is None


def test_undo_skips_labels_already_undone(store):
    plate_id = add(store, 1, "A8C123")
    c1 = store.plate_chars(plate_id)[1].id
    store.set_label(c1, "X", author="ana")
    store.set_label(c1, "Y", author="ben")
    store.undo_last(author="ana")  # ana's X was already replaced: ben's Y stays
    assert labels_of(store, plate_id)[1] == ("Y", "person")
    store.undo_last(author="ben")  # back past ana's undone X to the model's guess
    assert labels_of(store, plate_id)[1] == ("8", "model")
    effective = query(store.data_dir, "SELECT COUNT(*) FROM current_labels WHERE char_id = ?", (c1,))
    assert effective == [(1,)]


def test_label_plate_labels_every_character_when_the_count_matches(store):
    plate_id = add(store, 1, "A8C123")
    result = store.label_plate(plate_id, "abc-123", author="ana")
    assert (result.matched, result.characters, result.text) == (True, 6, "ABC123")
    assert labels_of(store, plate_id) == [(ch, "person") for ch in "ABC123"]
    assert store.plate(plate_id).text_confirmed == "ABC123"


def test_label_plate_underscore_marks_a_segment_that_is_not_a_character(store):
    plate_id = add(store, 1, "AB7123")
    store.label_plate(plate_id, "AB_123")
    assert [c.label for c in store.plate_chars(plate_id)] == list("AB_123")
    assert store.plate(plate_id).text_confirmed == "AB123"


def test_label_plate_count_mismatch_keeps_the_text_but_labels_no_character(store, data_dir):
    plate_id = add(store, 1, "A8C123")
    labels_before = dump(data_dir)["labels"]
    result = store.label_plate(plate_id, "ABC1234")
    assert (result.matched, result.characters) == (False, 6)
    assert "was cut into 6 segments but 'ABC1234' has 7 characters; its text is kept as ABC1234" in result.message
    assert "no character was labeled" in result.message
    # The person's text is the plate's truth (the plate memory learns it); the segments keep the model's guesses.
    assert store.plate(plate_id).text_confirmed == "ABC1234"
    assert dump(data_dir)["labels"] == labels_before
    # Typing the same text again is not a second action, and undo takes the text back.
    store.label_plate(plate_id, "ABC1234")
    assert store.undo_last().plate_id == plate_id
    assert store.plate(plate_id).text_confirmed is None
    assert store.undo_last() is None


def test_label_plate_rejects_text_that_is_not_plate_characters(store, data_dir):
    plate_id = add(store, 1)
    before = dump(data_dir)
    with pytest.raises(StoreError, match=r"plate text 'AB\?123' has '\?', which are not plate characters"):
        store.label_plate(plate_id, "AB?123")
    assert dump(data_dir) == before


# --- review queue, stats, training -------------------------------------------------------------


@pytest.fixture
def reviewed(store):
    """Two plates; the first confirmed (one correction), two characters of the second labeled."""
    p1 = add(store, 1, "A8C123", [0.9, 0.5, 0.3, 0.8, 0.7, 0.95])
    p2 = add(store, 2, "XYZ789", [0.6, 0.4, 0.2, 0.85, 0.1, 0.99])
    store.label_plate(p1, "ABC123")
    c2 = store.plate_chars(p2)
    store.set_label(c2[0].id, "X")
    store.mark_trained("m1")
    store.set_label(c2[1].id, "V")
    return store, p1, p2


def test_stats_counts_are_exact(reviewed):
    store, _, _ = reviewed
    stats = store.stats()
    per_class = {c: n for c, n in stats.pop("per_class").items() if n}
    assert stats.pop("last_training")["model_version"] == "m1"
    assert per_class == {"A": 1, "B": 1, "C": 1, "1": 1, "2": 1, "3": 1, "X": 1, "V": 1}
    assert stats == {
        "photos": 2,
        "plates": 2,
        "confirmed_plates": 1,
        "characters": 12,
        "labeled": 8,
        "corrections": 2,  # B for the model's 8, V for its Y
        "pending_training": 1,  # V came after mark_trained
    }


def test_per_class_lists_every_class(store):
    assert list(store.stats()["per_class"]) == list(ALL_CLASSES)


def test_pending_training_counts_only_labels_after_mark_trained(store):
    plate_id = add(store, 1)
    store.label_plate(plate_id, "ABC123")
    mark = store.last_label_id()
    store.set_label(store.plate_chars(plate_id)[0].id, "K")  # arrives while the model trains
    store.mark_trained("m2", last_label_id=mark)
    assert store.stats()["pending_training"] == 1
    store.undo_last()  # back to the trained "A": nothing new to train on
    assert store.stats()["pending_training"] == 0


def test_review_queue_puts_the_least_confident_guess_first(reviewed):
    store, _, p2 = reviewed
    queue = store.review_queue()
    assert [(c.plate_id, c.pred_char, c.pred_conf) for c in queue] == [
        (p2, "8", 0.1),
        (p2, "Z", 0.2),
        (p2, "7", 0.85),
        (p2, "9", 0.99),
    ]


def test_review_queue_corrected_lists_person_labels_that_differ_from_the_guess(reviewed):
    store, p1, p2 = reviewed
    assert [(c.plate_id, c.pred_char, c.label) for c in store.review_queue(status="corrected")] == [
        (p2, "Y", "V"),
        (p1, "8", "B"),
    ]


def test_review_queue_filters_by_current_class_and_model(reviewed):
    store, p1, p2 = reviewed
    assert [c.idx for c in store.review_queue(status="all", class_filter="8")] == [4]  # p1's 8 is now a B
    assert [c.plate_id for c in store.review_queue(status="all", class_filter="b")] == [p1]
    p3 = add(store, 3, "QQ1", model="m2")
    assert {c.plate_id for c in store.review_queue(status="all", model_version="m2")} == {p3}
    assert len(store.review_queue(status="all", limit=5)) == 5


def test_review_queue_rejects_an_unknown_status(store):
    with pytest.raises(StoreError, match=r"unknown review status 'done'; choose one of unreviewed, corrected, all"):
        store.review_queue(status="done")


def test_training_arrays_hold_person_and_import_labels_only(reviewed):
    store, p1, _ = reviewed
    images, labels = store.training_arrays()
    assert images.shape == (8, 32, 32) and images.dtype == np.float32
    assert labels.dtype == np.int64
    assert "".join(ALL_CLASSES[i] for i in labels) == "ABC123XV"
    assert np.abs(images[1] - store.plate_chars(p1)[1].image).max() == 0


def test_training_set_marks_the_labels_that_correct_the_model(reviewed):
    store, _, _ = reviewed
    images, labels, corrected = store.training_set()
    assert np.array_equal(images, store.training_arrays()[0]) and np.array_equal(labels, store.training_arrays()[1])
    # ABC123 corrects the model's A8C123 at B; X confirms its X; V corrects its Y.
    assert corrected.tolist() == [False, True, False, False, False, False, False, True]


# --- several processes, crashes ----------------------------------------------------------------


def _spawn(function: str, *args, prefix: list[str] = ()) -> subprocess.Popen:
    """Run `test_store.function(*args)` in a new Python process (no fork of this one's threads)."""
    code = f"import sys; sys.path[:0] = {[str(TESTS), str(TESTS.parent), str(REPO)]!r}; import test_store; test_store.{function}(*sys.argv[1:])"
    return subprocess.Popen(
        [*prefix, sys.executable, "-c", code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _child_label_writer(data_dir: str, author: str, char_ids: str, count: str) -> None:
    ids = [int(i) for i in char_ids.split(",")]
    with LabelStore.open(data_dir) as s:
        for k in range(int(count)):
            s.set_label(ids[k % len(ids)], ALL_CLASSES[k % len(ALL_CLASSES)], author=author)


def _child_plate_writer(data_dir: str, hang_at: str) -> None:
    """Write plates (and label them) forever, printing each plate id once both are committed.

    At plate number `hang_at` it stops inside the transaction, after the plate and its characters
    are written but before their labels, and says "inside": the parent kills it there.
    """
    hang_at = int(hang_at)
    with LabelStore.open(data_dir) as s:
        for i in range(10_000):
            if i == hang_at:

                def hang(*args):
                    print("inside", flush=True)
                    import time

                    time.sleep(60)

                LabelStore._insert_label = hang
            image = photo(10_000 + i, (24, 32))
            [plate_id] = s.add_recognition(image, fake_rec(image, fake_plate("ABC1234")), f"p{i}", "m1")
            s.label_plate(plate_id, "ABC1234", author="child")
            print(plate_id, flush=True)


def _read_ids_until(proc: subprocess.Popen, done) -> list[int]:
    ids = []
    for line in proc.stdout:
        if done(line.strip(), ids):
            return ids
        ids.append(int(line))
    proc.wait()
    pytest.fail(f"child stopped early (exit {proc.returncode}): {proc.stderr.read()}")


def _check_whole_plates(data_dir: Path, committed: list[int]) -> list[tuple]:
    assert query(data_dir, "PRAGMA integrity_check") == [("ok",)]
    plates = query(
        data_dir,
        "SELECT p.id, COUNT(c.id), (SELECT COUNT(*) FROM labels l JOIN chars k ON k.id = l.char_id "
        "WHERE k.plate_id = p.id AND l.source = 'model') FROM plates p LEFT JOIN chars c ON c.plate_id = p.id GROUP BY p.id",
    )
    assert all(n_chars == 7 and n_model == 7 for _, n_chars, n_model in plates), plates
    with LabelStore.open(data_dir) as s:
        for plate_id in committed:
            assert "".join(c.label for c in s.plate_chars(plate_id) if c.source == "person") == "ABC1234"
    return plates


def test_two_processes_writing_labels_lose_none(store, data_dir):
    plate_id = add(store, 1, "ABCDEFGHIJ")
    ids = ",".join(str(c.id) for c in store.plate_chars(plate_id))
    children = [_spawn("_child_label_writer", data_dir, f"p{n}", ids, 200) for n in range(2)]
    for child in children:
        _, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
    counts = query(
        data_dir, "SELECT author, COUNT(*) FROM labels WHERE source = 'person' GROUP BY author ORDER BY author"
    )
    assert counts == [("p0", 200), ("p1", 200)]
    # Interleaved writes to the same characters still leave each exactly one effective label: its newest.
    current = query(data_dir, "SELECT char_id, id FROM current_labels ORDER BY char_id")
    newest = query(data_dir, "SELECT char_id, MAX(id) FROM labels GROUP BY char_id ORDER BY char_id")
    assert current == newest and len(current) == 10


def test_kill_9_inside_a_write_leaves_no_partial_plate(data_dir):
    LabelStore.open(data_dir).close()
    child = _spawn("_child_plate_writer", data_dir, 5)
    committed = _read_ids_until(child, lambda line, ids: line == "inside")
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    plates = _check_whole_plates(data_dir, committed)
    assert [p[0] for p in plates] == committed and len(committed) == 5


def test_kill_9_during_a_stream_of_writes_keeps_every_committed_label(data_dir):
    LabelStore.open(data_dir).close()
    child = _spawn("_child_plate_writer", data_dir, 10**9)
    committed = _read_ids_until(child, lambda line, ids: len(ids) >= 25)
    child.send_signal(signal.SIGKILL)  # wherever it is: between, or in the middle of, transactions
    child.wait(timeout=10)
    plates = _check_whole_plates(data_dir, committed)
    assert set(committed) <= {p[0] for p in plates}


# --- export and import -------------------------------------------------------------------------


def test_export_writes_a_folder_per_class_and_labels_csv(reviewed, tmp_path):
    store, p1, p2 = reviewed
    result = store.export_dataset(tmp_path / "out")
    assert result.characters == 8
    rows = list(csv.reader((tmp_path / "out" / "labels.csv").open()))
    chars = {c.id: c for c in store.plate_chars(p1) + store.plate_chars(p2)}
    assert rows[0] == ["path", "label", "source", "plate_id"]
    assert [(r[1], r[2], int(r[3])) for r in rows[1:]] == [(ch, "person", p1) for ch in "ABC123"] + [
        ("X", "person", p2),
        ("V", "person", p2),
    ]
    for path, label, _, _ in rows[1:]:
        folder, file = path.split("/")
        assert folder == label
        crop = np.asarray(Image.open(tmp_path / "out" / path), np.float32) / 255
        assert np.array_equal(crop, chars[int(file[:-4])].image)


def test_export_refuses_a_folder_holding_other_files(store, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "thesis.tex").write_text("x")
    with pytest.raises(StoreError, match=r"is not empty and is not an earlier export; give a new or empty folder"):
        store.export_dataset(tmp_path / "out")


def test_export_then_import_into_a_fresh_store_keeps_per_class_counts(reviewed, tmp_path):
    store, _, _ = reviewed
    store.export_dataset(tmp_path / "out")
    with LabelStore.open(tmp_path / "fresh") as fresh:
        result = fresh.import_path(tmp_path / "out")
        assert (result.plates, result.characters, result.failed) == (2, 8, [])
        assert fresh.stats()["per_class"] == store.stats()["per_class"]
        assert np.array_equal(fresh.training_arrays()[0], store.training_arrays()[0])
        assert {c.source for c in fresh.review_queue(status="all")} == {"import"}


def test_importing_an_export_twice_adds_nothing(reviewed, tmp_path):
    store, _, _ = reviewed
    store.export_dataset(tmp_path / "out")
    with LabelStore.open(tmp_path / "fresh") as fresh:
        fresh.import_path(tmp_path / "out")
        again = fresh.import_path(tmp_path / "out")
        assert (again.plates, again.skipped) == (0, 2)
        assert fresh.stats()["labeled"] == 8


def test_export_zip_round_trips_and_names_only_relative_paths(reviewed, tmp_path):
    store, _, _ = reviewed
    buffer = io.BytesIO()
    assert store.export_zip(buffer).characters == 8
    names = zipfile.ZipFile(io.BytesIO(buffer.getvalue())).namelist()
    assert "labels.csv" in names and len(names) == 9
    assert all(not n.startswith("/") and ".." not in n.split("/") for n in names)
    store.export_zip(tmp_path / "labels.zip")
    with LabelStore.open(tmp_path / "fresh") as fresh:
        fresh.import_path(tmp_path / "labels.zip")
        assert fresh.stats()["per_class"] == store.stats()["per_class"]


def _zip_with(path: Path, name: str, data: bytes = b"x", mode: int | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("labels.csv", "path,label,source,plate_id\n")
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        zf.writestr(info, data)
    return path


@pytest.mark.parametrize(
    "name, problem",
    [
        ("../{evil}", "climbs out of the folder with '..'"),
        ("A/../../{evil}", "climbs out of the folder with '..'"),
        ("..\\{evil}", "climbs out of the folder with '..'"),
        ("/tmp/{evil}", "is an absolute path"),
        ("C:/{evil}", "is an absolute path"),
    ],
)
def test_zip_member_outside_the_folder_is_refused(store, data_dir, tmp_path, name, problem):
    evil = f"evil-{uuid.uuid4().hex}.png"
    archive = _zip_with(tmp_path / "bad.zip", name.format(evil=evil))
    before = dump(data_dir)
    with pytest.raises(StoreError, match=rf"bad.zip was refused: member .* {problem}"):
        store.import_path(archive)
    assert dump(data_dir) == before
    assert not (Path("/tmp") / evil).exists()


def test_zip_with_a_symlink_is_refused(store, tmp_path):
    archive = _zip_with(tmp_path / "link.zip", "A/1.png", b"/etc/passwd", stat.S_IFLNK | 0o777)
    with pytest.raises(StoreError, match=r"member 'A/1.png' is a symbolic link"):
        store.import_path(archive)


def test_zip_larger_than_the_limit_is_refused_before_extraction(store, tmp_path, monkeypatch):
    monkeypatch.setattr(archives_module, "ZIP_MAX_BYTES", 1000)
    archive = _zip_with(tmp_path / "big.zip", "A/1.png", b"\0" * 5000)
    with pytest.raises(StoreError, match=r"would unpack to 0 MB, more than the limit of 0 MB"):
        store.import_path(archive)


def test_file_named_by_an_archive_must_be_inside_it(store, tmp_path):
    outside = tmp_path / "secret.png"
    Image.fromarray(synth.render_plate("ABC123", np.random.default_rng(1))[0]).save(outside)
    with zipfile.ZipFile(tmp_path / "sneaky.zip", "w") as zf:
        zf.writestr("plates.csv", "image_path,plate_text\n../secret.png,ABC123\n")
    result = store.import_path(tmp_path / "sneaky.zip")
    assert result.plates == 0
    assert len(result.failed) == 1 and result.failed[0].endswith(
        "/secret.png is outside the archive; archives may only name files inside them"
    )


def test_import_of_something_unknown_says_what_is_accepted(store, tmp_path):
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    with pytest.raises(StoreError, match=r"has columns \['a', 'b'\]; expected path,label"):
        store.import_path(tmp_path / "notes.csv")
    with pytest.raises(StoreError, match=r"nothing to import at .*missing: no such file or folder"):
        store.import_path(tmp_path / "missing")


@pytest.fixture
def benchmark(tmp_path) -> Path:
    """OpenALPR layout: us/ with two photos and their .txt boxes, crops/ with labels.csv and two
    plate crops, the second labeled with more characters than it shows."""
    root = tmp_path / "bench"
    (root / "us").mkdir(parents=True)
    for name, text, seed in [("car_a", "ABC1234", 2), ("car_b", "7ABC123", 3)]:
        image, b = synth.render_scene(text, np.random.default_rng(seed), "us")
        Image.fromarray(image).save(root / "us" / f"{name}.png")
        (root / "us" / f"{name}.txt").write_text(f"{name}.png\t{b.x}\t{b.y}\t{b.w}\t{b.h}\t{text}\n")
    (root / "crops").mkdir()
    for file, text, seed in [("crop_a.png", "ABC123", 1), ("crop_b.png", "KLM902", 7)]:
        Image.fromarray(synth.render_plate(text, np.random.default_rng(seed), "us", height=60)[0]).save(
            root / "crops" / file
        )
    (root / "crops" / "labels.csv").write_text("file,plate,state\ncrop_a.png,abc-123,ca\ncrop_b.png,KLM90255,ca\n")
    return root


def test_import_openalpr_benchmark_labels_plates_whose_count_fits(store, benchmark):
    progress = []
    result = store.import_path(benchmark, progress=lambda done, total: progress.append((done, total)))
    assert (result.plates, result.failed) == (4, [])
    assert progress[-1] == (4, 4)
    plates = {p.name: p for p in store.recent_plates(10)}
    assert sorted(plates) == ["crops/crop_a.png", "crops/crop_b.png", "us/car_a.png", "us/car_b.png"]
    assert {n: p.text_confirmed for n, p in plates.items()} == {
        "crops/crop_a.png": "ABC123",
        "crops/crop_b.png": "KLM90255",
        "us/car_a.png": "ABC1234",
        "us/car_b.png": "7ABC123",
    }
    # The mislabeled crop keeps its text, and its characters wait unlabeled.
    assert (plates["crops/crop_b.png"].labeled, result.unmatched >= 1) == (0, True)
    labeled = [p for p in plates.values() if p.labeled]
    assert all(p.labeled == p.characters == len(p.text_confirmed) for p in labeled)
    assert result.matched == len(labeled) and result.characters == store.stats()["labeled"]
    assert plates["us/car_a.png"].box == Box(*map(int, (benchmark / "us" / "car_a.txt").read_text().split("\t")[1:5]))
    assert {c.source for p in labeled for c in store.plate_chars(p.id)} == {"import"}


def test_importing_the_same_benchmark_twice_adds_nothing(store, benchmark, data_dir):
    store.import_path(benchmark)
    before = dump(data_dir)
    again = store.import_path(benchmark)
    assert (again.plates, again.skipped) == (0, 4)
    assert {t: len(r) for t, r in dump(data_dir).items()} == {t: len(r) for t, r in before.items()}


def test_import_image_path_plate_text_csv(store, tmp_path):
    folder = tmp_path / "ocr"
    folder.mkdir()
    Image.fromarray(synth.render_plate("ABC123", np.random.default_rng(1), "us", height=60)[0]).save(folder / "p1.png")
    (folder / "plates.csv").write_text("image_path,plate_text\np1.png,ABC 123\nmissing.png,XYZ789\n")
    result = store.import_path(folder / "plates.csv")
    assert (result.plates, result.matched, result.characters) == (1, 1, 6)
    assert result.failed == ["no such file: missing.png; check the path."]
    assert store.import_path(folder).skipped == 1  # the folder finds the same CSV


# --- with the shipped model --------------------------------------------------------------------


def test_add_recognition_of_a_real_read_stores_what_recognize_returned(store, classifier):
    from alpr.pipeline import recognize

    image, _ = synth.render_scene("ABC1234", np.random.default_rng(2), "us")
    rec = recognize(image, classifier=classifier)
    ids = store.add_recognition(image, rec, "scene.png", classifier.info.version)
    assert len(ids) == len(rec.plates)
    for plate_id, read in zip(ids, rec.plates):
        chars = store.plate_chars(plate_id)
        assert [c.pred_char for c in chars] == [p.char for p in read.predictions]
        assert [c.box for c in chars] == [c.box.shifted(read.crop_box.x, read.crop_box.y) for c in read.chars]
        assert {c.model_version for c in chars} == {classifier.info.version}


def test_add_labeled_plate_with_a_model_stores_its_guesses_under_the_labels(store, classifier):
    crop = synth.render_plate("ABC123", np.random.default_rng(1), "us", height=60)[0]
    result = store.add_labeled_plate(crop, "ABC123", plate_crop=True, classifier=classifier, name="crop.png")
    assert (result.matched, result.characters, result.created) == (True, 6, True)
    chars = store.plate_chars(result.plate_id)
    assert [(c.label, c.source) for c in chars] == [(ch, "person") for ch in "ABC123"]
    assert all(c.pred_char in ALL_CLASSES and c.model_version == classifier.info.version for c in chars)
    assert store.undo_last().kind == "plate"
    assert [c.source for c in store.plate_chars(result.plate_id)] == ["model"] * 6


def test_add_labeled_plate_at_a_box_without_a_model(store):
    plate, _ = synth.render_plate("ABC123", np.random.default_rng(1), "us", height=60)
    image = np.full((240, 320, 3), 90, np.uint8)
    image[100:160, 80 : 80 + plate.shape[1]] = plate
    box = Box(80, 100, plate.shape[1], 60)
    result = store.add_labeled_plate(image, "ABC123", box=box, name="car.png")
    stored = store.plate(result.plate_id)
    assert (stored.box, stored.text_confirmed, stored.text_read, stored.name) == (box, "ABC123", "", "car.png")
    chars = store.plate_chars(stored.id)
    assert result.characters == len(chars) > 0
    # Labeled only when the segmentation fits the text (it depends on the segmenter, not on the store).
    expected = [(ch, "person") for ch in "ABC123"] if result.matched else [(None, None)] * len(chars)
    assert [(c.label, c.source) for c in chars] == expected
    assert {c.pred_char for c in chars} == {None}
    margin = box.h // 4
    assert all(box.x - margin <= c.box.x and c.box.x2 <= box.x2 + margin for c in chars)


# --- fixing the segmentation: merge and split ---------------------------------------------------
#
# Plates are drawn with alpr.synth and their characters cut at the renderer's true boxes, so these
# tests know every box without depending on the segmenter. The photo is wider than PHOTO_MAX_SIDE,
# so the store keeps it at half size and every re-cut goes through the photo's scale.


def glyph_plate(store: LabelStore, text: str = "ABC1234", invert: bool = False, seed: int = 5) -> int:
    from alpr.detect import to_grey
    from alpr.segment import normalize_crop

    plate, boxes = synth.render_plate(text, np.random.default_rng(seed), "us", height=120)
    if invert:  # light glyphs on a dark plate: the segmentation's crops are inverted
        plate = 255 - plate
    image = np.full((900, 3200, 3), 90, np.uint8)
    x, y = 400, 300
    image[y : y + plate.shape[0], x : x + plate.shape[1]] = plate
    grey = to_grey(plate)
    if invert:
        grey = 1.0 - grey
    crop_box = Box(x, y, plate.shape[1], plate.shape[0])
    chars = tuple(CharCrop(b, 0, normalize_crop(grey, b, 32)) for b in boxes)
    preds = tuple(Prediction(ch, 0.9, ((ch, 0.9),)) for ch in text)
    read = PlateRead(
        box=crop_box,
        crop_box=crop_box,
        crop=plate,
        chars=chars,
        predictions=preds,
        candidates=(Candidate(text, 90.0, True),),
        binarization="local/dark",
        processing_time_ms=1.0,
    )
    [plate_id] = store.add_recognition(image, fake_rec(image, read), f"glyphs{seed}.png", "m1")
    return plate_id


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def snapshot(store: LabelStore, plate_id: int) -> list[tuple]:
    return [
        (c.id, c.idx, c.line, c.box, c.label, c.source, c.pred_char, c.image.tobytes())
        for c in store.plate_chars(plate_id)
    ]


def test_merge_joins_two_boxes_into_one_crop_cut_again_from_the_photo(store):
    plate_id = glyph_plate(store)
    old = store.plate_chars(plate_id)
    _, scale = store.photo_image(store.plate(plate_id).photo_id)
    assert scale == 0.5
    new_id = store.merge_chars(plate_id, 1)
    chars = store.plate_chars(plate_id)
    assert [c.id for c in chars] == [old[0].id, new_id] + [c.id for c in old[3:]]
    assert [c.idx for c in chars] == list(range(6))
    b, c = old[1].box, old[2].box
    assert chars[1].box == Box(
        min(b.x, c.x), min(b.y, c.y), max(b.x2, c.x2) - min(b.x, c.x), max(b.y2, c.y2) - min(b.y, c.y)
    )
    merged = chars[1]
    assert merged.image.shape == (32, 32) and merged.image.dtype == np.float32
    assert merged.image.std() > 0.2  # glyphs, not a blank
    assert (merged.label, merged.source, merged.pred_char, merged.pred_conf, merged.topk, merged.model_version) == (
        None,
        None,
        None,
        None,
        (),
        None,
    )
    assert store.plate(plate_id).characters == 6


@pytest.mark.parametrize("invert", [False, True], ids=["dark-glyphs", "light-glyphs"])
def test_split_of_a_merge_cuts_crops_like_the_segmentation(store, invert):
    plate_id = glyph_plate(store, "AB1234", invert=invert)
    old = store.plate_chars(plate_id)
    store.merge_chars(plate_id, 2)  # the "1" and the "2"
    halves = store.split_char(plate_id, 2)
    chars = store.plate_chars(plate_id)
    assert [c.id for c in chars] == [old[0].id, old[1].id, *halves, *(c.id for c in old[4:])]
    # Equal halves of the union are not the glyphs' own boxes, but close: the re-cut is the same
    # kind of crop (scale, polarity, padding) as the stored one.
    assert corr(chars[2].image, old[2].image) > 0.6 and corr(chars[3].image, old[3].image) > 0.6


def test_split_cuts_a_box_into_equal_parts_and_renumbers(store):
    plate_id = glyph_plate(store)
    old = store.plate_chars(plate_id)
    i = next(i for i, c in enumerate(old) if c.box.w % 2 == 0)
    box = old[i].box
    parts = store.split_char(plate_id, i)
    chars = store.plate_chars(plate_id)
    assert [c.id for c in chars] == [c.id for c in old[:i]] + parts + [c.id for c in old[i + 1 :]]
    assert [c.idx for c in chars] == list(range(len(old) + 1))
    assert [chars[i].box, chars[i + 1].box] == [
        Box(box.x, box.y, box.w // 2, box.h),
        Box(box.x + box.w // 2, box.y, box.w // 2, box.h),
    ]
    assert all(chars[k].image.shape == (32, 32) and chars[k].label is None for k in (i, i + 1))
    three = store.split_char(plate_id, 0, parts=3)
    boxes = [c.box for c in store.plate_chars(plate_id)[:3]]
    assert (
        len(three) == 3
        and sum(b.w for b in boxes) == old[0].box.w
        and max(b.w for b in boxes) - min(b.w for b in boxes) <= 1
    )
    assert [b.x for b in boxes] == [old[0].box.x, boxes[0].x2, boxes[1].x2]


def test_merged_away_rows_leave_counts_queue_training_and_exports(store, tmp_path):
    plate_id = glyph_plate(store)
    store.label_plate(plate_id, "ABC1234")
    old = store.plate_chars(plate_id)
    store.merge_chars(plate_id, 1)  # B and C: their labels stop being training data
    stats = store.stats()
    assert (stats["characters"], stats["labeled"], stats["pending_training"]) == (6, 5, 5)
    assert stats["per_class"]["B"] == stats["per_class"]["C"] == 0 and stats["per_class"]["A"] == 1
    assert sum(store.pending_per_class().values()) == 5
    assert len(store.training_arrays()[0]) == 5
    live = {c.id for c in store.plate_chars(plate_id)}
    assert {c.id for c in store.review_queue(status="all")} == live
    assert {old[1].id, old[2].id}.isdisjoint(live)
    assert (store.plate(plate_id).characters, store.plate(plate_id).labeled) == (6, 5)
    assert store.export_dataset(tmp_path / "out").characters == 5
    # Nothing is deleted: the retired rows and their labels are still in the file.
    assert query(store.data_dir, "SELECT COUNT(*) FROM chars") == [(8,)]
    assert query(
        store.data_dir,
        "SELECT COUNT(*) FROM labels WHERE char_id IN (?, ?) AND source = 'person'",
        (old[1].id, old[2].id),
    ) == [(2,)]
    # Now the counts match and the typed plate labels every character.
    result = store.label_plate(plate_id, "AK1234")
    assert result.matched and [c.label for c in store.plate_chars(plate_id)] == list("AK1234")
    assert store.stats()["labeled"] == 6


def test_undo_of_a_merge_brings_back_the_old_rows_exactly(store, data_dir):
    plate_id = glyph_plate(store)
    store.label_plate(plate_id, "ABC1234", author="ana")
    before, stats, rows = snapshot(store, plate_id), store.stats(), dump(data_dir)["chars"]
    new_id = store.merge_chars(plate_id, 3, author="ana")
    store.set_label(new_id, "Q", author="ana")
    assert store.undo_last(author="ana").kind == "label"
    undone = store.undo_last(author="ana")
    assert (undone.kind, undone.plate_id, undone.labels) == ("merge", plate_id, ())
    assert list(undone.char_ids) == [c[0] for c in before]
    assert snapshot(store, plate_id) == before
    assert store.stats() == stats
    after = {r[0]: r for r in dump(data_dir)["chars"]}
    assert [after[r[0]] for r in rows] == rows  # every old row as it was, column by column
    merged = query(data_dir, "SELECT added_by_action, retired_by_action FROM chars WHERE id = ?", (new_id,))
    assert merged[0][0] == merged[0][1] == undone.action_id  # cut by the merge, retired by its undo
    assert store.undo_last(author="ana").kind == "plate"
    assert store.undo_last(author="ana") is None


def test_undo_of_a_split_and_of_merges_in_a_row(store):
    plate_id = glyph_plate(store)
    before = snapshot(store, plate_id)
    store.split_char(plate_id, 6, parts=3)
    store.merge_chars(plate_id, 0)
    store.merge_chars(plate_id, 0)
    assert len(store.plate_chars(plate_id)) == 7
    assert [store.undo_last().kind for _ in range(3)] == ["merge", "merge", "split"]
    assert snapshot(store, plate_id) == before


def test_undo_of_a_merge_waits_for_a_later_one_by_someone_else(store):
    plate_id = glyph_plate(store)
    store.merge_chars(plate_id, 0, author="ana")
    store.split_char(plate_id, 0, author="ben")
    with pytest.raises(
        StoreError,
        match=r"cannot undo the merge on plate \d+: its boxes were split again since by ben; undo that first",
    ):
        store.undo_last(author="ana")
    assert len(store.plate_chars(plate_id)) == 7  # nothing changed
    assert store.undo_last(author="ben").kind == "split"
    assert store.undo_last(author="ana").kind == "merge"
    assert len(store.plate_chars(plate_id)) == 7


def test_merge_and_split_refuse_what_they_cannot_do_and_change_nothing(store, data_dir):
    plate_id = glyph_plate(store)
    last = len(store.plate_chars(plate_id)) - 1
    before = dump(data_dir)
    with pytest.raises(StoreError, match=r"cannot merge characters 6 and 7 of plate \d+: it has 7 characters"):
        store.merge_chars(plate_id, last)
    with pytest.raises(StoreError, match=r"cannot merge characters -1 and 0"):
        store.merge_chars(plate_id, -1)
    with pytest.raises(StoreError, match=r"cannot split character 7 of plate \d+: it has 7"):
        store.split_char(plate_id, 7)
    for parts in (1, 9):
        with pytest.raises(StoreError, match=r"split into 2 to 8 parts"):
            store.split_char(plate_id, 0, parts=parts)
    with pytest.raises(StoreError, match=r"no plate with id 999"):
        store.merge_chars(999, 0)
    assert dump(data_dir) == before


def test_export_with_nothing_labeled_writes_an_empty_labels_csv(store, tmp_path):
    glyph_plate(store)
    assert store.export_dataset(tmp_path / "out").characters == 0
    assert (tmp_path / "out" / "labels.csv").read_text() == "path,label,source,plate_id\n"


def test_set_label_on_a_merged_away_character_is_refused(store):
    plate_id = glyph_plate(store)
    old = store.plate_chars(plate_id)
    store.merge_chars(plate_id, 0)
    with pytest.raises(StoreError, match=r"was replaced when the plate's boxes were merged or split"):
        store.set_label(old[0].id, "A")


def test_plates_imported_without_a_photo_cannot_be_merged_or_split(reviewed, tmp_path):
    store, _, _ = reviewed
    store.export_dataset(tmp_path / "out")
    with LabelStore.open(tmp_path / "fresh") as fresh:
        fresh.import_path(tmp_path / "out")
        plate = fresh.recent_plates()[0]
        assert plate.photo_id is None and plate.characters >= 2
        before = dump(tmp_path / "fresh")
        with pytest.raises(
            StoreError, match=r"imported as character crops without its photo.*label its crops one by one"
        ):
            fresh.merge_chars(plate.id, 0)
        with pytest.raises(StoreError, match=r"imported as character crops without its photo"):
            fresh.split_char(plate.id, 0)
        assert dump(tmp_path / "fresh") == before


# --- schema version 1 databases -------------------------------------------------------------------


_V2_COLUMNS = {"chars": ("added_by_action", "retired_by_action"), "actions": ("detail",), "plates": ("not_a_plate_at",)}


def _make_v1_copy(source: Path, target: Path) -> dict[str, list[tuple]]:
    """A database at schema version 1 (built by the v1 migration) holding the rows of `source`."""
    target.mkdir(parents=True)
    src = sqlite3.connect(source / DB_NAME)
    dst = sqlite3.connect(target / DB_NAME)
    rows = {}
    try:
        store_module.MIGRATIONS[0](dst)
        for table in ("photos", "plates", "actions", "chars", "labels", "training_runs"):
            columns = [r[1] for r in dst.execute(f"PRAGMA table_info({table})")]
            rows[table] = src.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid").fetchall()
            dst.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows[table]
            )
        dst.execute("PRAGMA user_version = 1")
        dst.commit()
    finally:
        src.close()
        dst.close()
    return rows


def test_a_version_1_database_migrates_to_version_2_keeping_every_row(store, tmp_path):
    p1 = glyph_plate(store)
    p2 = add(store, 2, "XYZ789")
    store.label_plate(p1, "ABC1234", author="ana")
    store.set_label(store.plate_chars(p2)[0].id, "K")
    store.mark_trained("m1")
    store.undo_last()  # an undone label, and a superseded one
    expected = {p: snapshot(store, p) for p in (p1, p2)}
    stats = store.stats()
    old = tmp_path / "v1"
    rows = _make_v1_copy(store.data_dir, old)
    assert query(old, "PRAGMA user_version") == [(1,)]
    assert "retired_by_action" not in str(query(old, "SELECT sql FROM sqlite_master WHERE name = 'chars'"))

    with LabelStore.open(old) as migrated:
        assert query(old, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
        for table, before in rows.items():
            columns = [r[1] for r in query(old, f"PRAGMA table_info({table})")]
            kept = [c for c in columns if c not in _V2_COLUMNS.get(table, ())]
            assert query(old, f"SELECT {', '.join(kept)} FROM {table} ORDER BY rowid") == before, table
        assert query(
            old, "SELECT COUNT(*) FROM chars WHERE added_by_action IS NOT NULL OR retired_by_action IS NOT NULL"
        ) == [(0,)]
        assert {p: snapshot(migrated, p) for p in (p1, p2)} == expected
        assert migrated.stats() == stats
        assert query(old, "PRAGMA foreign_key_check") == [] and query(old, "PRAGMA integrity_check") == [("ok",)]
        # The migrated file does what version 2 does, and action ids keep counting up.
        last_action = max(r[0] for r in rows["actions"])
        migrated.merge_chars(p1, 0)
        assert query(old, "SELECT MAX(id) FROM actions") == [(last_action + 1,)]
        assert migrated.undo_last().kind == "merge"
        assert snapshot(migrated, p1) == expected[p1]


def test_a_failed_migration_leaves_the_version_1_database_as_it_was(store, tmp_path, monkeypatch):
    glyph_plate(store)
    old = tmp_path / "v1"
    _make_v1_copy(store.data_dir, old)
    before = dump(old)

    def broken(conn):
        schema_module.migrate_to_2(conn)
        raise StoreError("disk trouble halfway")

    monkeypatch.setattr(store_module, "MIGRATIONS", (store_module.MIGRATIONS[0], broken))
    with pytest.raises(StoreError, match="disk trouble halfway"):
        LabelStore.open(old)
    assert dump(old) == before and query(old, "PRAGMA user_version") == [(1,)]


def test_a_database_of_a_newer_version_is_refused_and_left_alone(store, data_dir):
    glyph_plate(store)
    store.close()
    newer = SCHEMA_VERSION + 1
    conn = sqlite3.connect(data_dir / DB_NAME)
    conn.execute(f"PRAGMA user_version = {newer}")
    conn.close()
    before = dump(data_dir)
    with pytest.raises(
        StoreError, match=rf"schema version {newer} but this alpr knows versions up to {SCHEMA_VERSION}.*upgrade alpr"
    ):
        LabelStore.open(data_dir)
    assert dump(data_dir) == before and query(data_dir, "PRAGMA user_version") == [(newer,)]


# --- plates that are not plates ----------------------------------------------------------------


def test_a_plate_marked_not_a_plate_leaves_the_review_queue_and_is_kept_as_a_negative(store):
    keep, drop = add(store, 1, "ABC123"), add(store, 2, "QIKW1H")
    store.mark_not_a_plate(drop)
    assert {c.plate_id for c in store.review_queue(limit=50)} == {keep}
    assert {c.plate_id for c in store.review_queue(limit=50, include_not_plates=True)} == {keep, drop}
    assert store.plate(drop).not_a_plate and not store.plate(keep).not_a_plate
    assert [photo for photo, _ in store.not_a_plate_boxes()] == [store.plate(drop).photo_id]
    store.mark_not_a_plate(drop, False)  # a plate after all
    assert {c.plate_id for c in store.review_queue(limit=50)} == {keep, drop} and not store.not_a_plate_boxes()


def test_marking_a_missing_plate_is_refused(store):
    with pytest.raises(StoreError, match="no plate with id 999"):
        store.mark_not_a_plate(999)


def test_undo_with_an_action_id_takes_back_only_that_action_while_it_is_the_latest(store):
    plate_id = add(store, 1)
    first, second = (c.id for c in store.plate_chars(plate_id)[:2])
    store.set_label(first, "K", author="ana")
    shown = query(store.data_dir, "SELECT MAX(id) FROM actions")[0][0]
    store.set_label(second, "W", author="ben")  # saved after the page showed "Undo: K"
    with pytest.raises(StoreError, match="no longer the one shown"):
        store.undo_last(action_id=shown)
    assert [c.label for c in store.plate_chars(plate_id)[:2]] == ["K", "W"]
    assert store.undo_last(action_id=shown + 1).labels == ("W",)


def test_a_segment_added_before_the_first_finds_a_character_the_cut_missed_and_undo_removes_it(store):
    from alpr.detect import to_grey
    from alpr.segment import normalize_crop

    plate, boxes = synth.render_plate("ABC1234", np.random.default_rng(5), "us", height=120)
    image = np.full((900, 1600, 3), 90, np.uint8)
    x, y = 400, 300
    image[y : y + plate.shape[0], x : x + plate.shape[1]] = plate
    grey = to_grey(plate)
    missed = boxes[1:]  # the segmenter lost the A
    read = PlateRead(
        box=Box(x, y, plate.shape[1], plate.shape[0]),
        crop_box=Box(x, y, plate.shape[1], plate.shape[0]),
        crop=plate,
        chars=tuple(CharCrop(b, 0, normalize_crop(grey, b, 32)) for b in missed),
        predictions=tuple(Prediction(ch, 0.9, ((ch, 0.9),)) for ch in "BC1234"),
        candidates=(Candidate("BC1234", 90.0, False),),
        binarization="local/dark",
        processing_time_ms=1.0,
    )
    [plate_id] = store.add_recognition(image, fake_rec(image, read), "missed.png", "m1")
    before = [c.id for c in store.plate_chars(plate_id)]

    new_id = store.add_segment(plate_id, at_start=True)
    chars = store.plate_chars(plate_id)
    assert [c.id for c in chars] == [new_id, *before] and chars[0].label is None
    assert chars[0].box.iou(boxes[0].shifted(x, y)) > 0.5  # where the A is
    assert store.label_plate(plate_id, "ABC1234").matched

    store.undo_last()  # the plate's labels
    assert store.undo_last().kind == "split"  # the added segment
    assert [c.id for c in store.plate_chars(plate_id)] == before
