"""The --webhook options of `serve`, `recognize` and `batch`, checked before any model loads, and
the end of a `recognize` or `batch` run: wait a bounded time for its deliveries, say what is left."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from alpr.config import DEFAULT
from alpr.errors import AlprError, WebhookError
from alpr.paths import WEBHOOK_API_KEY_ENV
from alpr.webhooks.events import FORMATS, Target

DEFAULT_CAMERA = "alpr"


def webhook_url(text: str) -> str:
    """argparse type of --webhook: an http(s) URL with a host, else a one-line error."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http(s) URL; give the receiver's address, e.g. "
            "http://192.168.1.20:3000/api/plate-reads"
        )
    return text.strip()


def seconds(text: str) -> float:
    """argparse type of --webhook-wait: 0 or more seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more seconds, got {text}")
    return value


def add_options(parser: argparse.ArgumentParser, serve: bool = False) -> None:
    """The --webhook options; `serve` names the camera differently and has no end to wait at."""
    group = parser.add_argument_group("webhooks (docs/api.md#webhooks)")
    group.add_argument(
        "--webhook",
        action="append",
        default=[],
        type=webhook_url,
        metavar="URL",
        help="POST every read with a plate to URL, through a durable outbox in the data folder (repeatable)",
    )
    group.add_argument(
        "--webhook-format",
        choices=FORMATS,
        default=FORMATS[0],
        help="platerecognizer (default): Plate Recognizer Stream's multipart `json`; alpr-database: "
        "ALPR Database's POST /api/plate-reads, one plate a request",
    )
    group.add_argument(
        "--webhook-image", action="store_true", help="platerecognizer: also send the photo (JPEG) as `upload`"
    )
    group.add_argument(
        "--webhook-api-key-file",
        default=None,
        metavar="FILE",
        help=f"alpr-database: a file holding its API key, sent as x-api-key (default ${WEBHOOK_API_KEY_ENV})",
    )
    group.add_argument(
        "--webhook-camera",
        default=None,
        metavar="NAME",
        help=f"camera of the reads whose request names no camera_id (default {DEFAULT_CAMERA!r})"
        if serve
        else f"the camera name each read is sent with (default {DEFAULT_CAMERA!r})",
    )
    if not serve:
        group.add_argument(
            "--webhook-wait",
            type=seconds,
            default=None,
            metavar="S",
            help=f"seconds to wait at the end for the deliveries to leave (default {DEFAULT.webhook.drain_s:g}); "
            "what is left stays queued for the next run",
        )


def targets(
    urls: list[str] | tuple[str, ...], fmt: str, image: bool = False, api_key_file: str | None = None
) -> tuple[Target, ...]:
    """The receivers the options name. Raises WebhookError for a receiver that cannot work: an
    ALPR Database without its API key, an unreadable key file."""
    if not urls:
        return ()
    key = None
    if fmt == "alpr-database":
        key = api_key(api_key_file)
    elif api_key_file:
        raise WebhookError("--webhook-api-key-file is for --webhook-format alpr-database (its x-api-key)")
    return tuple(Target(webhook_url(u), fmt, image, key) for u in dict.fromkeys(urls))


def api_key(path: str | None) -> str:
    """ALPR Database's API key: the first line of `path`, else $ALPR_WEBHOOK_API_KEY."""
    if path:
        try:
            lines = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
        except (OSError, UnicodeDecodeError) as exc:
            raise WebhookError(f"cannot read --webhook-api-key-file {path}: {exc}") from None
        key = next((line for line in lines if line and not line.startswith("#")), "")
        if not key:
            raise WebhookError(f"--webhook-api-key-file {path} holds no key (one line: ALPR Database's API key)")
        return key
    key = os.environ.get(WEBHOOK_API_KEY_ENV, "").strip()
    if not key:
        raise WebhookError(
            "--webhook-format alpr-database needs ALPR Database's API key (its Settings page): "
            f"--webhook-api-key-file FILE or ${WEBHOOK_API_KEY_ENV}"
        )
    return key


def targets_from_args(args) -> tuple[Target, ...]:
    extras = args.webhook_image or args.webhook_api_key_file or args.webhook_camera
    extras = extras or getattr(args, "webhook_wait", None) is not None
    if extras and not args.webhook:
        raise WebhookError("the --webhook-... options need at least one --webhook URL")
    return targets(args.webhook, args.webhook_format, args.webhook_image, args.webhook_api_key_file)


def open_from_args(args, data_dir: str | None = None) -> RunWebhooks | None:
    """The webhooks of a `recognize` or `batch` run (senders started), or None without --webhook."""
    found = targets_from_args(args)
    if not found:
        return None
    from alpr.webhooks.service import Webhooks

    hooks = Webhooks(found, data_dir)
    hooks.start()
    return RunWebhooks(hooks, args.webhook_camera or DEFAULT_CAMERA, getattr(args, "webhook_wait", None))


class RunWebhooks:
    """The webhooks of one `recognize` or `batch` run: what it queued, and its bounded wait at the end."""

    def __init__(self, hooks, camera: str, wait_s: float | None = None):
        self.hooks, self.camera, self.ids = hooks, camera, []
        self.wait_s = hooks.config.drain_s if wait_s is None else wait_s

    def send(self, build: Callable[[object], object]) -> None:
        """Queue the event `build(hooks)` makes; a failure is a warning, never the end of the run."""
        try:
            self.ids += self.hooks.send(build(self.hooks))
        except AlprError as exc:
            print(f"warning: this read's webhooks were not queued: {exc}", file=sys.stderr, flush=True)

    def finish(self, stream=None) -> None:
        """Wait up to `wait_s` for this run's deliveries, say how they went, close."""
        stream = stream or sys.stderr
        hooks, ids = self.hooks, self.ids
        try:
            if ids:
                print(f"webhooks: waiting up to {self.wait_s:g} s for {len(ids)} deliveries", file=stream, flush=True)
            states = hooks.drain(ids, self.wait_s)
            if ids:
                line = f"webhooks: {states['sent']} of {len(ids)} deliveries sent"
                if states["given_up"]:
                    line += f", {states['given_up']} given up (the log above says why)"
                if states["queued"]:
                    line += (
                        f", {states['queued']} still queued in {hooks.outbox.path}: the next run or "
                        "`python -m alpr serve` with the same --webhook sends them"
                    )
                print(line, file=stream, flush=True)
        finally:
            hooks.close(timeout_s=1.0)
