"""Getting labels in and out of the label store: export as a folder or zip of crops with
`labels.csv`, and import of OpenALPR benchmark folders, exports, plate CSVs and zips of them."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np

from alpr.errors import AlprError, StoreError
from alpr.labels.archives import check_inside, csv_header, csv_kind, csv_rows, relative_name, safe_extract
from alpr.labels.results import ExportResult, ImportResult
from alpr.labels.rows import check_label, check_source, decode_crop, encode_crop, utc_now
from alpr.types import ALL_CLASSES


class ImportExport:
    """The import and export methods of `LabelStore` (a mixin: it uses the store's transactions)."""

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
            raise StoreError(
                f"cannot export to {out}: the folder is not empty and is not an earlier export; give a new or empty folder"
            )
        rows = self._export_rows()
        try:
            out.mkdir(parents=True, exist_ok=True)  # labels.csv is written even when nothing is labeled
            for rel, label, _, _, png in rows:
                target = out / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(png)
            # labels.csv last, through a rename: a half-written export has no labels.csv to mislead.
            tmp = out / "labels.csv.tmp"
            tmp.write_text(labels_csv(rows), encoding="utf-8")
            os.replace(tmp, out / "labels.csv")
        except OSError as exc:
            raise StoreError(
                f"cannot write the export to {out} ({exc.strerror or exc}); check the folder's permissions and free space"
            ) from None
        return export_result(rows)

    def export_zip(self, target: str | os.PathLike | BinaryIO) -> ExportResult:
        """The export of `export_dataset` as one zip, to a path or a binary file-like (BytesIO for
        a download button). Member names are relative: `labels.csv` and `CLASS/ID.png`."""
        rows = self._export_rows()

        def write(fh) -> None:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
                for rel, _, _, _, png in rows:
                    zf.writestr(rel, png, compress_type=zipfile.ZIP_STORED)  # PNG is compressed already
                zf.writestr("labels.csv", labels_csv(rows))

        if isinstance(target, (str, os.PathLike)):
            path = Path(target)
            tmp = path.with_name(path.name + ".tmp")
            try:
                with open(tmp, "wb") as fh:
                    write(fh)
                os.replace(tmp, path)
            except OSError as exc:
                raise StoreError(
                    f"cannot write {path} ({exc.strerror or exc}); check the folder exists and is writable"
                ) from None
        else:
            write(target)
        return export_result(rows)

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
        check_source(source)
        p = Path(path)
        if not p.exists():
            raise StoreError(f"nothing to import at {p}: no such file or folder")
        if p.is_file() and p.suffix.lower() == ".zip":
            with tempfile.TemporaryDirectory(prefix="alpr-import-") as tmp:
                root = Path(tmp)
                safe_extract(p, root)
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
        if labels.is_file() and csv_kind(labels) in ("chars", "plates"):
            return self._import_csv(labels, root, classifier, progress, source)
        if not labels.is_file():
            plate_csvs = [c for c in sorted(folder.glob("*.csv")) if csv_kind(c) == "plates"]
            if plate_csvs:
                total = ImportResult()
                for c in plate_csvs:
                    add_results(total, self._import_csv(c, root, classifier, progress, source))
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

        kind = csv_kind(path)
        if kind == "chars":
            return self._import_chars(path, root, progress)
        columns = {"plates": ("image_path", "plate_text"), "openalpr": ("file", "plate")}.get(kind)
        if columns is None:
            raise StoreError(
                f"{path} has columns {csv_header(path)}; expected path,label (an `alpr labels export`), "
                "image_path,plate_text (plate crops) or file,plate (OpenALPR plate crops)"
            )
        items = []
        for row in csv_rows(path):
            file, text = ((row.get(c) or "").strip() for c in columns)
            if file:
                items.append(LabeledPlate(path.parent / file, normalize_plate(text), None, path.parent.name))
        return self._import_plates(items, path.parent, root, classifier, progress, source)

    def _import_plates(self, items, base: Path, root, classifier, progress, source) -> ImportResult:
        from alpr.imageio import load_image

        result = ImportResult()
        for n, item in enumerate(items):
            if progress:
                progress(n, len(items))
            name = relative_name(item.path, base)
            try:
                check_inside(item.path, root)
                if not item.plate:
                    raise StoreError(f"{name} has no plate text")
                image = load_image(item.path, name=name)  # its messages name the file
            except AlprError as exc:
                result.failed.append(str(exc))
                continue
            country = item.country()
            done = self.add_labeled_plate(
                image,
                item.plate,
                box=item.box,
                plate_crop=item.box is None,
                country=country,
                classifier=classifier,
                name=name,
                source=source,
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
        for n, row in enumerate(csv_rows(path)):
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
                    check_inside(file, root)
                    label = check_label(row.get("label") or "")
                    png = file.read_bytes()
                    crops.append((label, decode_crop(png, None)))
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
        pngs = [encode_crop(image) for _, image in crops]
        digest = hashlib.sha256()
        for (label, _), png in zip(crops, pngs):
            digest.update(label.encode() + b"\0" + hashlib.sha256(png).digest())
        key = digest.hexdigest()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM plates WHERE import_key = ?", (key,)).fetchone():
                return False
            cur = conn.execute(
                "INSERT INTO plates (photo_id, text_read, import_key, created_at) VALUES (NULL, '', ?, ?)",
                (key, utc_now()),
            )
            plate_id = cur.lastrowid
            action_id = self._action(conn, "import", plate_id)
            now = utc_now()
            for idx, ((label, image), png) in enumerate(zip(crops, pngs)):
                char = conn.execute(
                    "INSERT INTO chars (plate_id, idx, line, x, y, w, h, crop, created_at) VALUES (?, ?, 0, 0, 0, ?, ?, ?, ?)",
                    (plate_id, idx, image.shape[1], image.shape[0], png, now),
                )
                self._insert_label(conn, char.lastrowid, label, "import", None, action_id)
        return True


def labels_csv(rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "label", "source", "plate_id"])
    for rel, label, source, plate_id, _ in rows:
        writer.writerow([rel, label, source, plate_id])
    return buffer.getvalue()


def export_result(rows) -> ExportResult:
    per_class = dict.fromkeys(ALL_CLASSES, 0)
    for _, label, _, _, _ in rows:
        per_class[label] += 1
    return ExportResult(len(rows), per_class)


def add_results(total: ImportResult, part: ImportResult) -> None:
    for name in ("plates", "matched", "unmatched", "characters", "skipped"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.failed += part.failed
