"""argparse pieces shared by every `python -m alpr` command: value types with one-line messages, and
the command-with-actions shape of `labels` and `models`."""

from __future__ import annotations

import argparse
from typing import Callable


def whole_number(minimum: int) -> Callable[[str], int]:
    """A parser for integers of at least `minimum` (1 for counts, 0 for "none allowed")."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {minimum} or more, got {value}")
        return value

    return parse


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def command_with_actions(subparsers, name: str, dest: str, data_help: str, **kwargs):
    """Add `python -m alpr NAME ACTION ...`, whose every action takes --data-dir before or after the
    action. Returns (the command's parser, add_action(name, help) -> the action's parser)."""
    command = subparsers.add_parser(name, **kwargs)
    command.add_argument("--data-dir", default=None, metavar="DIR", help=data_help)
    actions = command.add_subparsers(dest=dest, required=True, metavar="ACTION")

    def add_action(action: str, help: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(action, help=help, description=help)
        # Also accepted after the action (`labels stats --data-dir X`); SUPPRESS keeps the value
        # given before the action when this one is absent.
        parser.add_argument("--data-dir", default=argparse.SUPPRESS, metavar="DIR", help=data_help)
        return parser

    return command, add_action


def add_runtime_option(parser: argparse.ArgumentParser) -> None:
    """`--runtime keras|onnx`: which runtime reads the model (alpr/runtime.py)."""
    from alpr.runtime import RUNTIMES

    parser.add_argument(
        "--runtime",
        default=None,
        choices=RUNTIMES,
        help="keras (default; TensorFlow) or onnx: ONNX Runtime reads the .onnx exported beside the model "
        "(`models export`), without loading TensorFlow (default for a --model ending .onnx)",
    )
