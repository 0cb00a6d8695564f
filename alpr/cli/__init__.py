"""`python -m alpr`: recognize photos, evaluate on labeled folders, train the model.

Every failure the user can cause ends in a one-line message on stderr and a non-zero exit status,
never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from alpr.cli.argtypes import add_runtime_option, whole_number
from alpr.assemble import COUNTRIES
from alpr.errors import AlprError
from alpr.paths import PROGRESS_ENV

_positive = whole_number(1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alpr", description="License-plate reader workbench.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rec = sub.add_parser("recognize", help="read the plates in photos")
    rec.add_argument(
        "images",
        nargs="+",
        metavar="IMAGE",
        help="photo files (JPEG, PNG, WebP, BMP, TIFF, GIF), or folders: the photos directly inside, by name; "
        "or video clips (MP4, MOV, WebM, MKV, AVI/MJPEG): one line per vehicle",
    )
    rec.add_argument("--country", default="us", choices=sorted(COUNTRIES), help="plate formats to rank by")
    rec.add_argument("--topn", type=_positive, default=10, help="candidate strings per plate (default 10)")
    rec.add_argument("--json", action="store_true", help="one OpenALPR-compatible JSON object per line per image")
    rec.add_argument("--plate-crop", action="store_true", help="each image is an already cropped plate")
    rec.add_argument(
        "--model",
        default=None,
        help="a .keras model or registry version (default: the active model, see `models list`)",
    )
    add_runtime_option(rec)
    from alpr.video import cli as video_cli

    video_cli.add_options(rec)
    from alpr.webhooks.cli import add_options as add_webhook_options

    add_webhook_options(rec)

    ev = sub.add_parser("eval", help="accuracy and speed on a labeled folder (OpenALPR benchmark layout)")
    ev.add_argument("dataset", metavar="DATASET_DIR", help="folder of NAME.txt + photos, or of labels.csv + crops")
    ev.add_argument("--country", default=None, choices=sorted(COUNTRIES), help="default: from the folder name, else us")
    ev.add_argument("--topn", type=_positive, default=10)
    ev.add_argument("--json", action="store_true", help="print the summary (and per-photo results) as JSON")
    ev.add_argument("--holdout", action="store_true", help="only the files the shipped model never trained on")
    ev.add_argument("--limit", type=_positive, default=None, help="read only the first N files")
    ev.add_argument("--errors", action="store_true", help="also list every photo read wrong")
    ev.add_argument(
        "--markdown", action="store_true", help="print the goal and error-class tables as Markdown (the README's)"
    )
    ev.add_argument("--model", default=None, help="a .keras model or registry version (default: the active model)")
    add_runtime_option(ev)

    tr = sub.add_parser("train", help="train the character model (glyph pretraining, then real crops)")
    tr.add_argument(
        "--data", action="append", default=[], metavar="DIR", help="labeled folder for real crops (repeatable)"
    )
    # --out's default is applied by `cli.models.train`, so that giving it can be told from not giving it.
    tr.add_argument(
        "--out",
        default=None,
        help="full pipeline: where to write the model (+ .json metadata; default models/char_cnn.keras)",
    )
    tr.add_argument(
        "--base",
        default=None,
        help=(
            "fine-tune: a registry version (v3, shipped), 'active' (default), 'glyphs' (new CNN pretrained on rendered "
            "glyphs) or 'imagenet' (--backbone with --weights); full pipeline: a .keras file"
        ),
    )
    tr.add_argument("--backbone", default="small", choices=["small", "mobilenet_v2", "inception_v3"])
    tr.add_argument("--weights", default=None, help="ImageNet weights file for --backbone, or 'imagenet' (Keras cache)")
    tr.add_argument("--glyphs-per-class", type=_positive, default=None)
    tr.add_argument("--pretrain-epochs", type=_positive, default=None)
    tr.add_argument("--finetune-epochs", type=_positive, default=None)
    tr.add_argument("--rounds", type=_positive, default=None)
    tr.add_argument("--batch-size", type=_positive, default=None)
    tr.add_argument("--seed", type=int, default=None)
    tr.add_argument(
        "--ocr-data", default=None, metavar="DIR", help="an openalpr-train-ocr folder of real character crops"
    )
    tr.add_argument(
        "--plate-data",
        action="append",
        default=[],
        metavar="DIR",
        help="plate crops (labels.csv) split by plate text (repeatable)",
    )
    tr.add_argument(
        "--ocr-sources", default=None, help="comma-separated --ocr-data sources to use (br,gb,eu-belgium,...)"
    )
    tr.add_argument(
        "--real-weight", type=_positive, default=None, help="times each --data crop repeats per epoch (default 3)"
    )
    from alpr.cli import labels as cli_labels

    cli_labels.register(sub)
    from alpr.cli import models as cli_models

    cli_models.register(sub)
    from alpr.batch import cli as batch_cli

    batch_cli.register(sub)
    from alpr.api.cli import register as register_serve

    register_serve(sub)
    from alpr.cli import watchlist as cli_watchlist

    cli_watchlist.register(sub)
    from alpr.training import plate_reader_train

    plate_reader_train.register(sub)

    st = sub.add_parser("settings", help="list every pipeline setting with its default and why")
    st.add_argument("--json", action="store_true")
    st.add_argument("--markdown", action="store_true", help="the settings reference, as docs/settings.md holds it")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "handler", None):
            return args.handler(args)
        if args.command == "recognize":
            return _recognize(args)
        if args.command == "eval":
            return _eval(args)
        if args.command == "train":
            return _train(args)
        if args.command == "settings":
            return _settings(args)
        if args.command == "labels":
            from alpr.cli import labels as cli_labels

            return cli_labels.run(args)
        if args.command == "models":
            from alpr.cli import models as cli_models

            return cli_models.run(args)
    except AlprError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 1


def _recognize(args) -> int:
    from alpr.webhooks.cli import open_from_args

    hooks = open_from_args(args)  # a missing API key or an unusable outbox fails before TensorFlow loads
    try:
        return _recognize_all(args, hooks)
    finally:
        if hooks is not None:
            hooks.finish()


def _recognize_all(args, hooks) -> int:
    names = _expand_folders(args.images)  # before TensorFlow is imported: an empty folder fails at once
    from alpr.video import cli as video_cli

    names, clips = video_cli.split(names)
    from alpr.training import registry
    from alpr.classify import load_classifier
    from alpr.imageio import load_image
    from alpr.pipeline import recognize
    from alpr.report import to_openalpr

    classifier = load_classifier(registry.resolve_model(args.model), runtime=args.runtime)
    from alpr.labels.watch import watchlist_of

    watch = watchlist_of()  # the data folder's watch list; () when it has no label database
    clips_failed = video_cli.run(clips, args, classifier, hooks) if clips else 0
    if not names:
        return clips_failed
    batch = len(names) > 1
    bar = _progress_bar("recognize ") if batch else None
    failed = plates = 0
    times_ms: list[float] = []
    t0 = time.perf_counter()
    if bar:
        bar(0, len(names))  # the first photo takes longest (the model's graph is traced): show the bar before it
    for done, name in enumerate(names, start=1):
        started = time.perf_counter()
        try:
            image = load_image(name)
        except AlprError as exc:
            failed += 1
            if bar:
                bar.clear()
            print(f"{name}: {exc}", file=sys.stderr)
            if args.json:
                print(json.dumps({"filename": name, "error": str(exc)}), flush=True)
        else:
            rec = recognize(
                image, country=args.country, topn=args.topn, plate_crop=args.plate_crop, classifier=classifier
            )
            times_ms.append(1000 * (time.perf_counter() - started))
            plates += len(rec.plates)
            if hooks is not None:
                from alpr.webhooks.reads import from_recognition

                hooks.send(lambda h: from_recognition(rec, name, hooks.camera, h, watch))  # noqa: B023 - called at once
            if bar:
                bar.clear()
            if args.json:
                print(json.dumps(to_openalpr(rec, filename=name, watchlist=watch)), flush=True)
            else:
                _print_table(name, rec, watch)
            # Only the counts above outlive a photo: a Recognition holds the photo and several
            # full-size arrays derived from it, so keeping every one would grow with the batch.
            del image, rec
        if bar:
            bar(done, len(names))
        elif batch and done % _PROGRESS_EVERY == 0 and done < len(names):
            print(f"recognize {done}/{len(names)}", file=sys.stderr, flush=True)
    if batch:
        seconds = time.perf_counter() - t0
        print(_batch_summary(len(names), failed, plates, seconds, times_ms), file=sys.stderr, flush=True)
    return 1 if failed or clips_failed else 0


# Photos between two plain progress lines when stderr is not a terminal (a log file, a pipe):
# often enough to see a long batch move, rarely enough not to bury its error lines.
_PROGRESS_EVERY = 25


def _progress_bar(label: str):
    """A redrawn one-line bar on a terminal (or with ALPR_PROGRESS set); None where a bar's
    carriage returns would only clutter a log, and plain lines are printed instead."""
    from alpr.evaluate import ProgressBar

    return ProgressBar(label) if sys.stderr.isatty() or os.environ.get(PROGRESS_ENV) else None


def _expand_folders(names: list[str]) -> list[str]:
    """The IMAGE arguments with each folder replaced by the image files directly inside it, by name.

    Anything that is not a folder is kept as given, so a missing or unreadable file still gets its
    own error line in its place when it is read."""
    from alpr.imageio import IMAGE_TYPES, images_in

    out: list[str] = []
    for name in names:
        if not Path(name).is_dir():
            out.append(name)
            continue
        files = images_in(name)
        if not files:
            raise AlprError(f"no image files in the folder {name} (looked for .{', .'.join(IMAGE_TYPES)})")
        out += [str(p) for p in files]
    return out


def _batch_summary(total: int, failed: int, plates: int, seconds: float, times_ms: list[float]) -> str:
    median = f"{statistics.median(times_ms):.0f}" if times_ms else "-"
    return (
        f"{total} photos: {total - failed} read, {failed} failed, {plates} plates found; "
        f"{seconds:.1f} s in all, median {median} ms per photo; peak memory {_peak_rss_mb():.0f} MB"
    )


def _peak_rss_mb() -> float:
    """This process's largest resident set so far, in MB."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def _print_table(name: str, rec, watch=()) -> None:
    from alpr.watchlist import match

    print(f"{name}: {rec.width}x{rec.height}, {len(rec.plates)} plate(s), {rec.timings_ms.get('total', 0):.0f} ms")
    if not rec.plates:
        print("  no plate found")
    for i, plate in enumerate(rec.plates):
        b = plate.box
        print(f"  plate {i}: at x={b.x} y={b.y} w={b.w} h={b.h}")
        found = match(plate.plate, watch) if watch else None
        if found is not None:
            said = f"{found.entry.plate} {found.entry.name}".strip()
            print(f"    on the watch list: {said}{' (alert)' if found.alert else ''}")
        for rank, c in enumerate(plate.candidates):
            mark = "*" if c.matches_template else " "
            print(f"    {'-' if rank else '>'} {c.plate:<10} {c.confidence:6.2f} {mark}")
    print(flush=True)


