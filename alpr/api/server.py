"""The FastAPI application behind `python -m alpr serve`.

One model per worker process, loaded at start-up. Requests pass, in order: the token check, the
admission gate (at most max_running + max_waiting requests in the worker, else 429 at once), the
body size limit (413), then form parsing and the read, which runs in a thread so the event loop keeps
answering /healthz, /metrics and 429s while the CPU reads. Every error leaves as one line of JSON,
`{"error": "..."}`; tracebacks go to the server log only.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

import anyio
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from alpr import __version__
from alpr.api import auth
from alpr.api.metrics import Metrics, webhook_lines
from alpr.api.responses import (
    RequestError,
    codeproject_answer,
    codeproject_failure,
    codeproject_predictions,
    min_confidence,
    snapshot_options,
    snapshot_results,
)
from alpr.api.settings import CONFIG_ENV, ServerConfig
from alpr.assemble import COUNTRIES
from alpr.errors import AlprError, ImageLoadError
from alpr.webhooks.events import ReadEvent, iso_utc

log = logging.getLogger("alpr.api")

# CodeProject.AI Server's License Plate Reader routes (Blue Iris, Agent DVR, Viseron); image/ is its older one.
CODEPROJECT_ROUTES = ("/v1/vision/alpr", "/v1/image/alpr")
# Routes that read a photo: these pass the admission gate and count as calls.
READ_ROUTES = ("/v1/plate-reader/", "/v1/recognize", *CODEPROJECT_ROUTES)
# Routes anyone may call even when tokens are required: liveness probes and the API's own docs.
OPEN_ROUTES = ("/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc")
_WATCH_OPENING = threading.Lock()
# The largest top-N /v1/recognize accepts: more candidates than any plate has plausible readings.
MAX_TOPN = 100


@dataclass
class _State:
    config: ServerConfig
    tokens: frozenset[str]
    classifier: object = None
    model_version: str | None = None
    model_warning: str | None = None
    store: object = None
    watch_store: object = None  # the label store opened only to read the watch list (no --keep-reads)
    webhooks: object = None  # alpr.webhooks.service.Webhooks, with --webhook
    device: str | None = None  # "CPU" or "GPU", as CodeProject.AI answers say it; found at the first call
    started: float = field(default_factory=time.monotonic)
    metrics: Metrics = field(default_factory=Metrics)
    admitted: int = 0  # requests inside the gate (waiting or running); only the event loop changes it
    tokenless: tuple = ()  # ServerConfig.tokenless_networks, parsed
    calls: int = 0
    running: anyio.Semaphore | None = None


def app_from_env() -> FastAPI:
    """uvicorn's factory in each worker process: the options `serve` put in $ALPR_API_CONFIG."""
    return create_app(ServerConfig.from_env(os.environ.get(CONFIG_ENV)))


def create_app(config: ServerConfig | None = None, classifier=None) -> FastAPI:
    """The application. `classifier` (a loaded CharClassifier) replaces the registry's active model."""
    config = config or ServerConfig()
    state = _State(config, auth.api_tokens(config.tokens_file), classifier)
    state.tokenless = tuple(ipaddress.ip_network(n, strict=False) for n in config.tokenless_networks)

    async def lifespan(app: FastAPI):
        if state.classifier is None:
            _load_model(state)
        _open_store(state)
        _open_webhooks(state)
        if state.webhooks is not None:
            state.webhooks.start()
        state.running = anyio.Semaphore(config.max_running)
        yield
        if state.webhooks is not None:
            state.webhooks.close(timeout_s=2.0)  # what is still queued is sent when the server starts again
        for store in (state.store, state.watch_store):
            if store is not None:
                store.close()

    app = FastAPI(
        title="Plate reader API",
        version=__version__,
        description="Plate Recognizer Snapshot- and OpenALPR-compatible plate reading. Fields: see docs/api.md.",
        lifespan=lifespan,
    )
    app.state.alpr = state
    _add_error_handlers(app)
    _add_routes(app, state)
    app.add_middleware(_GateMiddleware, state=state)
    return app


def load_model(app: FastAPI) -> None:
    """Load the model (and open the label store) now rather than at start-up."""
    state = app.state.alpr
    if state.classifier is None:
        _load_model(state)
    _open_store(state)
    _open_webhooks(state)


