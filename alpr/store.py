"""The label store: photos, plates, character crops and every label ever given, in one SQLite file.

Users fix what the model got wrong and those fixes become training data. Nothing labeled is ever lost:

* every write is one transaction, so a crash (even ``kill -9``) leaves either all of a plate (its
  photo, the plate, its characters and their labels) or none of it;
* labels are never updated away or deleted: a new label supersedes the previous one and undo marks
  a label undone, so the history of every character stays in the file;
* character rows are never deleted either: fixing a plate's segmentation (merging two boxes,
  splitting one) retires the rows it replaces and adds new ones, and undo swaps them back;
* SQLite's write-ahead log with ``synchronous=FULL`` makes a commit durable before the call returns,
  and ``busy_timeout`` lets several processes (the app, ``alpr labels import``, ``alpr train``)
  share one file.

A character's *effective* label is its latest label that is neither superseded nor undone. Labels
come from three sources: ``model`` (the classifier's guess, stored with every recognition),
``person`` (typed or confirmed by someone) and ``import`` (from a labeled dataset). Only person and
import labels are training data.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import threading
import zipfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Sequence

import numpy as np
from PIL import Image

from alpr.errors import AlprError
from alpr.types import ALL_CLASSES, REJECT, Box, CharCrop, Prediction, Recognition

DB_NAME = "labels.sqlite"
DATA_DIR_ENV = "ALPR_DATA_DIR"
DEFAULT_DATA_DIR = "data"
# Photos are kept to show plates in context, not to re-detect at full resolution: 1600 px keeps a
# 60 px wide plate legible while a 12 Mpx phone photo shrinks from ~5 MB to ~1.5 MB of PNG.
PHOTO_MAX_SIDE = 1600
# A long import or a training run holds the write lock for one plate at a time (milliseconds);
# 10 s only runs out when another process is stuck.
BUSY_TIMEOUT_S = 10.0
# A box the segmentation ran several glyphs into is split into at most this many.
MAX_SPLIT_PARTS = 8
# Imported archives are unpacked to a temporary folder; these bound what an archive may claim.
ZIP_MAX_BYTES = 500 * 1024 * 1024
ZIP_MAX_MEMBERS = 200_000

SOURCES = ("model", "person", "import")
TRAINING_SOURCES = ("person", "import")
REVIEW_STATUSES = ("unreviewed", "corrected", "all")
# The action that labels of a source make: (one character, a whole plate). Only person actions undo.
_ACTION_KIND = {"person": ("label", "plate"), "import": ("import", "import"), "model": ("recognition", "recognition")}

__all__ = [
    "LabelStore",
    "StoreError",
    "StoredChar",
    "StoredPlate",
    "PlateLabelResult",
    "Undone",
    "ImportResult",
    "ExportResult",
    "SCHEMA_VERSION",
]


class StoreError(AlprError):
    """The label store cannot do what was asked: unusable folder or file, bad label, bad import."""


# --- schema ------------------------------------------------------------------------------------

_SCHEMA_1 = (
    """CREATE TABLE photos (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,      -- of the decoded pixels: the same photo re-uploaded is one row
        width INTEGER NOT NULL,           -- of the photo as given; boxes are in these pixels
        height INTEGER NOT NULL,
        name TEXT NOT NULL,
        png BLOB NOT NULL,                -- downscaled to PHOTO_MAX_SIDE on its long side
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE plates (
        id INTEGER PRIMARY KEY,
        photo_id INTEGER REFERENCES photos(id),   -- NULL for plates imported as character crops only
        x INTEGER, y INTEGER, w INTEGER, h INTEGER,  -- NULL when no plate was found or there is no photo
        text_read TEXT NOT NULL DEFAULT '',
        text_confirmed TEXT,
        country TEXT,
        import_key TEXT UNIQUE,           -- content hash of character-crop imports, so re-imports add nothing
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX plates_photo ON plates(photo_id)",
    """CREATE TABLE chars (
        id INTEGER PRIMARY KEY,
        plate_id INTEGER NOT NULL REFERENCES plates(id),
        idx INTEGER NOT NULL,             -- reading order within the plate
        line INTEGER NOT NULL,
        x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL,  -- photo pixels
        crop BLOB NOT NULL,               -- the classifier's input as 8-bit grey PNG
        pred_char TEXT,
        pred_conf REAL,
        topk TEXT,                        -- JSON [[class, probability], ...]
        model_version TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (plate_id, idx)
    )""",
    "CREATE INDEX chars_conf ON chars(pred_conf)",
    # Every write that adds labels is one action, so undo takes back a whole plate typed at once.
    """CREATE TABLE actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('recognition', 'label', 'plate', 'import')),
        plate_id INTEGER REFERENCES plates(id),
        prev_text TEXT,                   -- the plate's text_confirmed before a 'plate' action, for undo
        new_text TEXT,
        author TEXT,
        created_at TEXT NOT NULL,
        undone_at TEXT
    )""",
    # AUTOINCREMENT: label ids never get reused, so "id > last trained id" means "newer".
    """CREATE TABLE labels (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        char_id INTEGER NOT NULL REFERENCES chars(id),
        label TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('model', 'person', 'import')),
        author TEXT,
        action_id INTEGER NOT NULL REFERENCES actions(id),
        created_at TEXT NOT NULL,
        superseded_by INTEGER REFERENCES labels(id),
        undone_at TEXT
    )""",
    "CREATE INDEX labels_char ON labels(char_id)",
    "CREATE INDEX labels_action ON labels(action_id)",
    "CREATE INDEX labels_current ON labels(char_id) WHERE superseded_by IS NULL AND undone_at IS NULL",
    """CREATE VIEW current_labels AS
        SELECT * FROM labels WHERE superseded_by IS NULL AND undone_at IS NULL""",
    """CREATE TABLE training_runs (
        id INTEGER PRIMARY KEY,
        model_version TEXT NOT NULL,
        trained_at TEXT NOT NULL,
        last_label_id INTEGER NOT NULL    -- labels with a larger id were not in this training
    )""",
)


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA_1:
        conn.execute(statement)


# Version 2: a plate's segmentation can be fixed (two boxes merged into one, one box split into
# several) without losing anything labeled. A character row is never deleted: a merge or split
# *retires* the rows it replaces (chars.retired_by_action) and adds new ones (chars.added_by_action),
# so undo can bring the old rows back exactly, labels and all. Only live rows (retired_by_action IS
# NULL) are characters of their plate: reading order (idx) is unique among them only, and
# current_labels holds the effective labels of live characters only, so every count, the review
# queue, training and exports ignore retired rows.
_SCHEMA_2 = (
    # SQLite cannot alter a CHECK or drop a UNIQUE constraint: both tables are rebuilt (same ids,
    # same rows) under a new name and renamed back, with foreign keys off (see LabelStore._setup).
    """CREATE TABLE actions_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('recognition', 'label', 'plate', 'import', 'merge', 'split')),
        plate_id INTEGER REFERENCES plates(id),
        prev_text TEXT,                   -- the plate's text_confirmed before a 'plate' action, for undo
        new_text TEXT,
        author TEXT,
        created_at TEXT NOT NULL,
        undone_at TEXT,
        detail TEXT                       -- JSON; 'merge'/'split': {"before": live char ids in reading order}
    )""",
    """INSERT INTO actions_v2 (id, kind, plate_id, prev_text, new_text, author, created_at, undone_at)
        SELECT id, kind, plate_id, prev_text, new_text, author, created_at, undone_at FROM actions""",
    """CREATE TABLE chars_v2 (
        id INTEGER PRIMARY KEY,
        plate_id INTEGER NOT NULL REFERENCES plates(id),
        idx INTEGER NOT NULL,             -- reading order within the plate, unique among its live rows
        line INTEGER NOT NULL,
        x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL,  -- photo pixels
        crop BLOB NOT NULL,               -- the classifier's input as 8-bit grey PNG
        pred_char TEXT,
        pred_conf REAL,
        topk TEXT,                        -- JSON [[class, probability], ...]
        model_version TEXT,
        created_at TEXT NOT NULL,
        added_by_action INTEGER REFERENCES actions(id),    -- the merge/split that cut this box; NULL: segmentation
        retired_by_action INTEGER REFERENCES actions(id)   -- the merge/split (or its undo) that replaced it; NULL: live
    )""",
    """INSERT INTO chars_v2 (id, plate_id, idx, line, x, y, w, h, crop, pred_char, pred_conf, topk, model_version, created_at)
        SELECT id, plate_id, idx, line, x, y, w, h, crop, pred_char, pred_conf, topk, model_version, created_at FROM chars""",
    "DROP VIEW current_labels",
    "DROP TABLE chars",
    "DROP TABLE actions",
    "ALTER TABLE actions_v2 RENAME TO actions",
    "ALTER TABLE chars_v2 RENAME TO chars",
    "CREATE UNIQUE INDEX chars_live_idx ON chars(plate_id, idx) WHERE retired_by_action IS NULL",
    "CREATE INDEX chars_plate ON chars(plate_id, idx)",
    "CREATE INDEX chars_conf ON chars(pred_conf)",
    "CREATE INDEX chars_added ON chars(added_by_action) WHERE added_by_action IS NOT NULL",
    "CREATE INDEX chars_retired ON chars(retired_by_action) WHERE retired_by_action IS NOT NULL",
    """CREATE VIEW current_labels AS
        SELECT l.* FROM labels l JOIN chars c ON c.id = l.char_id
        WHERE l.superseded_by IS NULL AND l.undone_at IS NULL AND c.retired_by_action IS NULL""",
)


def _migrate_to_2(conn: sqlite3.Connection) -> None:
    # AUTOINCREMENT promises that an action id is never reused: carry the counter over.
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'actions'").fetchone()
    for statement in _SCHEMA_2:
        conn.execute(statement)
    if row is not None:
        if not conn.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'actions'", (row[0],)).rowcount:
            conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('actions', ?)", (row[0],))
    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise StoreError(
            f"the label database has {len(broken)} rows that point at missing rows (first: table {broken[0][0]}, "
            f"row {broken[0][1]}); it was left at schema version 1: restore it from an export or backup"
        )


# MIGRATIONS[n] brings a database from schema version n to n + 1. Append only: a released
# migration never changes, because databases in the field have already run it. Migrations run in
# one transaction with foreign keys off, so that a table may be rebuilt (LabelStore._setup).
def _migrate_to_3(conn: sqlite3.Connection) -> None:
    # Version 3: a person can say a detected "plate" is not a plate (grass, a sign): its crops leave
    # the review queue and the box is kept as a negative example for a plate verifier. NULL: a plate.
    conn.execute("ALTER TABLE plates ADD COLUMN not_a_plate_at TEXT")


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_migrate_to_1, _migrate_to_2, _migrate_to_3)
SCHEMA_VERSION = len(MIGRATIONS)


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StoredChar:
    """One character crop as stored, with the model's guess and its effective label (if any)."""

    id: int
    plate_id: int
    idx: int
    line: int
    box: Box  # in photo pixels; in crop pixels for plates without a photo
    image: np.ndarray  # float32 (size, size) in [0, 1], as the classifier saw it (to 1/255)
    pred_char: str | None
    pred_conf: float | None
    topk: tuple[tuple[str, float], ...]
    model_version: str | None
    label: str | None  # the effective label; None when the character has never been labeled
    source: str | None  # 'model', 'person' or 'import'
    author: str | None


