"""`python -m alpr watchlist ...`: the watch list from the command line.

    watchlist add PLATE [--name N] [--alert]   list a plate (or change a listed one's name and alert)
    watchlist remove PLATE                     take a plate off the list
    watchlist list [--json]                    every listed plate
    watchlist import CSV [--replace]           plate,name,alert rows: merged, or the whole list with --replace
    watchlist export [CSV]                     the list as plate,name,alert (standard output without CSV)

A CSV with a bad row imports nothing and names every bad line (alpr.watchlist.parse_csv).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from alpr.cli.argtypes import command_with_actions
from alpr.errors import WatchlistError
from alpr.paths import DATA_DIR_ENV, DEFAULT_DATA_DIR
from alpr.watchlist import normalise, parse_csv, to_csv


def register(subparsers) -> argparse.ArgumentParser:
    data_help = f"folder of the label database that keeps the list (default: ${DATA_DIR_ENV}, else {DEFAULT_DATA_DIR}/)"
    command, action = command_with_actions(
        subparsers,
        "watchlist",
        "watchlist_command",
        data_help,
        help="known plates: a read that matches one says so in every output",
        description="Known plates with a name and an alert flag. A read matches a listed plate up to "
        "look-alike characters (O/0, I/1, B/8, S/5, Z/2) and one further edit (settings watchlist.*).",
    )
    add = action("add", "list a plate, or change the name and alert of a listed one")
    add.add_argument("plate", metavar="PLATE", help="the plate's characters; spaces and dashes are ignored")
    add.add_argument("--name", default="", help="who or what it is, shown with every match")
    add.add_argument("--alert", action="store_true", help="a sighting raises an alert (sent by the webhooks)")
    remove = action("remove", "take a plate off the list")
    remove.add_argument("plate", metavar="PLATE")
    listing = action("list", "every listed plate")
    listing.add_argument("--json", action="store_true", help="print one JSON array")
    imp = action("import", "add the rows of a plate,name,alert CSV (nothing at all when a row is bad)")
    imp.add_argument(
        "csv", metavar="CSV", help="a CSV file with a plate column, and optionally name and alert (yes/no)"
    )
    imp.add_argument("--replace", action="store_true", help="make the list exactly the file's plates")
    exp = action("export", "write the list as plate,name,alert CSV")
    exp.add_argument("csv", metavar="CSV", nargs="?", default=None, help="file to write (default: standard output)")
    command.set_defaults(handler=run)
    return command


def run(args: argparse.Namespace) -> int:
    from alpr.labels.store import LabelStore

    with LabelStore.open(getattr(args, "data_dir", None)) as store:
        return _ACTIONS[args.watchlist_command](store, args)


def _add(store, args) -> int:
    new = store.watch_add(args.plate, args.name, args.alert)
    listed = next(e for e in store.watchlist() if e.plate == normalise(args.plate))
    print(f"{'listed' if new else 'updated'} {_describe(listed)}")
    return 0


def _remove(store, args) -> int:
    if not store.watch_remove(args.plate):
        raise WatchlistError(f"{normalise(args.plate)} is not on the watch list; `watchlist list` shows what is")
    print(f"removed {normalise(args.plate)}")
    return 0


def _list(store, args) -> int:
    entries = store.watchlist()
    if args.json:
        print(json.dumps([{"plate": e.plate, "name": e.name, "alert": e.alert} for e in entries]))
        return 0
    for e in entries:
        print(_describe(e))
    if not entries:
        print("the watch list is empty; add a plate with `python -m alpr watchlist add PLATE`", file=sys.stderr)
    return 0


def _import(store, args) -> int:
    path = Path(args.csv)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise WatchlistError(f"cannot read {path}: {exc.strerror or exc}") from None
    done = store.watch_import(parse_csv(text, source=str(path)), replace=args.replace)
    removed = f", {done.removed} removed" if args.replace else ""
    print(f"{path}: {done.added} added, {done.updated} updated, {done.unchanged} unchanged{removed}")
    return 0


def _export(store, args) -> int:
    text = to_csv(store.watchlist())
    if args.csv is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.csv).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise WatchlistError(f"cannot write {args.csv}: {exc.strerror or exc}") from None
    print(f"wrote {len(store.watchlist())} plates to {args.csv}", file=sys.stderr)
    return 0


def _describe(e) -> str:
    return f"{e.plate}\t{e.name or '-'}\t{'alert' if e.alert else 'no alert'}"


_ACTIONS = {"add": _add, "remove": _remove, "list": _list, "import": _import, "export": _export}
