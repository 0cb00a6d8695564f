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

This module holds the connection, transactions and migrations, adding, labeling and undo; the
rest of `LabelStore` comes from mixins beside it: `queries` (reading), `resegment` (merge and
split), `transfer` (import and export), `watch` (the watch list); `schema` has the tables, `rows`
the row codecs, `results` the records returned, `archives` the CSV and zip checks.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from alpr.errors import StoreError
from alpr.labels.queries import Queries
from alpr.labels.resegment import SegmentFixes
from alpr.labels.results import ExportResult, ImportResult, PlateLabelResult, StoredChar, StoredPlate, Undone
from alpr.labels.rows import CharRow, PhotoRow, char_rows, check_label, check_source, clean_plate_text, utc_now
from alpr.labels.history import HistoryQueries
from alpr.labels.schema import DB_NAME, MIGRATIONS, SCHEMA_VERSION
from alpr.labels.transfer import ImportExport
from alpr.labels.watch import WatchListStore
from alpr.paths import DATA_DIR_ENV
from alpr.paths import data_dir as data_dir_of
from alpr.types import REJECT, Box, Recognition

# A long import or a training run holds the write lock for one plate at a time (milliseconds);
# 10 s only runs out when another process is stuck.
BUSY_TIMEOUT_S = 10.0
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


# --- the store ---------------------------------------------------------------------------------