@dataclass(frozen=True)
class StoredPlate:
    id: int
    photo_id: int | None
    name: str  # the photo's name; "" for plates imported as character crops
    box: Box | None
    text_read: str
    text_confirmed: str | None
    country: str | None
    created_at: str
    characters: int
    labeled: int  # characters whose effective label is a person's or an import's
    not_a_plate: bool = False  # a person said the detector's box holds no plate


@dataclass(frozen=True)
class PlateLabelResult:
    """What labeling a whole plate did. `matched` is False when the segmentation count differs."""

    plate_id: int | None
    matched: bool
    characters: int  # segments the plate was cut into
    text: str  # the plate text as stored ("_" marks a segment that is not a character)
    created: bool  # a new plate row was written
    message: str


@dataclass(frozen=True)
class Undone:
    """The action `undo_last` took back."""

    action_id: int
    kind: str  # 'label' (one character), 'plate' (a whole plate typed at once), 'merge' or 'split'
    plate_id: int | None
    char_ids: tuple[int, ...]  # merge/split: the plate's characters after the undo, in reading order
    labels: tuple[str, ...]  # the labels that were undone, in character order; () for merge/split
    author: str | None


@dataclass
class ImportResult:
    plates: int = 0  # new plates stored
    matched: int = 0  # ... whose characters got labels
    unmatched: int = 0  # ... stored with their text but unlabeled characters (segmentation count differs)
    characters: int = 0  # labels written
    skipped: int = 0  # already in the store
    failed: list[str] = field(default_factory=list)  # "path: reason" of what could not be read

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ExportResult:
    characters: int
    per_class: dict[str, int]


# --- the store ---------------------------------------------------------------------------------


