"""What a batch reads: the INPUT arguments expanded into one ordered list of photo paths.

    a folder     every image file under it, recursively, hidden files and folders skipped, by path
    a list file  (.txt, .lst, .list) one path or file:// URI per line; blank lines and # comments
                 skipped; relative paths are relative to the list file's folder
    anything else  kept as given: a missing or unreadable file becomes a row with its error

Paths are made absolute, so a resumed run (perhaps from another folder) recognizes what it did,
and every worker of a cluster is given the same path. Repeats are dropped, first one kept.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from alpr.errors import AlprError
from alpr.imageio import IMAGE_TYPES

LIST_SUFFIXES = (".txt", ".lst", ".list")


class BatchInputError(AlprError):
    """An INPUT of `alpr batch` names nothing readable: an empty folder, a list without paths, a URI
    scheme other than file://."""


def expand_inputs(inputs: list[str]) -> list[str]:
    out: dict[str, None] = {}  # an ordered set
    for item in inputs:
        for path in _expand_one(item):
            out.setdefault(path, None)
    if not out:
        raise BatchInputError(f"no photos to read in {' '.join(inputs)}")
    return list(out)


def _expand_one(item: str) -> list[str]:
    path = Path(from_uri(item)).expanduser()
    if path.is_dir():
        found = [str(p) for p in _images_under(path.resolve())]
        if not found:
            raise BatchInputError(f"no image files under the folder {item} (looked for .{', .'.join(IMAGE_TYPES)})")
        return found
    if path.suffix.lower() in LIST_SUFFIXES and path.is_file():
        return _read_list(path)
    return [str(path.absolute())]


def from_uri(text: str) -> str:
    """A path for a path or a file:// URI; any other scheme is refused (no downloader here)."""
    if "://" not in text:
        return text
    parsed = urlparse(text)
    if parsed.scheme != "file":
        raise BatchInputError(
            f"{text}: only local paths and file:// URIs are read; copy or mount {parsed.scheme}:// data first"
        )
    return unquote(parsed.path)


def _images_under(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [
            Path(root) / f for f in files if not f.startswith(".") and Path(f).suffix.lower().lstrip(".") in IMAGE_TYPES
        ]
    return sorted(found)


def _read_list(list_file: Path) -> list[str]:
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchInputError(f"cannot read the list file {list_file}: {exc}") from None
    out = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        path = Path(from_uri(line)).expanduser()
        out.append(str(path if path.is_absolute() else (list_file.parent / path).absolute()))
    if not out:
        raise BatchInputError(f"the list file {list_file} names no photos (one path or file:// URI per line)")
    return out
