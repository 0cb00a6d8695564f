"""Every limit of the HTTP server, in one frozen dataclass with the reason for each default."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import asdict, dataclass

# How `serve` hands its options to each uvicorn worker process: workers import the app by name,
# so the options travel in the environment rather than as Python objects.
CONFIG_ENV = "ALPR_API_CONFIG"


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # One process per core is what TensorFlow on CPU can use; more only contend for the same cores.
    workers: int = 1
    data_dir: str | None = None  # the label store and model registry folder; None: $ALPR_DATA_DIR, else ./data
    model: str | None = None  # a .keras file or registry version; None: the registry's active model
    runtime: str | None = None  # "keras" or "onnx" (alpr/runtime.py); None: from the model file's suffix
    keep_reads: bool = False  # store each read in the label store, for the Relabel page
    country: str = "us"  # plate formats when a request names no region we know
    # Whole request bodies above this are refused (413) before they are parsed: the image loader
    # refuses files over 50 MB (LoadConfig.max_bytes), and the multipart framing adds a few KB.
    max_body_bytes: int = 50 * 1024 * 1024 + 64 * 1024
    # Recognitions running at once in one worker. Two keeps both cores of a small machine busy
    # (detection and segmentation are NumPy, the classifier is one locked TensorFlow call); more
    # only share the same cores and raise every request's latency.
    max_running: int = 2
    # Requests allowed to wait for a running slot; any more are answered 429 at once. Eight reads
    # of ~0.3 s each is a ~1-2 s wait, well inside an integration's timeout (Home Assistant: 10 s).
    max_waiting: int = 8
    # Plate Recognizer's `usage.max_calls`; integrations show `max_calls - calls` as calls left
    # (Home Assistant: `statistics.calls_remaining`), so 0 read as a negative count. Nothing is
    # refused when it is reached: a self-hosted server has no quota, and a billion calls (a photo
    # a second for 31 years; within a 32-bit integer) leaves the count positive.
    max_calls: int = 1_000_000_000
    # URL prefixes `upload_url` may fetch from; empty: `upload_url` is refused (no server-side
    # fetches of arbitrary addresses on a caller's behalf).
    upload_url_prefixes: tuple[str, ...] = ()
    # Seconds an `upload_url` fetch may take: a camera on the LAN answers in well under a second.
    upload_url_timeout_s: float = 10.0
    tokens_file: str | None = None  # overrides $ALPR_API_TOKENS_FILE
    # Networks (CIDR) whose callers need no token: Blue Iris and Agent DVR call CodeProject.AI,
    # which has no tokens, so they cannot send one. Empty: every caller follows the token rule.
    tokenless_networks: tuple[str, ...] = ()
    topn: int = 10  # candidates per plate on /v1/plate-reader/ (Plate Recognizer lists up to 10)
    # Receivers every read with a plate is POSTed to, through the outbox (alpr/webhooks; docs/api.md).
    webhooks: tuple[str, ...] = ()
    webhook_format: str = "platerecognizer"  # or "alpr-database"
    webhook_image: bool = False  # platerecognizer: also send the photo as `upload`
    webhook_api_key_file: str | None = None  # alpr-database's key; None: $ALPR_WEBHOOK_API_KEY
    webhook_camera: str = "alpr"  # the camera of a read whose request names no camera_id

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, text: str | None) -> ServerConfig:
        if not text:
            return cls()
        values = json.loads(text)
        values["upload_url_prefixes"] = tuple(values.get("upload_url_prefixes") or ())
        values["tokenless_networks"] = tuple(values.get("tokenless_networks") or ())
        values["webhooks"] = tuple(values.get("webhooks") or ())
        return cls(**values)


def is_loopback(host: str | None) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, "localhost")."""
    if not host:
        return False  # Streamlit's unset address and "" mean every interface
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