class LabelStore:
    """One SQLite database of photos, plates, character crops and labels.

    One connection per store object, guarded by a lock, so Streamlit's threads can share one
    store; other processes open their own store on the same folder. Use `LabelStore.open()`.
    """

    def __init__(self, data_dir: str | os.PathLike):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_NAME
        _prepare_folder(self.data_dir, self.path)
        self._lock = threading.RLock()
        try:
            # isolation_level=None: transactions are begun explicitly (BEGIN IMMEDIATE, see _write),
            # not implicitly by the sqlite3 module before the first INSERT.
            self._conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the label database {self.path} ({exc}); set {DATA_DIR_ENV} or --data-dir to a writable folder") from None
        self._conn.row_factory = sqlite3.Row
        try:
            self._setup()
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(cls, data_dir: str | os.PathLike | None = None) -> "LabelStore":
        """The store in `data_dir`, else $ALPR_DATA_DIR, else ./data; the folder is created if missing."""
        return cls(data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "LabelStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LabelStore({str(self.data_dir)!r})"

    # --- connection, transactions, migrations --------------------------------------------------

    def _setup(self) -> None:
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        version = self._schema_version()
        self._refuse_newer(version)
        try:
            # WAL: readers (the app's pages) never block the writer and a killed writer leaves only
            # uncommitted frames, which the next open ignores.
            conn.execute("PRAGMA journal_mode = WAL")
            # FULL: a commit is on disk before the call returns, so a confirmed label survives even
            # a power cut, not only a crashed process. It costs one fsync per plate.
            conn.execute("PRAGMA synchronous = FULL")
            # Off while migrating: a migration may rebuild a table that others point at (SQLite's
            # documented way to change a constraint); it checks the keys itself before committing.
            # The pragma cannot change inside a transaction, hence before and after _write.
            conn.execute("PRAGMA foreign_keys = OFF")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        if version < SCHEMA_VERSION:
            with self._write() as conn:
                # Another process may have migrated between the check above and this lock.
                version = self._schema_version()
                self._refuse_newer(version)
                for migrate in MIGRATIONS[version:]:
                    migrate(conn)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        try:
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _schema_version(self) -> int:
        try:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path} is not a label database ({exc}); move it away or set --data-dir to another folder"
            ) from None

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version} but this alpr knows versions up to {SCHEMA_VERSION}: "
                "it was written by a newer alpr; upgrade alpr, or set --data-dir to another folder"
            )

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of the block is committed, or none of it.

        BEGIN IMMEDIATE takes the write lock up front (waiting up to busy_timeout for another
        process): a deferred transaction that reads first and then writes can fail at once with
        "database is locked" when another process committed in between.
        """
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error(exc) from None
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._error(exc) from None
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: the statements in the block see one snapshot of the database."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    if conn.in_transaction:
                        conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._error(exc) from None

    def _error(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return StoreError(
                f"the label database {self.path} stayed locked by another process for more than "
                f"{BUSY_TIMEOUT_S:.0f} s; try again when the other import or training has finished"
            )
        if "readonly" in text or "read-only" in text:
            return StoreError(
                f"cannot write the label database {self.path}: it or its folder is read-only; "
                f"fix the permissions or set {DATA_DIR_ENV} or --data-dir to a writable folder"
            )
        if "full" in text:
            return StoreError(f"cannot write the label database {self.path}: the disk is full; free some space")
        if isinstance(exc, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text):
            return StoreError(f"the label database {self.path} is damaged ({text}); restore it from an export or backup")
        return StoreError(f"the label database {self.path} failed: {text}")

    # --- adding photos and plates -------------------------------------------------------------

    def add_recognition(self, image: np.ndarray, rec: Recognition, name: str, model_version: str) -> list[int]:
        """Store a photo and every plate `recognize` read in it, with the model's guesses as labels.

        One transaction: the photo, its plates, their characters and the model labels are all
        stored or none is. The photo is stored once however often it is added (by pixel hash), and a
        plate already stored for this photo at the same box is not stored again, so re-running the
        app's page on the same upload adds nothing. Returns the plate ids, best plate first.
        """
        photo = _Photo.of(image, name, self._has_photo)
        plates = [(p, _char_rows(p.chars, p.crop_box, p.predictions)) for p in rec.plates]
        ids = []
        with self._write() as conn:
            photo_id = self._insert_photo(conn, photo)
            action_id = None
            for read, rows in plates:
                existing = self._find_plate(conn, photo_id, read.box)
                if existing is not None:
                    ids.append(existing)
                    continue
                if action_id is None:
                    action_id = self._action(conn, "recognition")
                plate_id = self._insert_plate(conn, photo_id, read.box, read.plate, None, rec.country)
                char_ids = self._insert_chars(conn, plate_id, rows, model_version)
                for char_id, row in zip(char_ids, rows):
                    if row.pred_char is not None:
                        self._insert_label(conn, char_id, row.pred_char, "model", None, action_id)
                ids.append(plate_id)
        return ids

    def add_labeled_plate(
        self,
        image: np.ndarray,
        plate_text: str,
        country: str = "us",
        plate_crop: bool = False,
        classifier=None,
        name: str = "plate",
        *,
        box: Box | None = None,
        source: str = "person",
        author: str | None = None,
    ) -> PlateLabelResult:
        """Store a plate whose text is known and label its characters when the segmentation fits.

        Where the plate is: `box` (photo pixels; segmented with the usual margin), or the whole image
        with `plate_crop=True`, or else wherever `recognize` finds the best plate (this needs a
        classifier; the shipped one is used when none is given). With a classifier, its guesses
        are stored as well, so the review queue can sort by confidence and corrections be counted.

        When the plate is cut into exactly len(text) segments every character is labeled; otherwise
        the plate is stored with its text confirmed and its characters unlabeled, so the text is
        not lost and the characters can be labeled one by one. Adding the same plate again (same
        pixels, same box, same text) writes nothing.
        """
        text = _plate_text(plate_text)
        _check_source(source)
        if classifier is None and box is None and not plate_crop:
            from alpr.pipeline import default_classifier

            classifier = default_classifier()
        photo = _Photo.of(image, name, self._has_photo)
        plate_box, rows, text_read = self._locate_and_segment(photo.image, box, plate_crop, country, classifier)
        model_version = classifier.info.version if classifier is not None else None
        with self._write() as conn:
            photo_id = self._insert_photo(conn, photo)
            existing = self._find_plate(conn, photo_id, plate_box)
            if existing is not None:
                current = conn.execute("SELECT text_confirmed FROM plates WHERE id = ?", (existing,)).fetchone()[0]
                if current == text.replace(REJECT, ""):
                    found = self._char_count(conn, existing)
                    return PlateLabelResult(
                        existing, found == len(text), found, text, False, f"plate {existing} is already stored as {text}"
                    )
                return self._label_plate(conn, existing, text, source, author)
            plate_id = self._insert_plate(conn, photo_id, plate_box, text_read, None, country)
            char_ids = self._insert_chars(conn, plate_id, rows, model_version)
            if any(r.pred_char is not None for r in rows):
                action_id = self._action(conn, "recognition", plate_id)
                for char_id, row in zip(char_ids, rows):
                    self._insert_label(conn, char_id, row.pred_char, "model", None, action_id)
            result = self._label_plate(conn, plate_id, text, source, author)
            if not result.matched:
                # A new plate keeps the text it came with even when its characters cannot be labeled.
                conn.execute("UPDATE plates SET text_confirmed = ? WHERE id = ?", (text.replace(REJECT, ""), plate_id))
            return PlateLabelResult(plate_id, result.matched, result.characters, text, True, result.message)

    def _locate_and_segment(self, rgb, box, plate_crop, country, classifier):
        """(plate box, character rows, text read) for add_labeled_plate."""
        from alpr.config import DEFAULT
        from alpr.segment import crop_plate, segment

        if box is None and not plate_crop:
            from alpr.pipeline import recognize

            rec = recognize(rgb, country=country, topn=1, classifier=classifier)
            if not rec.plates:
                return None, [], ""
            read = rec.plates[0]
            return read.box, _char_rows(read.chars, read.crop_box, read.predictions), read.plate
        if plate_crop:
            crop, crop_box = rgb, Box(0, 0, rgb.shape[1], rgb.shape[0])
            plate_box = crop_box
        else:
            crop, crop_box = crop_plate(rgb, box, DEFAULT.segment)
            plate_box = box
        size = classifier.input_size if classifier is not None else DEFAULT.classify.input_size
        chars = segment(crop, DEFAULT.segment, size).chars
        predictions = tuple(classifier.predict(chars)) if classifier is not None and chars else None
        text_read = ""
        if predictions:
            text_read = "".join(p.char for p in predictions if p.char != REJECT)
        return plate_box, _char_rows(chars, crop_box, predictions), text_read

    # --- labeling ------------------------------------------------------------------------------

    def set_label(self, char_id: int, label: str, author: str | None = None, source: str = "person") -> int:
        """Label one character; the previous label is kept as history. Returns the new label's id."""
        label = _check_label(label)
        _check_source(source)
        with self._write() as conn:
            row = conn.execute("SELECT plate_id, retired_by_action FROM chars WHERE id = ?", (int(char_id),)).fetchone()
            if row is None:
                raise StoreError(f"no character with id {char_id} in {self.path}")
            if row["retired_by_action"] is not None:
                raise StoreError(
                    f"character {char_id} of plate {row['plate_id']} was replaced when the plate's boxes were merged "
                    "or split; label the plate's current crops instead"
                )
            action_id = self._action(conn, _ACTION_KIND[source][0], row["plate_id"], author)
            return self._insert_label(conn, int(char_id), label, source, author, action_id)

    def label_plate(self, plate_id: int, text: str, author: str | None = None, source: str = "person") -> PlateLabelResult:
        """Label every character of a plate from its text, in one transaction.

        Only when the plate was cut into exactly len(text) segments ("_" stands for a segment that
        is not a character): a mismatch means some boxes are wrong, and labeling them by position
        would teach the model wrong letters. Then nothing changes and the result says so.
        """
        text = _plate_text(text)
        _check_source(source)
        with self._write() as conn:
            return self._label_plate(conn, int(plate_id), text, source, author)

    def _label_plate(self, conn, plate_id: int, text: str, source: str, author: str | None) -> PlateLabelResult:
        plate = conn.execute("SELECT text_confirmed FROM plates WHERE id = ?", (plate_id,)).fetchone()
        if plate is None:
            raise StoreError(f"no plate with id {plate_id} in {self.path}")
        char_ids = [r[0] for r in conn.execute(
            "SELECT id FROM chars WHERE plate_id = ? AND retired_by_action IS NULL ORDER BY idx", (plate_id,)
        )]
        if len(char_ids) != len(text):
            return PlateLabelResult(
                plate_id, False, len(char_ids), text, False,
                f"plate {plate_id} was cut into {len(char_ids)} segments but {text!r} has {len(text)} characters; "
                "nothing was labeled: label its characters one by one (\"_\" for a segment that is not a character)",
            )
        confirmed = text.replace(REJECT, "")
        action_id = self._action(conn, _ACTION_KIND[source][1], plate_id, author, prev_text=plate["text_confirmed"], new_text=confirmed)
        for char_id, label in zip(char_ids, text):
            self._insert_label(conn, char_id, label, source, author, action_id)
        conn.execute("UPDATE plates SET text_confirmed = ? WHERE id = ?", (confirmed, plate_id))
        return PlateLabelResult(plate_id, True, len(char_ids), text, False, f"plate {plate_id} labeled {text}")

    def undo_last(self, author: str | None = None, action_id: int | None = None) -> Undone | None:
        """Take back the latest person action (by `author`, or by anyone when None) not yet undone.

        With `action_id`, only when that action is still the latest: a page that showed "Undo: X"
        must not take back a newer action that someone else saved since (StoreError then).

        Its labels are marked undone, not deleted, and each character's previous label becomes
        effective again; a plate's confirmed text goes back to what it was. A merge or split is
        taken back by retiring the characters it cut and bringing back the ones it replaced, in
        their old reading order, labels and all. None when there is nothing to undo. Model and
        import labels are not undone: they are re-created by running the model or the import again.
        """
        with self._write() as conn:
            query = "SELECT * FROM actions WHERE kind IN ('label', 'plate', 'merge', 'split') AND undone_at IS NULL"
            params: tuple = ()
            if author is not None:
                query += " AND author = ?"
                params = (author,)
            action = conn.execute(query + " ORDER BY id DESC LIMIT 1", params).fetchone()
            if action is None:
                return None
            if action_id is not None and action["id"] != action_id:
                raise StoreError(f"the latest change is no longer the one shown (action {action_id}): nothing was undone; look again")
            if action["kind"] in ("merge", "split"):
                restored = self._undo_resegment(conn, action)
                conn.execute("UPDATE actions SET undone_at = ? WHERE id = ?", (_now(), action["id"]))
                return Undone(action["id"], action["kind"], action["plate_id"], restored, (), action["author"])
            rows = conn.execute(
                "SELECT l.char_id, l.label FROM labels l JOIN chars c ON c.id = l.char_id "
                "WHERE l.action_id = ? ORDER BY c.idx",
                (action["id"],),
            ).fetchall()
            now = _now()
            conn.execute("UPDATE labels SET undone_at = ? WHERE action_id = ?", (now, action["id"]))
            conn.execute("UPDATE actions SET undone_at = ? WHERE id = ?", (now, action["id"]))
            for char_id in {r["char_id"] for r in rows}:
                self._relink(conn, char_id)
            if action["kind"] == "plate":
                # Only when nobody has confirmed another text since: undo never overwrites a later action.
                conn.execute(
                    "UPDATE plates SET text_confirmed = ? WHERE id = ? AND text_confirmed IS ?",
                    (action["prev_text"], action["plate_id"], action["new_text"]),
                )
            return Undone(
                action["id"], action["kind"], action["plate_id"],
                tuple(r["char_id"] for r in rows), tuple(r["label"] for r in rows), action["author"],
            )

    # --- fixing the segmentation ---------------------------------------------------------------

    def merge_chars(self, plate_id: int, first_idx: int, author: str | None = None) -> int:
        """Merge the character at reading position `first_idx` (0-based) with the next one.

        For a glyph the segmentation cut in two. The new character's box is the union of both
        boxes and its crop is cut again from the stored photo; it has no label and no model guess
        (the old labels were about the halves). Characters after it move up one place. The two old
        rows are retired, not deleted, so their labels stay in the history and `undo_last` brings
        them back. One transaction; returns the new character's id.
        """
        plate_id, first_idx = int(plate_id), int(first_idx)
        grey, scale = self._plate_grey(plate_id, "merged")
        with self._write() as conn:
            live = self._live_rows(conn, plate_id)
            if not 0 <= first_idx < len(live) - 1:
                raise StoreError(
                    f"cannot merge characters {first_idx} and {first_idx + 1} of plate {plate_id}: it has "
                    f"{len(live)} character{'s' if len(live) != 1 else ''} (reading positions 0 to {len(live) - 1})"
                )
            a, b = live[first_idx], live[first_idx + 1]
            if a["line"] != b["line"]:
                raise StoreError(
                    f"cannot merge characters {first_idx} and {first_idx + 1} of plate {plate_id}: they are on "
                    "different lines of the plate"
                )
            x0, y0 = min(a["x"], b["x"]), min(a["y"], b["y"])
            x1, y1 = max(a["x"] + a["w"], b["x"] + b["w"]), max(a["y"] + a["h"], b["y"] + b["h"])
            box = Box(x0, y0, x1 - x0, y1 - y0)
            return self._resegment(conn, plate_id, live, first_idx, 2, [(a["line"], box)], grey, scale, "merge", author)[0]

    def split_char(self, plate_id: int, idx: int, parts: int = 2, author: str | None = None) -> list[int]:
        """Split the character at reading position `idx` (0-based) into `parts` equal-width boxes.

        For glyphs the segmentation ran together. Each new box is cut again from the stored photo
        and has no label and no model guess; characters after it move down. The old row is retired,
        not deleted, so `undo_last` brings it back with its labels. One transaction; returns the new
        characters' ids in reading order.
        """
        plate_id, idx, parts = int(plate_id), int(idx), int(parts)
        if not 2 <= parts <= MAX_SPLIT_PARTS:
            raise StoreError(f"a character is split into 2 to {MAX_SPLIT_PARTS} parts, not {parts}")
        grey, scale = self._plate_grey(plate_id, "split")
        with self._write() as conn:
            live = self._live_rows(conn, plate_id)
            if not 0 <= idx < len(live):
                raise StoreError(
                    f"cannot split character {idx} of plate {plate_id}: it has {len(live)} "
                    f"character{'s' if len(live) != 1 else ''} (reading positions 0 to {len(live) - 1})"
                )
            row = live[idx]
            if row["w"] < parts:
                raise StoreError(f"character {idx} of plate {plate_id} is {row['w']} px wide: too narrow to split into {parts}")
            edges = [row["x"] + int(round(k * row["w"] / parts)) for k in range(parts + 1)]
            boxes = [(row["line"], Box(edges[k], row["y"], edges[k + 1] - edges[k], row["h"])) for k in range(parts)]
            return self._resegment(conn, plate_id, live, idx, 1, boxes, grey, scale, "split", author)

    def add_segment(self, plate_id: int, at_start: bool, author: str | None = None) -> int:
        """Add a box before the first character (or after the last), for a character the segmentation
        missed, typically one outside the detected plate box. It is as wide and tall as the plate's
        median character, one median gap away, cut from the stored photo and unlabeled. Recorded as a
        split (the only kinds undo knows), so `undo_last` takes it back. Returns the new character's id.
        """
        plate_id = int(plate_id)
        grey, scale = self._plate_grey(plate_id, "given a new segment")
        with self._write() as conn:
            live = self._live_rows(conn, plate_id)
            if not live:
                raise StoreError(f"plate {plate_id} has no segments to add one beside")
            edge = live[0] if at_start else live[-1]
            row = [r for r in live if r["line"] == edge["line"]]
            w = int(np.median([r["w"] for r in row]))
            gaps = [b["x"] - (a["x"] + a["w"]) for a, b in zip(row, row[1:])]
            gap = max(1, int(np.median(gaps))) if gaps else max(1, w // 5)
            x = edge["x"] - gap - w if at_start else edge["x"] + edge["w"] + gap
            width = int(round(grey.shape[1] / scale))
            x = min(max(0, x), max(0, width - w))
            box = Box(x, edge["y"], w, edge["h"])
            start = 0 if at_start else len(live)
            return self._resegment(conn, plate_id, live, start, 0, [(edge["line"], box)], grey, scale, "split", author)[0]

    def _plate_grey(self, plate_id: int, what: str) -> tuple[np.ndarray, float]:
        """The plate's stored photo as grey floats in [0, 1], and its pixels per original pixel.

        Read before the write lock is taken: photos never change once stored.
        """
        from alpr.detect import to_grey

        with self._read() as conn:
            row = conn.execute("SELECT photo_id FROM plates WHERE id = ?", (plate_id,)).fetchone()
        if row is None:
            raise StoreError(f"no plate with id {plate_id} in {self.path}")
        if row["photo_id"] is None:
            raise StoreError(
                f"plate {plate_id} was imported as character crops without its photo, so its boxes cannot be "
                f"{what} and cut again; label its crops one by one (∅ for a crop that is not a character)"
            )
        rgb, scale = self.photo_image(row["photo_id"])
        return to_grey(rgb), scale

    def _live_rows(self, conn, plate_id: int) -> list[sqlite3.Row]:
        return conn.execute(
            "SELECT id, idx, line, x, y, w, h, crop FROM chars WHERE plate_id = ? AND retired_by_action IS NULL ORDER BY idx",
            (plate_id,),
        ).fetchall()

    def _resegment(self, conn, plate_id, live, start, count, boxes, grey, scale, kind, author) -> list[int]:
        """Replace live[start:start + count] by new characters at `boxes` ((line, photo-pixel box)s),
        renumbering the reading order; recorded as one `kind` action that undo_last takes back."""
        replaced = live[start : start + count]
        size = _decode_crop(live[start]["crop"] if count else live[0]["crop"], None).shape[0]
        if _ink_is_light(grey, scale, replaced or live):
            grey = 1.0 - grey
        pngs = [_encode_crop(_recut(grey, scale, box, size)) for _, box in boxes]
        before = [int(r["id"]) for r in live]
        action_id = self._action(conn, kind, plate_id, author, detail={"before": before})
        conn.executemany(
            "UPDATE chars SET retired_by_action = ? WHERE id = ?", [(action_id, int(r["id"])) for r in replaced]
        )
        # Reading positions are unique among live rows: park the kept ones out of the way first.
        conn.execute("UPDATE chars SET idx = -1 - idx WHERE plate_id = ? AND retired_by_action IS NULL", (plate_id,))
        now, new_ids = _now(), []
        for k, ((line, box), png) in enumerate(zip(boxes, pngs)):
            cur = conn.execute(
                "INSERT INTO chars (plate_id, idx, line, x, y, w, h, crop, created_at, added_by_action) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (plate_id, start + k, line, box.x, box.y, box.w, box.h, png, now, action_id),
            )
            new_ids.append(int(cur.lastrowid))
        order = before[:start] + new_ids + before[start + count :]
        conn.executemany("UPDATE chars SET idx = ? WHERE id = ?", [(i, cid) for i, cid in enumerate(order)])
        return new_ids

    def _undo_resegment(self, conn, action: sqlite3.Row) -> tuple[int, ...]:
        """Take back a merge or split: its new rows retired, the rows it replaced live again, and
        every live character back at its old reading position. Returns the live ids in order."""
        action_id, plate_id = action["id"], action["plate_id"]
        later = conn.execute(
            "SELECT id, kind, author FROM actions WHERE plate_id = ? AND kind IN ('merge', 'split') "
            "AND undone_at IS NULL AND id > ? ORDER BY id LIMIT 1",
            (plate_id, action_id),
        ).fetchone()
        if later is not None:
            who = f" by {later['author']}" if later["author"] else ""
            raise StoreError(
                f"cannot undo the {action['kind']} on plate {plate_id}: its boxes were {later['kind']} again since{who}; "
                "undo that first"
            )
        before = [int(i) for i in json.loads(action["detail"])["before"]]
        # A row the action cut and its undo retired is marked retired by the action itself.
        conn.execute(
            "UPDATE chars SET retired_by_action = ? WHERE added_by_action = ? AND retired_by_action IS NULL",
            (action_id, action_id),
        )
        conn.execute("UPDATE chars SET idx = -1 - idx WHERE plate_id = ? AND retired_by_action IS NULL", (plate_id,))
        conn.execute(
            "UPDATE chars SET retired_by_action = NULL WHERE retired_by_action = ? AND added_by_action IS NOT ?",
            (action_id, action_id),
        )
        conn.executemany("UPDATE chars SET idx = ? WHERE id = ?", [(i, cid) for i, cid in enumerate(before)])
        live = [r[0] for r in conn.execute(
            "SELECT id FROM chars WHERE plate_id = ? AND retired_by_action IS NULL ORDER BY idx", (plate_id,)
        )]
        if live != before:
            raise StoreError(
                f"cannot undo the {action['kind']} on plate {plate_id}: its characters are no longer the ones it left"
            )
        return tuple(live)

    def mark_trained(self, model_version: str, last_label_id: int | None = None) -> int:
        """Record that a model was trained on the labels up to `last_label_id` (default: all now).

        Read `last_label_id()` before `training_arrays()` and pass it here, so labels added while
        the model trained stay pending. Returns the training run's id.
        """
        with self._write() as conn:
            if last_label_id is None:
                last_label_id = conn.execute("SELECT COALESCE(MAX(id), 0) FROM labels").fetchone()[0]
            cur = conn.execute(
                "INSERT INTO training_runs (model_version, trained_at, last_label_id) VALUES (?, ?, ?)",
                (str(model_version), _now(), int(last_label_id)),
            )
            return int(cur.lastrowid)

    def last_label_id(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM labels").fetchone()[0])

    # --- reading -------------------------------------------------------------------------------

    # Live characters only: rows retired by a merge or split are history, not characters.
    _CHAR_QUERY = """
        SELECT c.*, l.label AS label, l.source AS source, l.author AS author
        FROM chars c LEFT JOIN current_labels l ON l.char_id = c.id
        WHERE c.retired_by_action IS NULL
    """

    def review_queue(
        self,
        limit: int = 50,
        class_filter: str | None = None,
        model_version: str | None = None,
        status: str = "unreviewed",
        include_not_plates: bool = False,
    ) -> list[StoredChar]:
        """Characters to look at, least confident guess first.

        status: 'unreviewed' (only the model's guess, or no label at all), 'corrected' (a person's
        label that differs from the model's guess) or 'all'. `class_filter` keeps the characters
        whose current class (effective label, else the model's guess) is that class.
        Characters without a guess (imported crops) come last. Crops of plates marked not a plate
        are left out unless `include_not_plates`.
        """
        if status not in REVIEW_STATUSES:
            raise StoreError(f"unknown review status {status!r}; choose one of {', '.join(REVIEW_STATUSES)}")
        where, params = [], []
        if status == "unreviewed":
            where.append("(l.source IS NULL OR l.source = 'model')")
        elif status == "corrected":
            where.append("l.source = 'person' AND c.pred_char IS NOT NULL AND l.label <> c.pred_char")
        if class_filter is not None:
            where.append("COALESCE(l.label, c.pred_char) = ?")
            params.append(_check_label(class_filter))
        if model_version is not None:
            where.append("c.model_version = ?")
            params.append(model_version)
        if not include_not_plates:
            where.append("c.plate_id NOT IN (SELECT id FROM plates WHERE not_a_plate_at IS NOT NULL)")
        query = self._CHAR_QUERY
        if where:
            query += " AND " + " AND ".join(where)
        query += " ORDER BY c.pred_conf IS NULL, c.pred_conf, c.id LIMIT ?"
        params.append(int(limit))
        with self._read() as conn:
            return [_stored_char(r) for r in conn.execute(query, params)]

    def plate_chars(self, plate_id: int) -> list[StoredChar]:
        """The characters of a plate in reading order."""
        with self._read() as conn:
            rows = conn.execute(self._CHAR_QUERY + " AND c.plate_id = ? ORDER BY c.idx", (int(plate_id),)).fetchall()
        return [_stored_char(r) for r in rows]

    _PLATE_QUERY = """
        SELECT p.*, COALESCE(ph.name, '') AS name,
            (SELECT COUNT(*) FROM chars c WHERE c.plate_id = p.id AND c.retired_by_action IS NULL) AS characters,
            (SELECT COUNT(*) FROM chars c JOIN current_labels l ON l.char_id = c.id
             WHERE c.plate_id = p.id AND l.source IN ('person', 'import')) AS labeled
        FROM plates p LEFT JOIN photos ph ON ph.id = p.photo_id
    """

    def recent_plates(self, limit: int = 20) -> list[StoredPlate]:
        """The latest plates stored, newest first."""
        with self._read() as conn:
            rows = conn.execute(self._PLATE_QUERY + " ORDER BY p.id DESC LIMIT ?", (int(limit),)).fetchall()
        return [_stored_plate(r) for r in rows]

    def plate(self, plate_id: int) -> StoredPlate:
        with self._read() as conn:
            row = conn.execute(self._PLATE_QUERY + " WHERE p.id = ?", (int(plate_id),)).fetchone()
        if row is None:
            raise StoreError(f"no plate with id {plate_id} in {self.path}")
        return _stored_plate(row)

    def mark_not_a_plate(self, plate_id: int, not_a_plate: bool = True) -> None:
        """Say that a plate's box holds no plate (or, with False, that it does after all)."""
        with self._write() as conn:
            cur = conn.execute("UPDATE plates SET not_a_plate_at = ? WHERE id = ?",
                               (_now() if not_a_plate else None, int(plate_id)))
            if not cur.rowcount:
                raise StoreError(f"no plate with id {plate_id} in {self.path}")

    def not_a_plate_boxes(self) -> list[tuple[int, Box]]:
        """(photo id, box) of every box a person marked not a plate: negatives for a plate verifier."""
        with self._read() as conn:
            rows = conn.execute("SELECT photo_id, x, y, w, h FROM plates WHERE not_a_plate_at IS NOT NULL "
                                "AND photo_id IS NOT NULL AND x IS NOT NULL ORDER BY id").fetchall()
        return [(r["photo_id"], Box(r["x"], r["y"], r["w"], r["h"])) for r in rows]

    def photo_image(self, photo_id: int) -> tuple[np.ndarray, float]:
        """The stored (downscaled) photo as RGB uint8, and its pixels per original photo pixel."""
        with self._read() as conn:
            row = conn.execute("SELECT png, width FROM photos WHERE id = ?", (int(photo_id),)).fetchone()
        if row is None:
            raise StoreError(f"no photo with id {photo_id} in {self.path}")
        image = np.array(Image.open(io.BytesIO(row["png"])).convert("RGB"))
        return image, image.shape[1] / row["width"]

    def stats(self) -> dict:
        """Counts for the app's sidebar and `alpr labels stats`.

        `labeled` and `per_class` count characters whose effective label is a person's or an
        import's (the training data; the model's own guesses are not); `per_class` lists every
        class, zeros included, so missing classes show. `corrections` counts effective person labels
        that differ from the model's guess; `pending_training` the training labels newer than the
        last `mark_trained`.
        """
        with self._read() as conn:
            one = lambda q: conn.execute(q).fetchone()[0]  # noqa: E731
            per_class = dict.fromkeys(ALL_CLASSES, 0)
            for label, n in conn.execute(
                "SELECT label, COUNT(*) FROM current_labels WHERE source IN ('person', 'import') GROUP BY label"
            ):
                per_class[label] = n
            last = conn.execute("SELECT model_version, trained_at FROM training_runs ORDER BY id DESC LIMIT 1").fetchone()
            return {
                "photos": one("SELECT COUNT(*) FROM photos"),
                "plates": one("SELECT COUNT(*) FROM plates"),
                "confirmed_plates": one("SELECT COUNT(*) FROM plates WHERE text_confirmed IS NOT NULL"),
                "characters": one("SELECT COUNT(*) FROM chars WHERE retired_by_action IS NULL"),
                "labeled": one("SELECT COUNT(*) FROM current_labels WHERE source IN ('person', 'import')"),
                "per_class": per_class,
                "corrections": one(
                    "SELECT COUNT(*) FROM current_labels l JOIN chars c ON c.id = l.char_id "
                    "WHERE l.source = 'person' AND c.pred_char IS NOT NULL AND l.label <> c.pred_char"
                ),
                "pending_training": one(
                    "SELECT COUNT(*) FROM current_labels WHERE source IN ('person', 'import') "
                    "AND id > (SELECT COALESCE(MAX(last_label_id), 0) FROM training_runs)"
                ),
                "last_training": dict(last) if last else None,
            }

    def pending_per_class(self) -> dict[str, int]:
        """Training labels newer than the last `mark_trained`, per class (every class, zeros included)."""
        with self._read() as conn:
            pending = dict.fromkeys(ALL_CLASSES, 0)
            for label, n in conn.execute(
                "SELECT label, COUNT(*) FROM current_labels WHERE source IN ('person', 'import') "
                "AND id > (SELECT COALESCE(MAX(last_label_id), 0) FROM training_runs) GROUP BY label"
            ):
                pending[label] = n
            return pending

    def model_versions(self) -> list[str]:
        """The model versions whose guesses are stored, newest first (for filtering the review queue)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT model_version FROM chars WHERE model_version IS NOT NULL AND retired_by_action IS NULL "
                "GROUP BY model_version ORDER BY MAX(id) DESC"
            ).fetchall()
        return [r[0] for r in rows]

    def training_arrays(self, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """(images float32 (N, size, size) in [0, 1], labels int64 indices into ALL_CLASSES) of the
        characters whose effective label is a person's or an import's, oldest label first."""
        images, labels, _ = self.training_set(size)
        return images, labels

    def training_set(self, size: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`training_arrays` and a third array: True where the label differs from what the model
        read when the crop was stored (a correction), which fine-tuning weighs more."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT c.crop, l.label, c.pred_char FROM current_labels l JOIN chars c ON c.id = l.char_id "
                "WHERE l.source IN ('person', 'import') AND c.retired_by_action IS NULL ORDER BY l.id"
            ).fetchall()
        index = {c: i for i, c in enumerate(ALL_CLASSES)}
        images = np.zeros((len(rows), size, size), np.float32)
        for i, row in enumerate(rows):
            images[i] = _decode_crop(row["crop"], size)
        labels = np.array([index[r["label"]] for r in rows], dtype=np.int64)
        corrected = np.array([r["pred_char"] is not None and r["pred_char"] != r["label"] for r in rows], dtype=bool)
        return images, labels, corrected

    # --- export --------------------------------------------------------------------------------

    def _export_rows(self) -> list[tuple[str, str, str, int, bytes]]:
        """(relative path, label, source, plate id, PNG) of every training character, from one snapshot."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT c.id, c.plate_id, c.crop, l.label, l.source FROM current_labels l "
                "JOIN chars c ON c.id = l.char_id WHERE l.source IN ('person', 'import') AND c.retired_by_action IS NULL "
                "ORDER BY c.plate_id, c.idx"
            ).fetchall()
        return [(f"{r['label']}/{r['id']}.png", r["label"], r["source"], r["plate_id"], r["crop"]) for r in rows]

    def export_dataset(self, out_dir: str | os.PathLike) -> ExportResult:
        """Write the training characters as a folder per class of PNG crops plus `labels.csv`
        (path,label,source,plate_id; paths relative to `out_dir`). `import_path` reads it back."""
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise StoreError(f"cannot export to {out}: it is a file; give a folder")
        if out.is_dir() and any(out.iterdir()) and not (out / "labels.csv").is_file():
            raise StoreError(f"cannot export to {out}: the folder is not empty and is not an earlier export; give a new or empty folder")
        rows = self._export_rows()
        try:
            out.mkdir(parents=True, exist_ok=True)  # labels.csv is written even when nothing is labeled
            for rel, label, _, _, png in rows:
                target = out / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(png)
            # labels.csv last, through a rename: a half-written export has no labels.csv to mislead.
            tmp = out / "labels.csv.tmp"
            tmp.write_text(_labels_csv(rows), encoding="utf-8")
            os.replace(tmp, out / "labels.csv")
        except OSError as exc:
            raise StoreError(f"cannot write the export to {out} ({exc.strerror or exc}); check the folder's permissions and free space") from None
        return _export_result(rows)

    def export_zip(self, target: str | os.PathLike | BinaryIO) -> ExportResult:
        """The export of `export_dataset` as one zip, to a path or a binary file-like (BytesIO for
        a download button). Member names are relative: `labels.csv` and `CLASS/ID.png`."""
        rows = self._export_rows()

        def write(fh) -> None:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
                for rel, _, _, _, png in rows:
                    zf.writestr(rel, png, compress_type=zipfile.ZIP_STORED)  # PNG is compressed already
                zf.writestr("labels.csv", _labels_csv(rows))

        if isinstance(target, (str, os.PathLike)):
            path = Path(target)
            tmp = path.with_name(path.name + ".tmp")
            try:
                with open(tmp, "wb") as fh:
                    write(fh)
                os.replace(tmp, path)
            except OSError as exc:
                raise StoreError(f"cannot write {path} ({exc.strerror or exc}); check the folder exists and is writable") from None
        else:
            write(target)
        return _export_result(rows)

    # --- import --------------------------------------------------------------------------------

    def import_path(
        self,
        path: str | os.PathLike,
        classifier=None,
        progress: Callable[[int, int], None] | None = None,
        source: str = "import",
    ) -> ImportResult:
        """Import labeled data; what is already stored is skipped, so importing twice adds nothing.

        Accepted:
        * an OpenALPR benchmark folder (`NAME.txt` boxes beside photos, or a `labels.csv` with
          file,plate columns beside plate crops; sub-folders too): each plate is segmented and its
          characters labeled when the count fits the text, else stored with its text and unlabeled
          characters;
        * an export of this store (`labels.csv` with path,label columns beside a folder per class);
        * a CSV with image_path,plate_text columns (plate crops, as other plate-OCR tools write);
        * a .zip of any of these, checked before anything is extracted.
        `progress(done, total)` is called before each plate and once at the end.
        """
        _check_source(source)
        p = Path(path)
        if not p.exists():
            raise StoreError(f"nothing to import at {p}: no such file or folder")
        if p.is_file() and p.suffix.lower() == ".zip":
            with tempfile.TemporaryDirectory(prefix="alpr-import-") as tmp:
                root = Path(tmp)
                _safe_extract(p, root)
                return self._import_folder(root, root, classifier, progress, source)
        if p.is_file() and p.suffix.lower() == ".csv":
            return self._import_csv(p, None, classifier, progress, source)
        if p.is_dir():
            return self._import_folder(p, None, classifier, progress, source)
        raise StoreError(
            f"cannot import {p}: expected a folder, a .zip or a .csv (OpenALPR benchmark layout, "
            "an `alpr labels export`, or image_path,plate_text)"
        )

    def _import_folder(self, folder: Path, root, classifier, progress, source) -> ImportResult:
        labels = folder / "labels.csv"
        if labels.is_file() and _csv_kind(labels) in ("chars", "plates"):
            return self._import_csv(labels, root, classifier, progress, source)
        if not labels.is_file():
            plate_csvs = [c for c in sorted(folder.glob("*.csv")) if _csv_kind(c) == "plates"]
            if plate_csvs:
                total = ImportResult()
                for c in plate_csvs:
                    _add_results(total, self._import_csv(c, root, classifier, progress, source))
                return total
            entries = [e for e in folder.iterdir() if not e.name.startswith(".") and e.name != "__MACOSX"]
            if len(entries) == 1 and entries[0].is_dir():
                # A zip of one folder: what matters is inside it.
                return self._import_folder(entries[0], root, classifier, progress, source)
        from alpr.data import read_dataset
        from alpr.errors import DatasetError

        try:
            items = read_dataset(folder)
        except DatasetError as exc:
            raise StoreError(
                f"{exc}; `alpr labels import` also reads an export (labels.csv with path,label columns) "
                "and CSVs with image_path,plate_text columns"
            ) from None
        return self._import_plates(items, folder, root, classifier, progress, source)

    def _import_csv(self, path: Path, root, classifier, progress, source) -> ImportResult:
        from alpr.assemble import normalize_plate
        from alpr.data import LabeledPlate

        kind = _csv_kind(path)
        if kind == "chars":
            return self._import_chars(path, root, progress)
        columns = {"plates": ("image_path", "plate_text"), "openalpr": ("file", "plate")}.get(kind)
        if columns is None:
            raise StoreError(
                f"{path} has columns {_csv_header(path)}; expected path,label (an `alpr labels export`), "
                "image_path,plate_text (plate crops) or file,plate (OpenALPR plate crops)"
            )
        items = []
        for row in _csv_rows(path):
            file, text = ((row.get(c) or "").strip() for c in columns)
            if file:
                items.append(LabeledPlate(path.parent / file, normalize_plate(text), None, path.parent.name))
        return self._import_plates(items, path.parent, root, classifier, progress, source)

    def _import_plates(self, items, base: Path, root, classifier, progress, source) -> ImportResult:
        from alpr.assemble import COUNTRIES
        from alpr.imageio import load_image

        result = ImportResult()
        for n, item in enumerate(items):
            if progress:
                progress(n, len(items))
            name = _relative_name(item.path, base)
            try:
                _check_inside(item.path, root)
                if not item.plate:
                    raise StoreError(f"{name} has no plate text")
                image = load_image(item.path, name=name)  # its messages name the file
            except AlprError as exc:
                result.failed.append(str(exc))
                continue
            country = item.region if item.region in COUNTRIES else "us"
            done = self.add_labeled_plate(
                image, item.plate, box=item.box, plate_crop=item.box is None, country=country,
                classifier=classifier, name=name, source=source,
            )
            if not done.created:
                result.skipped += 1
                continue
            result.plates += 1
            if done.matched:
                result.matched += 1
                result.characters += done.characters
            else:
                result.unmatched += 1
        if progress:
            progress(len(items), len(items))
        return result

    def _import_chars(self, path: Path, root, progress) -> ImportResult:
        """Character crops of an export: one plate per plate_id of the CSV (its crops only)."""
        groups: dict[str, list[dict]] = {}
        for n, row in enumerate(_csv_rows(path)):
            # Rows without a plate id stand alone: nothing says which crops belong together.
            key = (row.get("plate_id") or "").strip() or f"row{n}"
            groups.setdefault(key, []).append(row)
        result = ImportResult()
        for n, rows in enumerate(groups.values()):
            if progress:
                progress(n, len(groups))
            crops = []
            for row in rows:
                rel = (row.get("path") or "").strip()
                file = path.parent / rel
                try:
                    _check_inside(file, root)
                    label = _check_label(row.get("label") or "")
                    png = file.read_bytes()
                    crops.append((label, _decode_crop(png, None)))
                except (AlprError, OSError, ValueError) as exc:
                    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                    result.failed.append(f"{rel}: {reason}")
            if not crops:
                continue
            if self._add_char_crops(crops):
                result.plates += 1
                result.matched += 1
                result.characters += len(crops)
            else:
                result.skipped += 1
        if progress:
            progress(len(groups), len(groups))
        return result

    def _add_char_crops(self, crops: list[tuple[str, np.ndarray]]) -> bool:
        """Store labeled crops as one photo-less plate; False when the same crops are already stored."""
        pngs = [_encode_crop(image) for _, image in crops]
        digest = hashlib.sha256()
        for (label, _), png in zip(crops, pngs):
            digest.update(label.encode() + b"\0" + hashlib.sha256(png).digest())
        key = digest.hexdigest()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM plates WHERE import_key = ?", (key,)).fetchone():
                return False
            cur = conn.execute(
                "INSERT INTO plates (photo_id, text_read, import_key, created_at) VALUES (NULL, '', ?, ?)", (key, _now())
            )
            plate_id = cur.lastrowid
            action_id = self._action(conn, "import", plate_id)
            now = _now()
            for idx, ((label, image), png) in enumerate(zip(crops, pngs)):
                char = conn.execute(
                    "INSERT INTO chars (plate_id, idx, line, x, y, w, h, crop, created_at) VALUES (?, ?, 0, 0, 0, ?, ?, ?, ?)",
                    (plate_id, idx, image.shape[1], image.shape[0], png, now),
                )
                self._insert_label(conn, char.lastrowid, label, "import", None, action_id)
        return True

    # --- row writers (called inside _write) ----------------------------------------------------

    def _has_photo(self, digest: str) -> bool:
        with self._read() as conn:
            return conn.execute("SELECT 1 FROM photos WHERE sha256 = ?", (digest,)).fetchone() is not None

    def _insert_photo(self, conn, photo: "_Photo") -> int:
        row = conn.execute("SELECT id FROM photos WHERE sha256 = ?", (photo.sha256,)).fetchone()
        if row is not None:
            return int(row[0])
        cur = conn.execute(
            "INSERT INTO photos (sha256, width, height, name, png, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (photo.sha256, photo.width, photo.height, photo.name, photo.encoded or photo.png(), _now()),
        )
        return int(cur.lastrowid)

    def _find_plate(self, conn, photo_id: int, box: Box | None) -> int | None:
        """The plate already stored for this photo at (about) this box; None: where no plate was found.

        "About": another model version reads the same plate into a box a few pixels off, and that
        is still the same plate, not a second one.
        """
        if box is None:
            row = conn.execute(
                "SELECT id FROM plates WHERE photo_id = ? AND x IS NULL ORDER BY id LIMIT 1", (photo_id,)
            ).fetchone()
            return None if row is None else int(row[0])
        rows = conn.execute(
            "SELECT id, x, y, w, h FROM plates WHERE photo_id = ? AND x IS NOT NULL ORDER BY id", (photo_id,)
        ).fetchall()
        for pid, x, y, w, h in rows:
            if Box(x, y, w, h).iou(box) > 0.7:
                return int(pid)
        return None

    def _insert_plate(self, conn, photo_id, box: Box | None, text_read: str, text_confirmed, country) -> int:
        x, y, w, h = (box.x, box.y, box.w, box.h) if box is not None else (None,) * 4
        cur = conn.execute(
            "INSERT INTO plates (photo_id, x, y, w, h, text_read, text_confirmed, country, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (photo_id, x, y, w, h, text_read or "", text_confirmed, country, _now()),
        )
        return int(cur.lastrowid)

    def _insert_chars(self, conn, plate_id: int, rows: Sequence["_CharRow"], model_version: str | None) -> list[int]:
        now, ids = _now(), []
        for idx, r in enumerate(rows):
            cur = conn.execute(
                "INSERT INTO chars (plate_id, idx, line, x, y, w, h, crop, pred_char, pred_conf, topk, model_version, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    plate_id, idx, r.line, r.box.x, r.box.y, r.box.w, r.box.h, r.png, r.pred_char, r.pred_conf,
                    r.topk, model_version if r.pred_char is not None else None, now,
                ),
            )
            ids.append(int(cur.lastrowid))
        return ids

    def _char_count(self, conn, plate_id: int) -> int:
        return int(conn.execute(
            "SELECT COUNT(*) FROM chars WHERE plate_id = ? AND retired_by_action IS NULL", (plate_id,)
        ).fetchone()[0])

    def _action(self, conn, kind: str, plate_id=None, author=None, prev_text=None, new_text=None, detail=None) -> int:
        cur = conn.execute(
            "INSERT INTO actions (kind, plate_id, prev_text, new_text, author, created_at, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (kind, plate_id, prev_text, new_text, author, _now(), None if detail is None else json.dumps(detail)),
        )
        return int(cur.lastrowid)

    def _insert_label(self, conn, char_id: int, label: str, source: str, author, action_id: int) -> int:
        label = _check_label(label)
        cur = conn.execute(
            "INSERT INTO labels (char_id, label, source, author, action_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (char_id, label, source, author, action_id, _now()),
        )
        new = int(cur.lastrowid)
        conn.execute(
            "UPDATE labels SET superseded_by = ? WHERE char_id = ? AND id <> ? AND superseded_by IS NULL AND undone_at IS NULL",
            (new, char_id, new),
        )
        return new

    def _relink(self, conn, char_id: int) -> None:
        """Point each live label of a character at the next live one; the last live one is effective."""
        conn.execute(
            "UPDATE labels SET superseded_by = (SELECT MIN(n.id) FROM labels n WHERE n.char_id = labels.char_id "
            "AND n.id > labels.id AND n.undone_at IS NULL) WHERE char_id = ? AND undone_at IS NULL",
            (char_id,),
        )


