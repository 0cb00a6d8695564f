"""The label database's tables, and the migrations that bring an older file up to date."""

from __future__ import annotations

import sqlite3
from typing import Callable

from alpr.errors import StoreError

DB_NAME = "labels.sqlite"


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


def migrate_to_1(conn: sqlite3.Connection) -> None:
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


def migrate_to_2(conn: sqlite3.Connection) -> None:
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


def migrate_to_3(conn: sqlite3.Connection) -> None:
    # Version 3: a person can say a detected "plate" is not a plate (grass, a sign): its crops leave
    # the review queue and the box is kept as a negative example for a plate verifier. NULL: a plate.
    conn.execute("ALTER TABLE plates ADD COLUMN not_a_plate_at TEXT")


def migrate_to_4(conn: sqlite3.Connection) -> None:
    # Version 4: the watch list, known plates a read is matched against (alpr/watchlist.py). One row
    # per plate, its text normalised (upper case letters and digits), so a plate is listed once.
    conn.execute(
        """CREATE TABLE watchlist (
            id INTEGER PRIMARY KEY,
            plate TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL DEFAULT '',
            alert INTEGER NOT NULL DEFAULT 0 CHECK (alert IN (0, 1)),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )


# MIGRATIONS[n] brings a database from schema version n to n + 1. Append only: a released
# migration never changes, because databases in the field have already run it. Migrations run in
# one transaction with foreign keys off, so that a table may be rebuilt (LabelStore._setup).
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    migrate_to_1,
    migrate_to_2,
    migrate_to_3,
    migrate_to_4,
)
SCHEMA_VERSION = len(MIGRATIONS)