class LabelStore(Queries, SegmentFixes, ImportExport, HistoryQueries, WatchListStore):
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
            raise StoreError(
                f"cannot open the label database {self.path} ({exc}); set {DATA_DIR_ENV} or --data-dir to a writable folder"
            ) from None
        self._conn.row_factory = sqlite3.Row
        try:
            self._setup()
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(cls, data_dir: str | os.PathLike | None = None) -> "LabelStore":
        """The store in `data_dir`, else $ALPR_DATA_DIR, else ./data; the folder is created if missing."""
        return cls(data_dir_of(data_dir))

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
            return StoreError(
                f"the label database {self.path} is damaged ({text}); restore it from an export or backup"
            )
        return StoreError(f"the label database {self.path} failed: {text}")

    # --- adding photos and plates -------------------------------------------------------------

    def add_recognition(self, image: np.ndarray, rec: Recognition, name: str, model_version: str) -> list[int]:
        """Store a photo and every plate `recognize` read in it, with the model's guesses as labels.

        One transaction: the photo, its plates, their characters and the model labels are all
        stored or none is. The photo is stored once however often it is added (by pixel hash), and a
        plate already stored for this photo at the same box is not stored again, so re-running the
        app's page on the same upload adds nothing. Returns the plate ids, best plate first.
        """
        photo = PhotoRow.of(image, name, self._has_photo)
        plates = [(p, char_rows(p.chars, p.crop_box, p.predictions)) for p in rec.plates]
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
        text = clean_plate_text(plate_text)
        check_source(source)
        if classifier is None and box is None and not plate_crop:
            from alpr.pipeline import default_classifier

            classifier = default_classifier()
        photo = PhotoRow.of(image, name, self._has_photo)
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
                        existing,
                        found == len(text),
                        found,
                        text,
                        False,
                        f"plate {existing} is already stored as {text}",
                    )
                return self._label_plate(conn, existing, text, source, author)
            plate_id = self._insert_plate(conn, photo_id, plate_box, text_read, None, country)
            char_ids = self._insert_chars(conn, plate_id, rows, model_version)
            if any(r.pred_char is not None for r in rows):
                action_id = self._action(conn, "recognition", plate_id)
                for char_id, row in zip(char_ids, rows):
                    self._insert_label(conn, char_id, row.pred_char, "model", None, action_id)
            result = self._label_plate(conn, plate_id, text, source, author)
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
            return read.box, char_rows(read.chars, read.crop_box, read.predictions), read.plate
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
        return plate_box, char_rows(chars, crop_box, predictions), text_read

    # --- labeling ------------------------------------------------------------------------------

    def set_label(self, char_id: int, label: str, author: str | None = None, source: str = "person") -> int:
        """Label one character; the previous label is kept as history. Returns the new label's id."""
        label = check_label(label)
        check_source(source)
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

    def label_plate(
        self, plate_id: int, text: str, author: str | None = None, source: str = "person"
    ) -> PlateLabelResult:
        """Label every character of a plate from its text, in one transaction.

        Characters are labeled only when the plate was cut into exactly len(text) segments ("_"
        stands for a segment that is not a character): a mismatch means some boxes are wrong, and
        labeling them by position would teach the model wrong letters. Then only the plate's text is
        kept (the plate memory and the format statistics learn from it) and the result says so.
        """
        text = clean_plate_text(text)
        check_source(source)
        with self._write() as conn:
            return self._label_plate(conn, int(plate_id), text, source, author)

    def _label_plate(self, conn, plate_id: int, text: str, source: str, author: str | None) -> PlateLabelResult:
        plate = conn.execute("SELECT text_confirmed FROM plates WHERE id = ?", (plate_id,)).fetchone()
        if plate is None:
            raise StoreError(f"no plate with id {plate_id} in {self.path}")
        char_ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM chars WHERE plate_id = ? AND retired_by_action IS NULL ORDER BY idx", (plate_id,)
            )
        ]
        confirmed = text.replace(REJECT, "")
        if len(char_ids) != len(text):
            # The person's text is the plate's truth even where the cut is wrong: it is kept (one
            # undoable action) for the plate memory and the format statistics, but labeling the
            # segments by position would teach the model wrong letters, so none is labeled.
            if confirmed and confirmed != plate["text_confirmed"]:
                self._action(
                    conn,
                    _ACTION_KIND[source][1],
                    plate_id,
                    author,
                    prev_text=plate["text_confirmed"],
                    new_text=confirmed,
                )
                conn.execute("UPDATE plates SET text_confirmed = ? WHERE id = ?", (confirmed, plate_id))
            return PlateLabelResult(
                plate_id,
                False,
                len(char_ids),
                text,
                False,
                f"plate {plate_id} was cut into {len(char_ids)} segments but {text!r} has {len(text)} characters; "
                f"its text is kept as {confirmed}, but no character was labeled: fix the cut, or label its "
                'characters one by one ("_" for a segment that is not a character)',
            )
        action_id = self._action(
            conn, _ACTION_KIND[source][1], plate_id, author, prev_text=plate["text_confirmed"], new_text=confirmed
        )
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
                raise StoreError(
                    f"the latest change is no longer the one shown (action {action_id}): nothing was undone; look again"
                )
            if action["kind"] in ("merge", "split"):
                restored = self._undo_resegment(conn, action)
                conn.execute("UPDATE actions SET undone_at = ? WHERE id = ?", (utc_now(), action["id"]))
                return Undone(action["id"], action["kind"], action["plate_id"], restored, (), action["author"])
            rows = conn.execute(
                "SELECT l.char_id, l.label FROM labels l JOIN chars c ON c.id = l.char_id "
                "WHERE l.action_id = ? ORDER BY c.idx",
                (action["id"],),
            ).fetchall()
            now = utc_now()
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
                action["id"],
                action["kind"],
                action["plate_id"],
                tuple(r["char_id"] for r in rows),
                tuple(r["label"] for r in rows),
                action["author"],
            )

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
                (str(model_version), utc_now(), int(last_label_id)),
            )
            return int(cur.lastrowid)

    def last_label_id(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM labels").fetchone()[0])

    # --- row writers (called inside _write) ----------------------------------------------------

    def _has_photo(self, digest: str) -> bool:
        with self._read() as conn:
            return conn.execute("SELECT 1 FROM photos WHERE sha256 = ?", (digest,)).fetchone() is not None

    def _insert_photo(self, conn, photo: "PhotoRow") -> int:
        row = conn.execute("SELECT id FROM photos WHERE sha256 = ?", (photo.sha256,)).fetchone()
        if row is not None:
            return int(row[0])
        cur = conn.execute(
            "INSERT INTO photos (sha256, width, height, name, png, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (photo.sha256, photo.width, photo.height, photo.name, photo.encoded or photo.png(), utc_now()),
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
            (photo_id, x, y, w, h, text_read or "", text_confirmed, country, utc_now()),
        )
        return int(cur.lastrowid)

    def _insert_chars(self, conn, plate_id: int, rows: Sequence["CharRow"], model_version: str | None) -> list[int]:
        now, ids = utc_now(), []
        for idx, r in enumerate(rows):
            cur = conn.execute(
                "INSERT INTO chars (plate_id, idx, line, x, y, w, h, crop, pred_char, pred_conf, topk, model_version, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    plate_id,
                    idx,
                    r.line,
                    r.box.x,
                    r.box.y,
                    r.box.w,
                    r.box.h,
                    r.png,
                    r.pred_char,
                    r.pred_conf,
                    r.topk,
                    model_version if r.pred_char is not None else None,
                    now,
                ),
            )
            ids.append(int(cur.lastrowid))
        return ids

    def _char_count(self, conn, plate_id: int) -> int:
        return int(
            conn.execute(
                "SELECT COUNT(*) FROM chars WHERE plate_id = ? AND retired_by_action IS NULL", (plate_id,)
            ).fetchone()[0]
        )

    def _action(self, conn, kind: str, plate_id=None, author=None, prev_text=None, new_text=None, detail=None) -> int:
        cur = conn.execute(
            "INSERT INTO actions (kind, plate_id, prev_text, new_text, author, created_at, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (kind, plate_id, prev_text, new_text, author, utc_now(), None if detail is None else json.dumps(detail)),
        )
        return int(cur.lastrowid)

    def _insert_label(self, conn, char_id: int, label: str, source: str, author, action_id: int) -> int:
        label = check_label(label)
        cur = conn.execute(
            "INSERT INTO labels (char_id, label, source, author, action_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (char_id, label, source, author, action_id, utc_now()),
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


def _prepare_folder(folder: Path, db: Path) -> None:
    """Create the data folder, refusing with a clear message when the database could not be written.

    Checked before SQLite opens anything, so a read-only folder is left exactly as it was.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StoreError(
            f"the data folder {folder} is a file, not a folder; set {DATA_DIR_ENV} or --data-dir to a folder"
        ) from None
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
        raise StoreError(
            f"the label database {db} is read-only; fix its permissions or set --data-dir to another folder"
        )