# --- helpers -----------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _prepare_folder(folder: Path, db: Path) -> None:
    """Create the data folder, refusing with a clear message when the database could not be written.

    Checked before SQLite opens anything, so a read-only folder is left exactly as it was.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StoreError(f"the data folder {folder} is a file, not a folder; set {DATA_DIR_ENV} or --data-dir to a folder") from None
    except OSError as exc:
        raise StoreError(
            f"cannot create the data folder {folder} ({exc.strerror or exc}); set {DATA_DIR_ENV} or --data-dir to a writable folder"
        ) from None
    # SQLite writes the -wal and -shm files beside the database, so the folder itself must be writable.
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(
            f"the data folder {folder} is not writable, and the label database needs to write {DB_NAME} and its "
            f"journal there; fix its permissions or set {DATA_DIR_ENV} or --data-dir to a writable folder"
        )
    if db.exists() and not os.access(db, os.R_OK | os.W_OK):
        raise StoreError(f"the label database {db} is read-only; fix its permissions or set --data-dir to another folder")


def _check_label(label) -> str:
    """A class name of ALL_CLASSES; lower-case letters are accepted as their capitals."""
    text = str(label).strip().upper() if isinstance(label, str) else label
    if text not in ALL_CLASSES:
        raise StoreError(
            f"{label!r} is not a character class; a label is one of 0-9, A-Z, or {REJECT!r} for a segment "
            "that is not a character"
        )
    return text


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise StoreError(f"unknown label source {source!r}; choose one of {', '.join(SOURCES)}")


_SEPARATORS = re.compile(r"[\s\-.·]")


def _plate_text(text) -> str:
    """Plate text as stored: upper case without spaces, dashes or dots; "_" marks a non-character."""
    cleaned = _SEPARATORS.sub("", str(text)).upper()
    if not cleaned:
        raise StoreError(f"plate text {text!r} is empty; type the characters of the plate, e.g. ABC1234")
    bad = sorted(set(cleaned) - set(ALL_CLASSES))
    if bad:
        raise StoreError(
            f"plate text {text!r} has {''.join(bad)!r}, which are not plate characters; use 0-9, A-Z "
            f"and {REJECT!r} for a segment that is not a character"
        )
    return cleaned


def _rgb(image) -> np.ndarray:
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise StoreError(f"photos are stored from uint8 RGB arrays; got dtype {array.dtype}: load them with alpr.imageio.load_image")
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise StoreError(f"photos are stored from (H, W, 3) RGB arrays; got shape {array.shape}")
    return np.ascontiguousarray(array)


@dataclass
class _Photo:
    image: np.ndarray
    sha256: str
    name: str
    encoded: bytes | None  # the PNG, encoded before the write lock is taken unless already stored

    @classmethod
    def of(cls, image, name: str, has_photo: Callable[[str], bool]) -> "_Photo":
        rgb = _rgb(image)
        h, w = rgb.shape[:2]
        digest = hashlib.sha256(f"{h}x{w}x3:".encode() + rgb.tobytes()).hexdigest()
        photo = cls(rgb, digest, str(name), None)
        if not has_photo(digest):
            photo.encoded = photo.png()
        return photo

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    def png(self) -> bytes:
        img = Image.fromarray(self.image)
        if max(img.size) > PHOTO_MAX_SIDE:
            f = PHOTO_MAX_SIDE / max(img.size)
            img = img.resize((max(1, round(img.width * f)), max(1, round(img.height * f))), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        img.save(buffer, format="PNG")
        return buffer.getvalue()


@dataclass(frozen=True)
class _CharRow:
    line: int
    box: Box  # photo pixels
    png: bytes
    pred_char: str | None
    pred_conf: float | None
    topk: str | None


def _char_rows(chars: Sequence[CharCrop], crop_box: Box, predictions: Sequence[Prediction] | None) -> list[_CharRow]:
    """Character rows ready to insert: boxes moved from crop to photo pixels, crops encoded."""
    if predictions is not None and len(predictions) != len(chars):
        raise StoreError(f"got {len(chars)} character crops but {len(predictions)} predictions; they must pair up")
    rows = []
    for i, c in enumerate(chars):
        p = predictions[i] if predictions is not None else None
        rows.append(
            _CharRow(
                c.line,
                c.box.shifted(crop_box.x, crop_box.y),
                _encode_crop(c.image),
                _check_label(p.char) if p else None,
                float(p.confidence) if p else None,
                json.dumps([[k, round(float(v), 6)] for k, v in p.topk]) if p else None,
            )
        )
    return rows


def _encode_crop(image: np.ndarray) -> bytes:
    grey = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
    buffer = io.BytesIO()
    Image.fromarray((grey * 255 + 0.5).astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


# Crops are 32x32; anything near this size is not a character crop (and might be a decompression bomb).
_MAX_CROP_PIXELS = 1024 * 1024


def _decode_crop(png: bytes, size: int | None) -> np.ndarray:
    """A stored or imported crop as float32 in [0, 1], resized to size x size when it differs."""
    try:
        # PNG only: imported crops are untrusted, and Pillow's rarer parsers need not see them.
        img = Image.open(io.BytesIO(png), formats=("PNG",))
        if img.width * img.height > _MAX_CROP_PIXELS:
            raise StoreError(f"a {img.width}x{img.height} image is too large for a character crop")
        img.load()
    except StoreError:
        raise
    except Exception as exc:  # Pillow raises many types for a damaged file; all mean "not a crop"
        raise StoreError(f"not a readable PNG crop ({type(exc).__name__}: {exc})") from None
    img = img.convert("L")
    if size is None:
        size = 32 if img.size == (32, 32) else None
        if size is None:
            from alpr.config import DEFAULT

            size = DEFAULT.classify.input_size
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img, np.float32) / 255.0


def _recut(grey: np.ndarray, scale: float, box: Box, size: int) -> np.ndarray:
    """The classifier's input for `box` (original photo pixels) cut from the stored grey photo."""
    from alpr.segment import normalize_crop

    x0, y0 = int(np.floor(box.x * scale)), int(np.floor(box.y * scale))
    x1, y1 = int(np.ceil(box.x2 * scale)), int(np.ceil(box.y2 * scale))
    return normalize_crop(grey, Box(x0, y0, max(1, x1 - x0), max(1, y1 - y0)), size)


