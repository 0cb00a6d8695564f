"""`python -m alpr serve`: the HTTP API on uvicorn (see docs/api.md)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from alpr.api.settings import CONFIG_ENV, ServerConfig
from alpr.cli.argtypes import add_runtime_option, whole_number
from alpr.assemble import COUNTRIES
from alpr.errors import AlprError

_positive = whole_number(1)
_count = whole_number(0)


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `serve` command to the main parser's sub-parsers."""
    d = ServerConfig()
    serve = subparsers.add_parser(
        "serve",
        help="HTTP API: Plate Recognizer- and OpenALPR-compatible endpoints",
        description="Serve /v1/plate-reader/ (Plate Recognizer Snapshot), /v1/recognize (OpenALPR JSON), "
        "/healthz, /metrics and /docs. See docs/api.md.",
    )
    serve.add_argument(
        "--host", default=d.host, help=f"address to listen on (default {d.host}; any other needs tokens)"
    )
    serve.add_argument("--port", type=_positive, default=d.port, help=f"default {d.port}")
    serve.add_argument(
        "--workers", type=_positive, default=d.workers, help="processes, each with its own model (default 1)"
    )
    serve.add_argument(
        "--data-dir", default=None, help="label store and model registry folder (default: $ALPR_DATA_DIR, else data/)"
    )
    serve.add_argument("--model", default=None, help="a .keras model or registry version (default: the active model)")
    add_runtime_option(serve)
    serve.add_argument(
        "--keep-reads", action="store_true", help="store every read in the label store, for the Relabel page"
    )
    serve.add_argument(
        "--country",
        default=d.country,
        choices=sorted(COUNTRIES),
        help="plate formats when a request names no known region",
    )
    serve.add_argument(
        "--tokens-file",
        default=None,
        help="file of API tokens, one a line (default: $ALPR_API_TOKENS_FILE; also $ALPR_API_TOKENS)",
    )
    serve.add_argument(
        "--max-running",
        type=_positive,
        default=d.max_running,
        help=f"reads at once per worker (default {d.max_running})",
    )
    serve.add_argument(
        "--max-waiting",
        type=_count,
        default=d.max_waiting,
        help=f"requests queued per worker before 429 (default {d.max_waiting})",
    )
    serve.add_argument("--max-body-mb", type=_positive, default=None, help="largest request body in MB (default 50)")
    serve.add_argument(
        "--max-calls",
        type=_count,
        default=d.max_calls,
        help=f"reported as usage.max_calls; nothing is refused (default {d.max_calls:,}: calls left stay positive)",
    )
    serve.add_argument(
        "--allow-upload-url",
        action="append",
        default=[],
        metavar="PREFIX",
        help="let upload_url fetch photos from addresses starting with PREFIX, e.g. http://camera.lan/snap/ (repeatable)",
    )
    serve.add_argument(
        "--no-token-from",
        action="append",
        default=[],
        metavar="CIDR",
        help="callers in this network need no token, e.g. 192.168.1.20/32 for a Blue Iris machine, which "
        "cannot send one (repeatable)",
    )
    from alpr.webhooks.cli import add_options as add_webhook_options

    add_webhook_options(serve, serve=True)
    serve.set_defaults(handler=run)
    return serve


def config_from_args(args) -> ServerConfig:
    """The server's options, refusing the ones that would expose it or cannot work."""
    from alpr.api import auth

    for prefix in args.allow_upload_url:
        scheme, _, rest = prefix.partition("://")
        if scheme not in ("http", "https") or "/" not in rest or rest.startswith("/"):
            raise AlprError(
                f"--allow-upload-url {prefix!r} must be http(s)://HOST/PATH..., ending the host with a '/' "
                "(so http://cam does not also allow http://cam.example.com)"
            )
    d = ServerConfig()
    config = ServerConfig(
        host=args.host,
        port=args.port,
        workers=args.workers,
        data_dir=args.data_dir,
        model=args.model,
        runtime=args.runtime,
        keep_reads=args.keep_reads,
        country=args.country,
        max_running=args.max_running,
        max_waiting=args.max_waiting,
        max_body_bytes=args.max_body_mb * 2**20 + 64 * 1024 if args.max_body_mb else d.max_body_bytes,
        max_calls=args.max_calls,
        upload_url_prefixes=tuple(args.allow_upload_url),
        tokens_file=args.tokens_file,
        tokenless_networks=tuple(_network(text) for text in args.no_token_from),
        webhooks=tuple(args.webhook),
        webhook_format=args.webhook_format,
        webhook_image=args.webhook_image,
        webhook_api_key_file=args.webhook_api_key_file,
        webhook_camera=args.webhook_camera or d.webhook_camera,
    )
    from alpr.webhooks.cli import targets_from_args

    targets_from_args(args)  # a missing API key fails here, not in each worker
    tokens = auth.api_tokens(config.tokens_file)  # an unreadable file fails here, not in each worker
    if not config.loopback and not tokens and not config.tokenless_networks:
        raise AlprError(
            f"--host {config.host} lets other machines call the API: give it tokens with --tokens-file FILE, "
            f"${auth.TOKENS_FILE_ENV} or ${auth.TOKENS_ENV} (clients send 'Authorization: Token ...'), "
            "name the machines that may call without one with --no-token-from CIDR, or serve on 127.0.0.1"
        )
    return config


def _network(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise AlprError(
            f"--no-token-from {text!r} is not an address or network; give e.g. 192.168.1.20 or 192.168.1.0/24"
        ) from None


def run(args) -> int:
    import uvicorn

    config = config_from_args(args)
    if config.workers == 1:
        # One worker runs in this process: load the model now, so a missing or corrupt one ends in
        # its one-line message rather than in uvicorn's start-up traceback.
        from alpr.api.server import create_app, load_model

        app = create_app(config)
        load_model(app)
    else:
        app = "alpr.api.server:app_from_env"  # each worker process imports the app and loads its own model
        if config.model:
            from alpr.training import registry

            path = registry.resolve_model(config.model, config.data_dir)
            if path is not None and not path.is_file():
                raise AlprError(f"--model {config.model}: no model file at {path}")
    os.environ[CONFIG_ENV] = config.to_env()
    print(
        f"serving the plate reader API on http://{config.host}:{config.port}/ (docs at /docs), "
        f"{config.workers} worker(s)",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        factory=isinstance(app, str),
        host=config.host,
        port=config.port,
        workers=config.workers,
        log_level="info",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return 0
