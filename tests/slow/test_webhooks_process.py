"""Durable webhooks end to end, with real processes and a real receiver on 127.0.0.1:

* `python -m alpr serve --webhook URL` is posted photos while the receiver is down, then killed
  -9 with the deliveries queued; the receiver comes up (answering 500 at first), the server is
  started again, and every read arrives, each exactly once (by its delivery id and its photo).
* `recognize` (photos and a clip) and `batch` send the same webhooks through the same outbox and
  wait a bounded time at the end, saying what is still queued.

The constant model (every character "A") makes each photo a read with a plate.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from browser_support import ARTIFACTS, ROOT, free_port
from webhook_support import Receiver

from alpr.cli import main
from alpr.imageio import encode_png

START_TIMEOUT_S = 120
READS = 5


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from conftest import make_scene

    folder = tmp_path_factory.mktemp("webhook-photos")
    for i in range(READS):
        (folder / f"car-{i}.png").write_bytes(encode_png(make_scene("ABC1234", seed=10 + i).image))
    return sorted(folder.glob("*.png"))


def start_server(args: list[str], log_name: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / log_name, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "alpr", "serve", "--port", str(port), *args],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"alpr serve exited with status {process.returncode}; see test-artifacts/{log_name}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    pytest.fail(f"alpr serve did not answer within {START_TIMEOUT_S} s; see test-artifacts/{log_name}")


def metric(url: str, line_start: str) -> int:
    text = httpx.get(url + "/metrics", timeout=10).text
    return int(next(line for line in text.splitlines() if line.startswith(line_start)).rsplit(" ", 1)[1])


def test_reads_queued_by_a_server_killed_9_while_the_receiver_was_down_all_arrive_once(
    photos, constant_model, tmp_path
):
    receiver = Receiver(answer=lambda n: 500 if n < 2 else 200)  # down; once up, two 500s first
    args = ["--model", str(constant_model), "--data-dir", str(tmp_path), "--webhook", receiver.url, "--webhook-image"]
    server, url = start_server(args, "webhooks-kill9.log")
    try:
        for photo in photos:
            answer = httpx.post(
                url + "/v1/plate-reader/",
                files={"upload": (photo.name, photo.read_bytes())},
                data={"camera_id": "gate"},
                timeout=60,
            )
            assert answer.status_code == 200 and answer.json()["results"], answer.text
        assert metric(url, 'alpr_webhook_deliveries_total{outcome="queued"}') == READS
        assert metric(url, "alpr_webhook_waiting") == READS
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(30)
    assert server.returncode == -signal.SIGKILL and receiver.received == []

    with receiver:
        server, url = start_server(args, "webhooks-kill9.log")
        try:
            assert receiver.wait_for(READS, 60), f"{len(receiver.accepted_keys())} of {READS} arrived"
            time.sleep(1.0)  # anything sent twice would arrive now
            assert metric(url, 'alpr_webhook_deliveries_total{outcome="sent"}') == READS
            assert metric(url, "alpr_webhook_waiting") == 0
            assert metric(url, 'alpr_webhook_deliveries_total{outcome="retried"}') >= 2
        finally:
            server.terminate()
            server.wait(30)

    accepted = receiver.accepted()
    assert sorted(receiver.accepted_keys().values()) == [1] * READS  # each delivery id accepted once
    assert sorted(r.payload["data"]["filename"] for r in accepted) == [p.name for p in photos]
    assert {r.payload["hook"]["event"] for r in accepted} == {"recognition"}
    assert {r.payload["data"]["camera_id"] for r in accepted} == {"gate"}
    assert all(r.files["upload"][:2] == b"\xff\xd8" for r in accepted)  # the photo, as JPEG


def test_recognize_sends_photos_and_clip_vehicles_and_waits_for_them(photos, constant_model, tmp_path, capsys):
    from alpr.video import synthclip

    cars = synthclip.traffic(4.0, plates=("ABC1234",))
    clip = synthclip.encode(synthclip.render_frames(cars, size=(640, 360), seconds=4.0), tmp_path / "gate.mp4")
    with Receiver() as receiver:
        status = main(
            ["recognize", str(photos[0]), str(photos[1]), str(clip), "--model", str(constant_model), "--json",
             "--webhook", receiver.url, "--webhook-camera", "drive"]
        )  # fmt: skip
    assert status == 0
    err = capsys.readouterr().err
    sent = receiver.accepted()
    by_file = {r.payload["data"]["filename"] for r in sent}
    assert {str(photos[0]), str(photos[1]), str(clip)} == by_file
    assert f"webhooks: {len(sent)} of {len(sent)} deliveries sent" in err
    vehicle = next(r.payload for r in sent if r.payload["data"]["filename"] == str(clip))
    assert vehicle["data"]["results"][0]["source_url"] == str(clip)
    assert {r.payload["data"]["camera_id"] for r in sent} == {"drive"}


def test_recognize_with_the_receiver_down_waits_a_bounded_time_and_says_what_is_queued(
    photos, constant_model, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("ALPR_DATA_DIR", str(tmp_path))
    down = Receiver()  # never started
    started = time.monotonic()
    status = main(
        ["recognize", str(photos[0]), "--model", str(constant_model), "--webhook", down.url, "--webhook-wait", "1"]
    )
    took = time.monotonic() - started
    assert status == 0 and took < 30
    err = capsys.readouterr().err
    assert "webhooks: 0 of 1 deliveries sent, 1 still queued in" in err and "webhooks.sqlite" in err
    # The next run with the same --webhook, the receiver up, sends it.
    with down:
        main(["recognize", str(photos[1]), "--model", str(constant_model), "--webhook", down.url])
    assert len(down.accepted_keys()) == 2
    assert "webhooks: 1 of 1 deliveries sent" in capsys.readouterr().err


def test_batch_sends_each_row_with_a_plate_in_alpr_database_shape(photos, constant_model, tmp_path, capsys):
    key = tmp_path / "key"
    key.write_text("batch-key\n")
    with Receiver(answer=lambda n: 201) as receiver:
        status = main(
            ["batch", str(photos[0].parent), "--out", str(tmp_path / "rows.jsonl"), "--workers", "1",
             "--model", str(constant_model), "--webhook", receiver.url, "--webhook-format", "alpr-database",
             "--webhook-api-key-file", str(key)]
        )  # fmt: skip
    assert status == 0
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    plates = sum(len(row["plates"]) for row in rows)
    sent = receiver.accepted()
    assert len(sent) == plates >= READS and len(receiver.accepted_keys()) == plates
    assert {r.headers["x-api-key"] for r in sent} == {"batch-key"}
    assert all(r.payload["plate_number"].isupper() and r.payload["camera"] == "alpr" for r in sent)
    assert all(r.payload["Image"] for r in sent)
    assert f"webhooks: {plates} of {plates} deliveries sent" in capsys.readouterr().err
