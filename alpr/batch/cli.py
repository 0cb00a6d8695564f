"""`python -m alpr batch INPUT... --out RESULTS`: `register(subparsers)` adds it, `run(args)` runs it."""

from __future__ import annotations

import argparse
import os

from alpr.cli.argtypes import add_runtime_option, whole_number
from alpr.assemble import COUNTRIES
from alpr.batch.engines import ENGINES


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "batch",
        help="read an archive of photos into Parquet or JSONL, locally or on a Dask cluster",
        description="One row per photo (path, size, plates, ms, error). See docs/batch.md.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="folders (read recursively), photo files, or .txt/.lst files listing paths or file:// URIs",
    )
    p.add_argument(
        "--out", required=True, metavar="RESULTS", help="RESULTS.parquet (a folder of part files) or RESULTS.jsonl"
    )
    p.add_argument("--engine", default="local", choices=ENGINES, help="local process pool (default) or Dask")
    p.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="a running Dask scheduler, e.g. tcp://scheduler:8786 (default: start a LocalCluster)",
    )
    p.add_argument(
        "--workers",
        type=whole_number(1),
        default=min(2, os.cpu_count() or 1),
        help="worker processes on this machine (ignored with --address: the cluster has its own)",
    )
    p.add_argument("--country", default="us", choices=sorted(COUNTRIES), help="plate formats to rank by")
    p.add_argument("--topn", type=whole_number(1), default=10, help="candidate strings per plate (default 10)")
    p.add_argument("--model", default=None, help="a .keras model or registry version (default: the active model)")
    add_runtime_option(p)
    p.add_argument("--resume", action="store_true", help="continue RESULTS: skip the photos it already holds")
    from alpr.webhooks.cli import add_options as add_webhook_options

    add_webhook_options(p)
    p.set_defaults(handler=run)
    return p


def run(args: argparse.Namespace) -> int:
    from alpr.batch.engines import import_dask, make_engine
    from alpr.batch.inputs import expand_inputs
    from alpr.batch.job import model_settings, run_batch
    from alpr.batch.writers import check_out

    # The cheap checks first, before TensorFlow loads: a typo costs a second, not a model load.
    make_engine(args.engine, args.workers, args.address)  # starts nothing: checks the options
    if args.engine == "dask":
        import_dask()
    paths = expand_inputs(args.inputs)
    check_out(args.out, args.resume)
    settings = model_settings(args.model, args.country, args.topn, args.runtime)
    from alpr.webhooks.cli import open_from_args

    hooks = open_from_args(args)
    try:
        summary = run_batch(
            args.inputs,
            args.out,
            settings,
            args.engine,
            args.workers,
            args.address,
            args.resume,
            paths=paths,
            on_rows=None if hooks is None else lambda rows: _send_rows(hooks, rows, args.country),
        )
    finally:
        if hooks is not None:
            hooks.finish()
    return 0 if summary.photos or summary.skipped else 1


def _send_rows(hooks, rows, country: str) -> None:
    """Queue each row read with a plate for the --webhook receivers, as its chunk is written."""
    from alpr.webhooks.reads import from_row

    for row in rows:
        if row.error is None and row.plates:
            hooks.send(lambda h: from_row(row, country, hooks.camera, h))  # noqa: B023 - called at once