def _ink_is_light(grey: np.ndarray, scale: float, rows: Sequence[sqlite3.Row]) -> bool:
    """Whether the plate's glyphs are lighter than its background.

    Stored crops are dark glyphs on light whichever way the plate is printed (the segmentation
    inverts light-on-dark plates): cut the replaced rows' own boxes again and see which way round
    they match their stored crops.
    """
    score = 0.0
    for r in rows:
        stored = _decode_crop(r["crop"], None)
        again = _recut(grey, scale, Box(r["x"], r["y"], r["w"], r["h"]), stored.shape[0]).ravel()
        a, b = stored.ravel() - stored.mean(), again - again.mean()
        score += float(a @ b)
    return score < 0


def _stored_char(r: sqlite3.Row) -> StoredChar:
    topk = tuple((k, float(v)) for k, v in json.loads(r["topk"])) if r["topk"] else ()
    return StoredChar(
        r["id"], r["plate_id"], r["idx"], r["line"], Box(r["x"], r["y"], r["w"], r["h"]), _decode_crop(r["crop"], None),
        r["pred_char"], r["pred_conf"], topk, r["model_version"], r["label"], r["source"], r["author"],
    )


def _stored_plate(r: sqlite3.Row) -> StoredPlate:
    box = Box(r["x"], r["y"], r["w"], r["h"]) if r["x"] is not None else None
    return StoredPlate(
        r["id"], r["photo_id"], r["name"], box, r["text_read"], r["text_confirmed"], r["country"], r["created_at"],
        r["characters"], r["labeled"], r["not_a_plate_at"] is not None,
    )


