"""The Recognize page's line about the HTTP API: a link to its docs when one answers, else how to start one."""

from __future__ import annotations

import json
import os
import time
import urllib.request

# Where the page looks for the API (and what its link says): set it to the address people's
# browsers reach the API at when it is not this machine's default `make serve`.
API_URL_ENV = "ALPR_API_URL"
DEFAULT_API_URL = "http://127.0.0.1:8080"
# A server that is down answers "connection refused" at once; one that is up answers in
# milliseconds. Half a second bounds the cost to a page rerun if the address swallows packets.
_PROBE_TIMEOUT_S = 0.5
# Reruns within this many seconds reuse the last answer: every widget change reruns the page.
_CACHE_S = 30.0
_cache: dict[str, tuple[float, dict | None]] = {}


def api_url() -> str:
    return (os.environ.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")


def running_api(url: str | None = None) -> dict | None:
    """The /healthz answer of the API at `url` (default: $ALPR_API_URL), or None when none answers."""
    url = url or api_url()
    now = time.monotonic()
    cached = _cache.get(url)
    if cached and now - cached[0] < _CACHE_S:
        return cached[1]
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=_PROBE_TIMEOUT_S) as response:
            health = json.loads(response.read(65536))
            answer = health if isinstance(health, dict) and health.get("status") == "ok" else None
    except (OSError, ValueError):
        answer = None
    _cache[url] = (now, answer)
    return answer


def api_docs_markdown() -> str:
    """One Markdown line for the Recognize page."""
    url = api_url()
    health = running_api(url)
    if health is not None:
        return (
            f":material/api: An HTTP API is running at {url} (model `{health.get('model')}`): "
            f"[its docs]({url}/docs) · Plate Recognizer-compatible at `{url}/v1/plate-reader/`, "
            f"OpenALPR JSON at `{url}/v1/recognize`."
        )
    return (
        ":material/api: Read plates from Home Assistant, Frigate or a script: start the HTTP API with "
        "`make serve` (or `python -m alpr serve`), then point the integration at "
        f"`{url}/v1/plate-reader/`; docs/api.md says more."
    )