def _open_webhooks(state: _State) -> None:
    """The outbox and the receivers of --webhook (senders start with the server)."""
    if state.config.webhooks and state.webhooks is None:
        from alpr.webhooks.cli import targets
        from alpr.webhooks.service import Webhooks

        c = state.config
        found = targets(c.webhooks, c.webhook_format, c.webhook_image, c.webhook_api_key_file)
        state.webhooks = Webhooks(found, c.data_dir)


def _open_store(state: _State) -> None:
    if state.config.keep_reads and state.store is None:
        from alpr.labels import LabelStore

        state.store = LabelStore.open(state.config.data_dir)


def _load_model(state: _State) -> None:
    from alpr.training import registry
    from alpr.classify import load_classifier

    config = state.config
    if config.model:
        state.classifier = load_classifier(
            registry.resolve_model(config.model, config.data_dir), runtime=config.runtime
        )
        state.model_version = config.model
        return
    state.classifier, version, state.model_warning = registry.load_active(
        config.data_dir, loader=lambda path: load_classifier(path, runtime=config.runtime)
    )
    state.model_version = version.name
    if state.model_warning:
        log.warning("%s", state.model_warning)


# ------------------------------------------------------------------------------------ errors


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status, headers=headers)


def image_error_status(exc: ImageLoadError) -> int:
    """The HTTP status of a photo the loader refused: too large 413, not an image 415, else 422."""
    text = str(exc)
    if "LoadConfig.max_bytes" in text or "LoadConfig.max_pixels" in text:
        return 413
    if "is not an image" in text:
        return 415
    return 422


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return error(exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query"))
            problems.append(f"{where}: {e.get('msg', 'invalid')}")
        return error(400, "bad request: " + "; ".join(problems))

    @app.exception_handler(ImageLoadError)
    async def image_error(request: Request, exc: ImageLoadError):
        return error(image_error_status(exc), str(exc))

    @app.exception_handler(AlprError)
    async def alpr_error(request: Request, exc: AlprError):
        return error(400, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("request %s %s failed", request.method, request.url.path)
        return error(500, "internal error while reading the photo; the server log has the details")


# ---------------------------------------------------------------------------- gate middleware


class _GateMiddleware:
    """Token check, admission gate and body size limit, before FastAPI parses anything."""

    def __init__(self, app, state: _State):
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state, path = self.state, scope["path"]
        started = time.perf_counter()
        status_seen = {}

        async def send_and_count(message):
            if message["type"] == "http.response.start":
                status_seen["status"] = message["status"]
            await send(message)

        try:
            response = self._refusal(scope)
            if response is not None:
                await _drain(receive)
                return await response(scope, receive, send_and_count)
            admitted = path in READ_ROUTES
            if admitted:
                state.admitted += 1
            try:
                body, too_large = await _read_body(receive, state.config.max_body_bytes)
                if too_large:
                    response = error(
                        413,
                        f"the request body is over the limit of {state.config.max_body_bytes} bytes; "
                        "send a smaller photo (the loader takes up to 50 MB)",
                    )
                    return await response(scope, receive, send_and_count)
                await self.app(scope, _replay(body, receive), send_and_count)
            finally:
                if admitted:
                    state.admitted -= 1
        except Exception:
            log.exception("request %s %s failed", scope.get("method"), path)
            if "status" not in status_seen:
                await error(500, "internal error; the server log has the details")(scope, receive, send_and_count)
        finally:
            route = path if path in READ_ROUTES or path in ("/healthz", "/metrics") else "other"
            state.metrics.request(
                route, scope.get("method", ""), status_seen.get("status", 500), time.perf_counter() - started
            )

    def _refusal(self, scope):
        """The response that refuses this request before its body is read, or None."""
        state, path = self.state, scope["path"]
        if (state.tokens or state.tokenless) and path not in OPEN_ROUTES and not _tokenless(scope, state):
            headers = dict(scope.get("headers") or [])
            given = auth.header_token(headers.get(b"authorization", b"").decode("latin-1"))
            if given is None:
                return error(
                    401,
                    "this server needs a token: send the header 'Authorization: Token YOUR_TOKEN'",
                    {"WWW-Authenticate": "Token"},
                )
            if not auth.token_matches(given, state.tokens):
                return error(
                    403, "the token sent is not one of this server's tokens; check the integration's api_token"
                )
        if path in READ_ROUTES:
            limit = state.config.max_running + state.config.max_waiting
            if state.admitted >= limit:
                return error(
                    429, f"the server is reading {limit} photos already; retry in a second", {"Retry-After": "1"}
                )
            length = dict(scope.get("headers") or []).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > state.config.max_body_bytes:
                return error(
                    413,
                    f"the request body is {int(length)} bytes, over the limit of "
                    f"{state.config.max_body_bytes}; send a smaller photo",
                )
        return None


def _tokenless(scope, state: _State) -> bool:
    """Whether the caller is in a network the operator lets call without a token (--no-token-from)."""
    client = scope.get("client")
    if not state.tokenless or not client:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    return any(address in network for network in state.tokenless)


async def _read_body(receive, limit: int) -> tuple[bytes, bool]:
    """The whole body, or (b"", True) once it passes `limit` (the rest is read and dropped)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            await _drain(receive)
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks), False


async def _drain(receive) -> None:
    """Read what is left of the body, so the client gets our answer rather than a reset connection."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body"):
            return


def _replay(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


# ------------------------------------------------------------------------------------ routes


def _add_routes(app: FastAPI, state: _State) -> None:
    config = state.config

    @app.get("/healthz", summary="Liveness: model version and uptime")
    async def healthz():
        info = getattr(state.classifier, "info", None)
        return {
            "status": "ok",
            "model": getattr(info, "version", None),
            "model_version": state.model_version,
            "model_warning": state.model_warning,
            "runtime": getattr(state.classifier, "runtime", None),
            "uptime_s": round(time.monotonic() - state.started, 1),
            "version": __version__,
            "pid": os.getpid(),
        }

    @app.get(
        "/metrics",
        summary="Prometheus text: requests, errors, latency and stage histograms",
        response_class=PlainTextResponse,
    )
    async def metrics():
        text = state.metrics.text()
        if state.webhooks is not None:
            counts = await anyio.to_thread.run_sync(state.webhooks.counts)
            text += "\n".join(webhook_lines(counts)) + "\n"
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    @app.post("/v1/plate-reader/", summary="Plate Recognizer Snapshot API (see docs/api.md for each field)")
    async def plate_reader(
        request: Request,
        upload: Annotated[UploadFile | None, File(description="the photo (JPEG, PNG, WebP, BMP, TIFF, GIF)")] = None,
        upload_url: Annotated[
            str | None, Form(description="fetch the photo from here; only under the operator's allowed prefixes")
        ] = None,
        regions: Annotated[
            list[str] | None, Form(description="Plate Recognizer region codes, e.g. us-ca, de, br (repeatable)")
        ] = None,
        camera_id: Annotated[str | None, Form()] = None,
        timestamp: Annotated[str | None, Form(description="ISO 8601 time the photo was taken; echoed back")] = None,
        mmc: Annotated[
            str | None, Form(description="true: add make/model/colour/orientation (answered Unknown)")
        ] = None,
        config_json: Annotated[
            str | None, Form(alias="config", description='JSON: {"threshold_d", "threshold_o", "region": "strict"}')
        ] = None,
    ):
        started = time.perf_counter()
        options = snapshot_options(regions or [], mmc, config_json, config.country)
        data, filename = await _photo(request, upload, upload_url, ("upload",), state)
        rec = await _read(state, data, filename, options.country, config.topn)
        watch = await _watchlist(state)
        state.calls += 1  # only the event loop's thread runs this: no lock needed
        calls = state.calls
        stamp = timestamp or datetime.now(UTC).isoformat().replace("+00:00", "Z")
        results = snapshot_results(rec, options, watch)
        await _send_webhooks(state, rec, filename, results, camera_id, stamp)
        return {
            "processing_time": round((time.perf_counter() - started) * 1000, 3),
            "timestamp": stamp,
            "camera_id": camera_id,
            "filename": filename,
            "version": 1,
            "results": results,
            "usage": {"calls": calls, "max_calls": config.max_calls},
            "model_version": state.classifier.info.version,
        }

    @app.post("/v1/recognize", summary="OpenALPR `alpr -j` JSON, as `python -m alpr recognize --json` prints")
    async def recognize(
        request: Request,
        image: Annotated[UploadFile | None, File(description="the photo; the field may also be called upload")] = None,
        upload: Annotated[UploadFile | None, File(include_in_schema=False)] = None,
        country: Annotated[str, Form(description=f"plate formats: {', '.join(COUNTRIES)}")] = config.country,
        topn: Annotated[int, Form(description=f"candidates per plate, 1 to {MAX_TOPN}")] = 10,
    ):
        if country not in COUNTRIES:
            raise RequestError(f"country {country!r} is not one we read; send one of {', '.join(COUNTRIES)}")
        if not 1 <= topn <= MAX_TOPN:
            raise RequestError(f"topn is {topn}; send a whole number from 1 to {MAX_TOPN}")
        data, filename = await _photo(request, image or upload, None, ("image", "upload"), state)
        rec = await _read(state, data, filename, country, topn)
        from alpr.report import to_openalpr

        watch = await _watchlist(state)
        if state.webhooks is not None:
            await _send_webhooks(state, rec, filename, snapshot_results(rec, _PLAIN[country], watch))
        return to_openalpr(rec, filename=filename, watchlist=watch)

    # Blue Iris, Agent DVR and Viseron post a photo and read success/predictions; the image comes
    # from the first file whatever its field is called (upload, image), unknown fields are ignored,
    # and a photo that cannot be read is HTTP 200 with success false, as the module answers.
    @app.post(
        "/v1/vision/alpr",
        summary="CodeProject.AI License Plate Reader: multipart photo (any field), optional min_confidence 0-1",
    )
    @app.post("/v1/image/alpr", include_in_schema=False)
    async def codeproject_alpr(request: Request):
        started = time.perf_counter()
        device = _inference_device(state)
        try:
            form = await request.form()
            upload = next((v for _, v in form.multi_items() if not isinstance(v, str)), None)
            minimum = min_confidence(_form_text(form, "min_confidence"))
            if upload is None:
                got = ", ".join(sorted(set(form.keys()))) or "none"
                raise RequestError(
                    f"no image: send the photo as a multipart file, e.g. in form field upload (fields received: {got})"
                )
            data = await upload.read()
            name = upload.filename or "upload"
            if not data:
                raise RequestError(f"the file {name} is empty (0 bytes); send the photo's bytes")
            rec = await _read(state, data, name, config.country, config.topn)
            watch = await _watchlist(state)
            predictions = codeproject_predictions(rec, minimum, watch)
            if state.webhooks is not None:
                results = snapshot_results(rec, _PLAIN[config.country], watch)
                await _send_webhooks(state, rec, name, [r for r in results if r["score"] >= minimum])
        except (AlprError, StarletteHTTPException) as exc:
            message = str(exc)
            if isinstance(exc, StarletteHTTPException):
                message = f"the request is not a multipart form we can read ({exc.detail}); send the photo as multipart/form-data"
            return codeproject_failure(message, 1000 * (time.perf_counter() - started), device)
        except Exception:
            log.exception("request %s %s failed", request.method, request.url.path)
            return codeproject_failure(
                "internal error while reading the photo; the server log has the details",
                1000 * (time.perf_counter() - started),
                device,
            )
        return codeproject_answer(
            predictions, rec.timings_ms.get("total", 0.0), 1000 * (time.perf_counter() - started), device
        )


# The Plate Recognizer results webhooks carry for reads whose request had no Snapshot options.
_PLAIN = {country: snapshot_options([], None, None, country) for country in COUNTRIES}


async def _send_webhooks(state: _State, rec, filename: str, results: list[dict], camera=None, stamp=None) -> None:
    """Queue the read for every --webhook before it is answered (the outbox commits it to disk)."""
    if state.webhooks is not None and results:
        await anyio.to_thread.run_sync(_send_webhooks_sync, state, rec, filename, results, camera, stamp)


def _send_webhooks_sync(state: _State, rec, filename, results, camera, stamp) -> None:
    hooks = state.webhooks
    try:
        image = None
        if hooks.wants_image:
            from alpr.webhooks.events import jpeg

            image = jpeg(rec.image, hooks.config)
        event = ReadEvent(camera or state.config.webhook_camera, filename, stamp or iso_utc(), tuple(results), image)
        hooks.send(event)
    except AlprError as exc:  # a full disk costs the webhooks this read, never the answer
        log.error("could not queue the webhooks of %s: %s", filename, exc)


def _form_text(form, name: str) -> str | None:
    value = form.get(name)
    if value is not None and not isinstance(value, str):
        raise RequestError(f"form field {name} is a file; send it as a plain form value")
    return value


async def _watchlist(state: _State):
    """The watch list of the server's data folder, read per request so edits show at once (a few
    hundred rows read in well under a millisecond); () when the folder has no label database."""
    return await anyio.to_thread.run_sync(_watchlist_sync, state)


def _watchlist_sync(state: _State):
    from alpr.labels.schema import DB_NAME
    from alpr.paths import data_dir

    try:
        with _WATCH_OPENING:  # two first requests at once open one store, not two
            store = state.store or state.watch_store
            if store is None:
                folder = data_dir(state.config.data_dir)
                if not (folder / DB_NAME).is_file():
                    return ()
                from alpr.labels import LabelStore

                store = state.watch_store = LabelStore.open(folder)
        return store.watchlist()
    except AlprError as exc:  # an unreadable store costs the reads their watch-list field, never the answer
        log.warning("could not read the watch list: %s", exc)
        return ()


def _inference_device(state: _State) -> str:
    """ "GPU" when the loaded runtime computes on one, else "CPU" (CodeProject.AI's inferenceDevice)."""
    if state.device is None:
        state.device = "CPU"
        try:
            if "tensorflow" in sys.modules:
                import tensorflow as tf

                state.device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
            elif "onnxruntime" in sys.modules:
                import onnxruntime as ort

                state.device = "GPU" if ort.get_device() == "GPU" else "CPU"
        except Exception:  # noqa: BLE001 - a device we cannot ask about is said as the CPU
            log.warning("could not tell the inference device; answering CPU", exc_info=True)
    return state.device


async def _photo(request: Request, upload, upload_url, names: tuple[str, ...], state: _State) -> tuple[bytes, str]:
    """The photo's bytes and name, from the upload or (when the operator allows it) upload_url."""
    if upload is not None and not isinstance(upload, str):
        data = await upload.read()
        name = upload.filename or names[0]
        if not data:
            raise RequestError(f"the file in form field {names[0]} ({name}) is empty (0 bytes); send the photo's bytes")
        return data, name
    if upload_url:
        return await anyio.to_thread.run_sync(_fetch, upload_url, state.config), upload_url.rsplit("/", 1)[
            -1
        ] or "upload_url"
    form = await request.form()
    got = ", ".join(sorted(set(form.keys()))) or "none"
    wanted = " or ".join(names)
    raise RequestError(f"no photo: send it as a multipart file in form field {wanted} (fields received: {got})")


def _fetch(url: str, config: ServerConfig) -> bytes:
    """GET an allowed upload_url, refusing redirects and bodies over the size limit."""
    if not any(url.startswith(prefix) for prefix in config.upload_url_prefixes):
        if not config.upload_url_prefixes:
            raise RequestError(
                "upload_url is turned off on this server; send the photo as the multipart field upload "
                "(the operator can allow addresses with `serve --allow-upload-url PREFIX`)"
            )
        raise RequestError(
            f"upload_url {url} is not under an address this server may fetch from; send the photo as upload"
        )
    import httpx

    limit = config.max_body_bytes
    try:
        with httpx.stream("GET", url, timeout=config.upload_url_timeout_s, follow_redirects=False) as response:
            if response.status_code != 200:
                raise RequestError(f"upload_url {url} answered HTTP {response.status_code}, not the photo")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise ImageLoadError(
                        f"upload_url {url} is more than {limit} bytes (LoadConfig.max_bytes); send a smaller photo"
                    )
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise RequestError(f"could not fetch upload_url {url}: {type(exc).__name__}: {exc}") from None
    data = b"".join(chunks)
    if not data:
        raise RequestError(f"upload_url {url} gave an empty body")
    return data


async def _read(state: _State, data: bytes, filename: str, country: str, topn: int):
    """Decode and read the photo in a worker thread, at most max_running at once."""
    if state.running is None:  # an app used without its lifespan (a test client outside `with`)
        state.running = anyio.Semaphore(state.config.max_running)
    async with state.running:
        rec = await anyio.to_thread.run_sync(_read_sync, state, data, filename, country, topn)
    state.metrics.stages(rec.timings_ms)
    return rec


def _read_sync(state: _State, data: bytes, filename: str, country: str, topn: int):
    from alpr.imageio import load_image
    from alpr.pipeline import recognize

    image = load_image(data, name=filename)
    rec = recognize(image, country=country, topn=topn, classifier=state.classifier)
    if state.store is not None:
        try:
            state.store.add_recognition(image, rec, filename, state.classifier.info.version)
        except AlprError as exc:  # a full disk costs the Relabel queue this read, never the answer
            log.warning("could not keep the read of %s in the label store: %s", filename, exc)
    return rec