def _eval(args) -> int:
    from alpr.training import registry
    from alpr.classify import load_classifier
    from alpr.data import read_dataset
    from alpr import scorecard
    from alpr.evaluate import ERROR_KINDS, error_kind, evaluate_items, format_table, select, summarize

    items = select(read_dataset(args.dataset), holdout=args.holdout, limit=args.limit)
    if not items:
        raise AlprError(f"no files to evaluate in {args.dataset} with these options")
    classifier = load_classifier(registry.resolve_model(args.model), runtime=args.runtime)
    progress = _progress_bar("eval ")
    results = []
    for r in evaluate_items(items, classifier, args.country, args.topn, progress=progress):
        results.append(r)
        if progress is None and len(results) % 25 == 0:
            print(f"eval {len(results)}/{len(items)}", file=sys.stderr, flush=True)
    rows = summarize(results)
    if args.json:
        out = {
            "dataset": str(args.dataset),
            "model": classifier.info.version,
            "runtime": classifier.runtime,
            "holdout": args.holdout,
            "summary": rows,
        }
        if args.errors:
            out["errors"] = [r.__dict__ | {"kind": error_kind(r)} for r in results if not r.top1]
        print(json.dumps(out, indent=1))
        return 0
    runtime = " (ONNX Runtime)" if classifier.runtime == "onnx" else ""
    title = (
        f"model {classifier.info.version}{runtime} on {args.dataset}{' (hold-out files only)' if args.holdout else ''}"
    )
    if args.markdown:
        print(f"{title}\n\n{scorecard.markdown(scorecard.goal_table(rows, args.topn))}\n")
        print(scorecard.markdown(scorecard.kinds_table(rows)) + "\n")
        print(scorecard.markdown(scorecard.confidence_table(results)))
    else:
        print(title)
        print(format_table(rows, args.topn))
        print(f"\n{scorecard.plain(scorecard.goal_table(rows, args.topn))}\n")
        print(scorecard.plain(scorecard.kinds_table(rows)) + "\n")
        print(scorecard.plain(scorecard.confidence_table(results)))
    if args.errors:
        print()
        for r in results:
            if not r.top1:
                why = r.error or ERROR_KINDS[error_kind(r)]
                print(f"  {Path(r.path).name:<44} truth {r.truth:<9} read {r.read or '-':<9} {why}")
    return 0


