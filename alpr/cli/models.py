"""`python -m alpr models ...` and the fine-tuning form of `python -m alpr train`.

    models list [--json]               every version: active mark, status, validation accuracy, data, device
    models activate VERSION [--force]  make a version active (the app picks it up on its next rerun)
    models rollback                    activate the version that was active before the current one
    models export [VERSION] [--format onnx|tflite] [--out DIR]
                                       every learned part of a version as ONNX or LiteRT (TFLite) files

    train [--epochs N] [--unfreeze-epochs N] [--reader-epochs N] [--data-dir D] [--base VERSION|glyphs|imagenet]
          [--dataset DIR ...] [--no-store] [--no-replay] [--activate]   fine-tune into a new registry version
    train --resume RUN_ID                                    continue an interrupted run

`python -m alpr train` with `--data` or `--out` is the full training pipeline of `alpr.train`
(glyph pretraining, harvest, fine-tune, one .keras file), exactly as before; without them it
fine-tunes a registry version on the label store (`alpr.finetune`).
"""

from __future__ import annotations

import argparse
import json
import sys

from alpr.cli.argtypes import command_with_actions, positive_float, whole_number
from alpr.errors import AlprError
from alpr.paths import DATA_DIR_ENV, DEFAULT_DATA_DIR

positive = whole_number(1)
non_negative = whole_number(0)

