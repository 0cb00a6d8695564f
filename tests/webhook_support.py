"""A real webhook receiver for the tests and scripts/webhook_faults.py: an HTTP server on
127.0.0.1 in a thread that answers as it is told (500s for a while, a hang, a 409) and keeps every
request it got, parsed the way Plate Recognizer's and ALPR Database's receivers parse them."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    key: str | None  # the Idempotency-Key header: the delivery's id
    headers: dict[str, str]
    payload: dict  # the `json` field (Plate Recognizer's shape) or the JSON body (ALPR Database's)
    files: dict[str, bytes]  # multipart file fields: `upload`
    status: int  # what the receiver answered (0: it hung up without answering)


@dataclass
class Receiver:
    """`answer(n)` says what the n-th request (from 0) gets: an HTTP status, or ("hang", seconds)."""

    port: int = field(default_factory=free_port)
    answer: object = lambda n: 200  # noqa: E731 - a default policy
    received: list[Received] = field(default_factory=list)

    def __post_init__(self):
        self._server = None
        self._lock = threading.Lock()
        self._closing = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    n = len(receiver.received)
                    what = receiver.answer(n)
                    status = 0 if isinstance(what, tuple) else int(what)
                    receiver.received.append(_parse(self.headers, body, status))
                if isinstance(what, tuple):  # ("hang", seconds): never answer in time
                    receiver._closing.wait(what[1])
                    self.close_connection = True
                    return
                reply = json.dumps({"ok": 200 <= status < 300}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):  # the tests' output stays readable
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._closing.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._closing.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------------ what arrived

    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if 200 <= r.status < 300 or r.status == 409]

    def accepted_keys(self) -> Counter:
        return Counter(r.key for r in self.accepted())

    def wait_for(self, count: int, timeout_s: float) -> bool:
        """Wait until `count` distinct deliveries were accepted; False on time-out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.accepted_keys()) >= count:
                return True
            time.sleep(0.05)
        return len(self.accepted_keys()) >= count


def _parse(headers, body: bytes, status: int) -> Received:
    content_type = headers.get("Content-Type", "")
    payload, files = {}, {}
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            if part.get_filename() is not None:
                files[name] = data
            elif name == "json":
                payload = json.loads(data)
    elif body:
        payload = json.loads(body)
    return Received(headers.get("Idempotency-Key"), {k.lower(): v for k, v in headers.items()}, payload, files, status)