def _train(args) -> int:
    from alpr.cli import models as cli_models
    from alpr.training.train import TrainConfig, main as train_main

    status = cli_models.train(args)  # without --data/--out: fine-tune from the label store into the registry
    if status is not None:
        return status

    cfg = TrainConfig(
        out=args.out,
        data=args.data,
        base=args.base,
        backbone=args.backbone,
        weights=args.weights,
        ocr_data=getattr(args, "ocr_data", None),
        plate_data=getattr(args, "plate_data", []),
        ocr_sources=[x for x in (getattr(args, "ocr_sources", None) or "").split(",") if x],
    )
    for name in (
        "glyphs_per_class",
        "pretrain_epochs",
        "finetune_epochs",
        "rounds",
        "batch_size",
        "seed",
        "real_weight",
    ):
        value = getattr(args, name)
        if value is not None:
            setattr(cfg, name, value)
    if cfg.base and not cfg.data:
        raise AlprError("--base fine-tunes on real crops: give at least one --data folder")
    for d in cfg.data:
        if not Path(d).is_dir():
            raise AlprError(f"--data {d} is not a folder")
    train_main(cfg)
    return 0


def settings_markdown(rows) -> str:
    """The settings reference in Markdown, generated from config.py's fields and their comments."""
    lines = [
        "# Settings",
        "",
        "<!-- Generated by `python -m alpr settings --markdown > docs/settings.md`; do not edit by hand. -->",
        "",
        "Every threshold lives in a frozen dataclass in `alpr/config.py`, with a comment saying why its default.",
        "`python -m alpr settings` prints them; `--json` for tools. A setting without a comment of its own says so.",
        "",
        "| setting | default | why |",
        "|---|---|---|",
    ]
    for name, value, why in rows:
        text = (why or "(no comment in config.py)").replace("|", "\\|")
        lines.append(f"| `{name}` | `{value}` | {text} |")
    return "\n".join(lines) + "\n"


def _settings(args) -> int:
    from alpr.config import describe

    rows = describe()
    if args.json:
        print(json.dumps([{"name": n, "default": v, "why": w} for n, v, w in rows], indent=1))
        return 0
    if args.markdown:
        print(settings_markdown(rows), end="")
        return 0
    width = max(len(n) for n, _, _ in rows)
    for name, value, why in rows:
        print(f"{name:<{width}}  {value!s:<10}  {why}")
    return 0
