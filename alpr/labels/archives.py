"""Untrusted input files for an import: CSV headers and rows, and zip archives checked member by
member before anything is extracted."""

from __future__ import annotations

import csv
import re
import shutil
import stat
import zipfile
from pathlib import Path

from alpr.errors import StoreError

# Imported archives are unpacked to a temporary folder; these bound what an archive may claim.
ZIP_MAX_BYTES = 500 * 1024 * 1024
ZIP_MAX_MEMBERS = 200_000


def csv_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            return [h.strip().lower() for h in next(csv.reader(fh), [])]
    except (OSError, csv.Error) as exc:
        raise StoreError(f"cannot read {path} ({getattr(exc, 'strerror', None) or exc}); is it a CSV file?") from None


def csv_kind(path: Path) -> str | None:
    header = set(csv_header(path))
    if {"path", "label"} <= header:
        return "chars"
    if {"image_path", "plate_text"} <= header:
        return "plates"
    if {"file", "plate"} <= header:
        return "openalpr"
    return None


def csv_rows(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            reader = csv.reader(fh)
            header = [h.strip().lower() for h in next(reader, [])]
            return [dict(zip(header, row)) for row in reader if any(cell.strip() for cell in row)]
    except (OSError, csv.Error) as exc:
        raise StoreError(f"cannot read {path} ({exc}); is it a CSV file?") from None


def relative_name(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.name


def check_inside(path: Path, root: Path | None) -> None:
    """Files named by an extracted archive must stay inside it: an archive is untrusted input."""
    if root is None:
        return
    resolved, top = path.resolve(), root.resolve()
    if resolved != top and top not in resolved.parents:
        raise StoreError(f"{path} is outside the archive; archives may only name files inside them")


def member_problem(info: zipfile.ZipInfo) -> str | None:
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


def safe_extract(zip_path: Path, dest: Path, max_bytes: int | None = None, max_members: int | None = None) -> None:
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
            problem = member_problem(info)
            if problem:
                raise StoreError(
                    f"{zip_path} was refused: member {info.filename!r} {problem}; archives may only hold files inside one folder"
                )
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
