"""Reading the label store: the review queue, a plate's characters, counts, and the training set."""

from __future__ import annotations

import io
from typing import Iterator

import numpy as np
from PIL import Image

from alpr.errors import StoreError
from alpr.labels.results import StoredChar, StoredPlate, stored_char, stored_plate
from alpr.labels.rows import check_label, decode_crop, utc_now
from alpr.types import ALL_CLASSES, REJECT, Box

REVIEW_STATUSES = ("unreviewed", "corrected", "all")


class Queries:
    """The read-only methods of `LabelStore` (a mixin: it uses the store's read transactions)."""

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
            params.append(check_label(class_filter))
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
            return [stored_char(r) for r in conn.execute(query, params)]

    def plate_chars(self, plate_id: int) -> list[StoredChar]:
        """The characters of a plate in reading order."""
        with self._read() as conn:
            rows = conn.execute(self._CHAR_QUERY + " AND c.plate_id = ? ORDER BY c.idx", (int(plate_id),)).fetchall()
        return [stored_char(r) for r in rows]

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
        return [stored_plate(r) for r in rows]

    def plate(self, plate_id: int) -> StoredPlate:
        with self._read() as conn:
            row = conn.execute(self._PLATE_QUERY + " WHERE p.id = ?", (int(plate_id),)).fetchone()
        if row is None:
            raise StoreError(f"no plate with id {plate_id} in {self.path}")
        return stored_plate(row)

    def mark_not_a_plate(self, plate_id: int, not_a_plate: bool = True) -> None:
        """Say that a plate's box holds no plate (or, with False, that it does after all)."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE plates SET not_a_plate_at = ? WHERE id = ?", (utc_now() if not_a_plate else None, int(plate_id))
            )
            if not cur.rowcount:
                raise StoreError(f"no plate with id {plate_id} in {self.path}")

    def not_a_plate_boxes(self) -> list[tuple[int, Box]]:
        """(photo id, box) of every box a person marked not a plate: negatives for a plate verifier."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT photo_id, x, y, w, h FROM plates WHERE not_a_plate_at IS NOT NULL "
                "AND photo_id IS NOT NULL AND x IS NOT NULL ORDER BY id"
            ).fetchall()
        return [(r["photo_id"], Box(r["x"], r["y"], r["w"], r["h"])) for r in rows]

    def photo_image(self, photo_id: int) -> tuple[np.ndarray, float]:
        """The stored (downscaled) photo as RGB uint8, and its pixels per original photo pixel."""
        with self._read() as conn:
            row = conn.execute("SELECT png, width FROM photos WHERE id = ?", (int(photo_id),)).fetchone()
        if row is None:
            raise StoreError(f"no photo with id {photo_id} in {self.path}")
        image = np.array(Image.open(io.BytesIO(row["png"])).convert("RGB"))
        return image, image.shape[1] / row["width"]

    def taught_plates(self) -> Iterator[tuple[np.ndarray, Box, str, str, int, list[Box]]]:
        """(photo, plate box, confirmed text, country, plate id, glyph boxes) for every plate a
        person confirmed or corrected that has a photo and a box and is not marked "not a plate":
        what the plate memory (alpr/memory.py) remembers. The glyph boxes are the plate's live
        characters not labeled "not a character", in reading order. The photo is the stored,
        downscaled one and the boxes are scaled to it; each photo is decoded once."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, photo_id, x, y, w, h, text_confirmed, COALESCE(country, '') AS country FROM plates "
                "WHERE text_confirmed IS NOT NULL AND text_confirmed != '' AND photo_id IS NOT NULL "
                "AND x IS NOT NULL AND not_a_plate_at IS NULL ORDER BY photo_id, id"
            ).fetchall()
            glyphs: dict[int, list[tuple]] = {}
            for g in conn.execute(
                "SELECT c.plate_id, c.x, c.y, c.w, c.h FROM chars c LEFT JOIN current_labels l ON l.char_id = c.id "
                "WHERE c.retired_by_action IS NULL AND COALESCE(l.label, c.pred_char, '') != ? "
                "ORDER BY c.plate_id, c.idx",
                (REJECT,),
            ):
                glyphs.setdefault(g["plate_id"], []).append((g["x"], g["y"], g["w"], g["h"]))
        photo_id, image, scale = None, None, 1.0
        for row in rows:
            if row["photo_id"] != photo_id:
                photo_id = row["photo_id"]
                image, scale = self.photo_image(photo_id)
            box = _scaled(row["x"], row["y"], row["w"], row["h"], scale)
            boxes = [_scaled(*g, scale) for g in glyphs.get(row["id"], [])]
            yield image, box, row["text_confirmed"], row["country"], int(row["id"]), boxes

    def plate_box_photos(self) -> Iterator[tuple[int, np.ndarray, list[tuple[int, Box]], list[Box]]]:
        """(photo id, photo, [(plate id, box)] of plates a person confirmed, [boxes] a person marked
        "not a plate") for every stored photo with at least one of either: what the plate scorer
        (alpr/training/rank_step.py) learns from. The photo is the stored, downscaled one and the
        boxes are scaled to it."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, photo_id, x, y, w, h, not_a_plate_at IS NOT NULL AS rejected FROM plates "
                "WHERE photo_id IS NOT NULL AND x IS NOT NULL AND (not_a_plate_at IS NOT NULL OR "
                "(text_confirmed IS NOT NULL AND text_confirmed != '')) ORDER BY photo_id, id"
            ).fetchall()
        by_photo: dict[int, list] = {}
        for row in rows:
            by_photo.setdefault(int(row["photo_id"]), []).append(row)
        for photo_id, plates in by_photo.items():
            image, scale = self.photo_image(photo_id)
            confirmed = [
                (int(r["id"]), _scaled(r["x"], r["y"], r["w"], r["h"], scale)) for r in plates if not r["rejected"]
            ]
            rejected = [_scaled(r["x"], r["y"], r["w"], r["h"], scale) for r in plates if r["rejected"]]
            yield photo_id, image, confirmed, rejected

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
            last = conn.execute(
                "SELECT model_version, trained_at FROM training_runs ORDER BY id DESC LIMIT 1"
            ).fetchone()
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

    def training_plate_ids(self) -> np.ndarray:
        """The plate id of each row of `training_set`, in its order: fine-tuning holds out whole plates."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT c.plate_id FROM current_labels l JOIN chars c ON c.id = l.char_id "
                "WHERE l.source IN ('person', 'import') AND c.retired_by_action IS NULL ORDER BY l.id"
            ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def confirmed_plates(self) -> list[tuple[str, str]]:
        """(country or "", confirmed text) of every plate a person confirmed or corrected."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT COALESCE(country, ''), text_confirmed FROM plates "
                "WHERE text_confirmed IS NOT NULL AND text_confirmed != '' ORDER BY id"
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

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
            images[i] = decode_crop(row["crop"], size)
        labels = np.array([index[r["label"]] for r in rows], dtype=np.int64)
        corrected = np.array([r["pred_char"] is not None and r["pred_char"] != r["label"] for r in rows], dtype=bool)
        return images, labels, corrected


def _scaled(x: float, y: float, w: float, h: float, scale: float) -> Box:
    return Box(round(x * scale), round(y * scale), round(w * scale), round(h * scale))