def _labels_csv(rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "label", "source", "plate_id"])
    for rel, label, source, plate_id, _ in rows:
        writer.writerow([rel, label, source, plate_id])
    return buffer.getvalue()


def _export_result(rows) -> ExportResult:
    per_class = dict.fromkeys(ALL_CLASSES, 0)
    for _, label, _, _, _ in rows:
        per_class[label] += 1
    return ExportResult(len(rows), per_class)


def _add_results(total: ImportResult, part: ImportResult) -> None:
    for name in ("plates", "matched", "unmatched", "characters", "skipped"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.failed += part.failed


# --- CSV and zip input -------------------------------------------------------------------------


def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            return [h.strip().lower() for h in next(csv.reader(fh), [])]
    except (OSError, csv.Error) as exc:
        raise StoreError(f"cannot read {path} ({getattr(exc, 'strerror', None) or exc}); is it a CSV file?") from None


def _csv_kind(path: Path) -> str | None:
    header = set(_csv_header(path))
    if {"path", "label"} <= header:
        return "chars"
    if {"image_path", "plate_text"} <= header:
        return "plates"
    if {"file", "plate"} <= header:
        return "openalpr"
    return None


def _csv_rows(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            reader = csv.reader(fh)
            header = [h.strip().lower() for h in next(reader, [])]
            return [dict(zip(header, row)) for row in reader if any(cell.strip() for cell in row)]
    except (OSError, csv.Error) as exc:
        raise StoreError(f"cannot read {path} ({exc}); is it a CSV file?") from None


def _relative_name(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.name


def _check_inside(path: Path, root: Path | None) -> None:
    """Files named by an extracted archive must stay inside it: an archive is untrusted input."""
    if root is None:
        return
    resolved, top = path.resolve(), root.resolve()
    if resolved != top and top not in resolved.parents:
        raise StoreError(f"{path} is outside the archive; archives may only name files inside them")


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if "\0" in name:
        return "has a NUL byte in its name"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in re.split(r"[/\\]", name):
        return "climbs out of the folder with '..'"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    return None


def _safe_extract(zip_path: Path, dest: Path, max_bytes: int | None = None, max_members: int | None = None) -> None:
    """Extract `zip_path` into `dest` after checking every member: no absolute paths, no '..',
    no links, at most ZIP_MAX_MEMBERS members and ZIP_MAX_BYTES unpacked. Nothing is written when
    a check fails."""
    max_bytes = ZIP_MAX_BYTES if max_bytes is None else max_bytes
    max_members = ZIP_MAX_MEMBERS if max_members is None else max_members
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise StoreError(f"{zip_path} is not a readable zip file ({exc}); export it again") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > max_members:
            raise StoreError(f"{zip_path} holds {len(infos)} files, more than the limit of {max_members}; split it")
        total = 0
        for info in infos:
            problem = _member_problem(info)
            if problem:
                raise StoreError(f"{zip_path} was refused: member {info.filename!r} {problem}; archives may only hold files inside one folder")
            total += info.file_size
        if total > max_bytes:
            raise StoreError(
                f"{zip_path} would unpack to {total / 2**20:.0f} MB, more than the limit of {max_bytes / 2**20:.0f} MB; "
                "split it into smaller archives"
            )
        try:
            for info in infos:
                target = dest.joinpath(*[p for p in re.split(r"[/\\]", info.filename) if p not in ("", ".")])
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                # ZipExtFile stops at the size the header declares, which the total above counted.
                with archive.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as exc:
            raise StoreError(f"{zip_path} is damaged ({exc}); export it again") from None