LEGACY_OUT = "models/char_cnn.keras"
# Options of the fine-tuning form only, with the value that means "not given".
_FINETUNE_ONLY = {
    "epochs": None,
    "unfreeze_epochs": None,
    "reader_epochs": None,
    "lr": None,
    "patience": None,
    "correction_weight": None,
    "data_dir": None,
    "dataset": [],
    "precision": None,
    "no_store": False,
    "no_replay": False,
    "activate": False,
    "resume": None,
    "run_id": None,
    "job": None,
}
_PIPELINE_ONLY = ("finetune_epochs", "rounds")


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `models` command, and the fine-tuning options of `train`, to the main parser."""
    data_help = f"data folder: label store, model registry, runs (default: ${DATA_DIR_ENV}, else {DEFAULT_DATA_DIR}/)"

    train = subparsers.choices["train"]
    train.description = (
        "Without --data/--out: fine-tune a model (default: the active one) on the label store's labels plus rendered "
        "glyphs and register it as a new version. With --data or --out: the full pipeline (glyph pretraining, "
        "harvest, fine-tune) into one .keras file."
    )
    group = train.add_argument_group("fine-tuning from the label store into the model registry")
    group.add_argument("--data-dir", default=None, metavar="DIR", help=data_help)
    group.add_argument(
        "--epochs", type=positive, default=None, help="epochs with the feature layers frozen (default 4)"
    )
    group.add_argument(
        "--unfreeze-epochs",
        type=non_negative,
        default=None,
        help="then epochs with the last block unfrozen at a lower learning rate (default 2; 0 skips)",
    )
    group.add_argument(
        "--reader-epochs",
        type=non_negative,
        default=None,
        help="epochs fine-tuning the whole-plate reader on the store's plates (default 4; 0 carries the "
        "active version's reader unchanged)",
    )
    group.add_argument(
        "--lr",
        type=positive_float,
        default=None,
        help="learning rate of the frozen stage (default 3e-4; the unfrozen stage uses a tenth)",
    )
    group.add_argument(
        "--patience",
        type=positive,
        default=None,
        help="early stopping: epochs without a better validation loss (default 3)",
    )
    group.add_argument(
        "--correction-weight",
        type=positive,
        default=None,
        help="a correction (a label that differs from what the model read) appears this many times as "
        "often as a confirmed label (default 1; more fixes more of them and unlearns more of the rest)",
    )
    group.add_argument(
        "--dataset",
        action="append",
        default=[],
        metavar="DIR",
        help="also train on this folder: an `alpr labels export`, a folder per class, or labeled plates (repeatable)",
    )
    group.add_argument(
        "--precision",
        default=None,
        choices=["auto", "float32", "mixed_bfloat16", "mixed_float16"],
        help="Keras dtype policy (default auto: half precision on a GPU, float32 on a CPU)",
    )
    group.add_argument("--no-store", action="store_true", help="leave the label store's labels out")
    group.add_argument(
        "--no-replay",
        action="store_true",
        help="leave out the store's unlabeled crops the base model reads confidently (kept by default "
        "so that what it reads right is not unlearnt)",
    )
    group.add_argument(
        "--activate", action="store_true", help="make the new version active if it is not worse than the active one"
    )
    group.add_argument(
        "--resume", default=None, metavar="RUN_ID", help="continue an interrupted run from its last checkpoint"
    )
    group.add_argument("--run-id", default=None, help=argparse.SUPPRESS)  # names the run folder
    group.add_argument("--job", default=None, help=argparse.SUPPRESS)  # the run whose config.json the app wrote

    models, action = command_with_actions(
        subparsers,
        "models",
        "models_command",
        data_help,
        help="the model registry: list versions, activate one, roll back",
        description="Every trained model is a version; one is active and reads plates in the app and the CLI.",
    )

    ls = action("list", "every version with its status, validation accuracy, data and device; * marks the active one")
    ls.add_argument("--json", action="store_true", help="one JSON array of versions")
    act = action("activate", "make a version the active model")
    act.add_argument("version", metavar="VERSION", help="a version name from `models list` (e.g. v3, shipped)")
    act.add_argument("--force", action="store_true", help="also activate a version that was rejected as worse")
    action("rollback", "activate the version that was active before the current one")
    export = action(
        "export",
        "write every learned part of a version (its .keras files) as ONNX or LiteRT (TFLite) files, each "
        "checked against Keras; by default beside the version's own files, where --runtime onnx reads them",
    )
    export.add_argument(
        "version",
        nargs="?",
        default=None,
        metavar="VERSION",
        help="a version from `models list` (default: the active one)",
    )
    export.add_argument("--format", default="onnx", choices=["onnx", "tflite"], help="default onnx")
    export.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="write into this folder instead, with each part's metadata and plate memory (a model that reads on "
        "its own: --model DIR/char_cnn.onnx)",
    )
    return models


# ------------------------------------------------------------------------------------- models


def run(args: argparse.Namespace) -> int:
    from alpr.training import registry

    folder = getattr(args, "data_dir", None)
    if args.models_command == "list":
        return _list(registry, folder, args.json)
    if args.models_command == "activate":
        version = registry.activate(args.version, folder, force=args.force, by="cli")
        print(f"active model: {version.name} ({version.path})")
        return 0
    if args.models_command == "rollback":
        version = registry.rollback(folder, by="cli")
        print(f"rolled back: the active model is {version.name} ({version.path})")
        return 0
    if args.models_command == "export":
        return _export(registry, folder, args)
    return 1


def _export(registry, folder, args) -> int:
    from alpr.training import export

    version = registry.get(args.version, folder) if args.version else registry.active(folder)
    if version.problem:
        raise AlprError(f"model version {version.name} cannot be exported: {version.problem}")
    for done in export.export_parts(export.parts_of(version), args.format, args.out, version.name):
        extra = f"; with {', '.join(p.name for p in done.copied)}" if done.copied else ""
        print(
            f"{version.name}: {done.part.name} -> {done.path} (largest difference from Keras "
            f"{done.largest_difference:.1g}){extra}"
        )
    return 0


def _list(registry, folder, as_json: bool) -> int:
    active = registry.active_name(folder)
    rows = [v.summary(active) for v in registry.versions(folder)]
    if active not in {r["version"] for r in rows}:
        rows.append(registry.active(folder).summary(active))
    if as_json:
        print(json.dumps(rows, indent=1))
        return 0
    print(
        f"{'':1} {'version':<8} {'status':<9} {'val acc':>8}  {'vs model active then':<24} {'parent':<8} "
        f"{'created':<17} {'trained on':<26} device"
    )
    for r in rows:
        acc = r["metrics"].get("val_accuracy")
        trained = registry.trained_on(r.get("data"))
        comparison = r.get("comparison") or {}
        versus = "-"
        if comparison.get("active"):
            versus = (
                f"{comparison['new']['accuracy']:.1%} vs {comparison['active']['accuracy']:.1%} {comparison['against']}"
            )
        created = (r["created"] or "-")[:16].replace("T", " ")
        print(
            f"{'*' if r['active'] else ' '} {r['version']:<8} {r['status']:<9} "
            f"{(f'{acc:.1%}' if acc is not None else '-'):>8}  {versus:<24} {r['parent'] or '-':<8} {created:<17} "
            f"{trained:<26} {r['device'] or '-'}"
        )
        if r["problem"]:
            print(f"    unusable: {r['problem']}")
    print(
        "\n* active. val acc: on the version's own validation set; 'vs model active then': both models on the "
        "same held-out crops when it finished.\n`python -m alpr models activate VERSION` switches; the app picks it up on its next rerun."
    )
    return 0


# -------------------------------------------------------------------------------------- train


def train(args: argparse.Namespace) -> int | None:
    """Run `train` in its fine-tuning form and return the exit status, or return None (after
    restoring --out's default) when the arguments ask for the full pipeline of `alpr.train`."""
    given = [name for name, empty in _FINETUNE_ONLY.items() if getattr(args, name, empty) != empty]
    if args.out is not None or args.data:
        if given:
            flags = ", ".join("--" + n.replace("_", "-") for n in given)
            raise AlprError(
                f"{flags} fine-tune(s) from the label store and cannot be combined with --data/--out (the full "
                "pipeline); to add labeled folders to a fine-tune use --dataset DIR"
            )
        if args.out is None:
            args.out = LEGACY_OUT
        return None
    pipeline = [n for n in _PIPELINE_ONLY if getattr(args, n) is not None]
    if pipeline:
        flags = ", ".join("--" + n.replace("_", "-") for n in pipeline)
        raise AlprError(
            f"{flags} belong(s) to the full pipeline (with --data); fine-tuning takes --epochs and --unfreeze-epochs"
        )

    from alpr.training import finetune

    if args.job:
        return _exit_code(finetune.run(None, run_id=args.job, folder=args.data_dir))
    cfg = finetune.JobConfig(data_dir=args.data_dir or "")
    if args.base:
        cfg.base = args.base
    if cfg.base == "imagenet" and args.backbone == "small":
        raise AlprError("--base imagenet needs --backbone mobilenet_v2 or inception_v3 (and --weights)")
    if cfg.base in ("glyphs", "imagenet"):
        cfg.backbone = args.backbone
    cfg.weights = args.weights
    cfg.use_store = not args.no_store
    cfg.replay = not args.no_replay
    cfg.datasets = [str(d) for d in args.dataset]
    cfg.activate = args.activate
    for name, attr in (
        ("epochs", "epochs"),
        ("unfreeze_epochs", "unfreeze_epochs"),
        ("reader_epochs", "reader_epochs"),
        ("lr", "lr"),
        ("patience", "patience"),
        ("batch_size", "batch_size"),
        ("seed", "seed"),
        ("glyphs_per_class", "glyphs_per_class"),
        ("pretrain_epochs", "pretrain_epochs"),
        ("correction_weight", "correction_weight"),
        ("precision", "precision"),
    ):
        value = getattr(args, name, None)
        if value is not None:
            setattr(cfg, attr, value)
    if args.lr is not None:
        cfg.set_lr(args.lr)
    cfg.check()
    return _exit_code(finetune.run(cfg, run_id=args.run_id, resume=args.resume))


def _exit_code(status) -> int:
    if status.state == "cancelled":
        print("cancelled: nothing was registered", file=sys.stderr)
        return 130
    return 0
