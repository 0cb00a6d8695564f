"""Durable webhooks against a real receiver on 127.0.0.1: every read arrives exactly once (by its
delivery id) through 500s, a receiver that is down, one that hangs; the outbox keeps deliveries
across a reopened file, gives up the oldest past its size limit, and hands the sending to one
process at a time. Delays are shrunk (WebhookConfig) so each test takes a second or two."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from webhook_support import Receiver, free_port

from alpr.api.metrics import webhook_lines
from alpr.config import WebhookConfig
from alpr.errors import WebhookError
from alpr.webhooks.events import ReadEvent, Target, bodies, iso_utc, result
from alpr.webhooks.outbox import Outbox
from alpr.webhooks.sender import backoff
from alpr.webhooks.service import Webhooks

FAST = WebhookConfig(timeout_s=0.5, base_delay_s=0.05, max_delay_s=0.2, jitter_seed=7, lease_s=2.0, poll_s=0.05)


def event(plate: str = "ABC1234", image: bytes | None = None, watch: dict | None = None) -> ReadEvent:
    extra = {} if watch is None else {"watchlist": watch}
    read = result(plate, 0.91, (10, 20, 110, 50), [(plate, 0.91), (plate[:-1] + "8", 0.05)], "us", True, 0.8, **extra)
    return ReadEvent("gate", f"photos/{plate}.jpg", "2026-05-01T12:00:00.000001Z", (read,), image)


@pytest.fixture
def outbox_file(tmp_path):
    return tmp_path / "webhooks.sqlite"


# ------------------------------------------------------------------------ the shapes receivers parse


def test_plate_recognizer_shape_is_a_multipart_json_field_with_the_photo_as_upload(outbox_file):
    with Receiver() as receiver:
        target = Target(receiver.url, "platerecognizer", image=True)
        with Webhooks((target,), outbox=Outbox(outbox_file, FAST), config=FAST) as hooks:
            hooks.start()
            ids = hooks.send(event(image=b"\xff\xd8fake-jpeg\xff\xd9"))
            assert hooks.drain(ids, 5.0) == {"queued": 0, "sent": 1, "given_up": 0}
    [got] = receiver.received
    assert got.key == ids[0] and got.headers["content-type"].startswith("multipart/form-data")
    hook, data = got.payload["hook"], got.payload["data"]
    assert hook == {"target": receiver.url, "id": "gate", "event": "recognition", "filename": "photos/ABC1234.jpg"}
    assert {"camera_id", "filename", "timestamp", "timestamp_local", "results"} <= data.keys()
    assert data["timestamp"] == "2026-05-01T12:00:00.000001Z"
    [plate] = data["results"]
    assert plate["plate"] == "abc1234" and plate["box"] == {"xmin": 10, "ymin": 20, "xmax": 110, "ymax": 50}
    assert plate["candidates"][0] == {"score": 0.91, "plate": "abc1234"} and plate["dscore"] == 0.8
    assert got.files == {"upload": b"\xff\xd8fake-jpeg\xff\xd9"}


def test_without_webhook_image_only_the_json_field_is_sent():
    [(content_type, body)] = bodies(event(image=b"jpeg"), Target("http://x/hook"))
    assert b'name="json"' in body and b'name="upload"' not in body and content_type.startswith("multipart/")


def test_alpr_database_shape_is_one_json_per_plate_with_the_key_and_a_base64_jpeg():
    two = event()
    two = replace(two, results=two.results + (result("XYZ987", 0.5, (0, 0, 5, 5), [], "us", False),), image=b"jpg")
    sent = bodies(two, Target("http://db:3000/api/plate-reads", "alpr-database", api_key="k"))
    payloads = [json.loads(body) for content_type, body in sent if content_type == "application/json"]
    assert payloads == [
        {"plate_number": "ABC1234", "Image": base64.b64encode(b"jpg").decode(), "camera": "gate",
         "timestamp": "2026-05-01T12:00:00.000001Z"},
        {"plate_number": "XYZ987", "Image": base64.b64encode(b"jpg").decode(), "camera": "gate",
         "timestamp": "2026-05-01T12:00:00.000001Z"},
    ]  # fmt: skip
    assert Target("http://db/", "alpr-database", api_key="k").headers() == {"x-api-key": "k"}


def test_a_read_without_a_plate_sends_nothing():
    assert bodies(replace(event(), results=()), Target("http://x/")) == []


def test_alpr_database_answers_409_for_a_read_it_holds_and_that_is_done(outbox_file):
    with Receiver(answer=lambda n: 201 if n == 0 else 409) as receiver:
        target = Target(receiver.url, "alpr-database", api_key="secret")
        with Webhooks((target,), outbox=Outbox(outbox_file, FAST), config=FAST) as hooks:
            hooks.start()
            ids = hooks.send(event(image=b"jpg")) + hooks.send(event(image=b"jpg"))
            assert hooks.drain(ids, 5.0) == {"queued": 0, "sent": 2, "given_up": 0}
    assert [r.status for r in receiver.received] == [201, 409]
    assert {r.headers["x-api-key"] for r in receiver.received} == {"secret"}


def test_an_alerting_watch_list_match_also_sends_an_alert_to_plate_recognizer_receivers(outbox_file):
    hit = {"plate": "ABC1234", "name": "Blue van", "alert": True, "edits": 0, "lookalikes": 0}
    with Receiver() as receiver:
        with Webhooks((Target(receiver.url),), outbox=Outbox(outbox_file, FAST), config=FAST) as hooks:
            hooks.start()
            ids = hooks.send(event(watch=hit)) + hooks.send(event(watch={**hit, "alert": False}))
            assert hooks.drain(ids, 5.0)["sent"] == 3
    kinds = [r.payload["hook"]["event"] for r in receiver.received]
    assert sorted(kinds) == ["alert", "recognition", "recognition"]
    alert = next(r for r in receiver.received if r.payload["hook"]["event"] == "alert")
    assert alert.payload["data"]["results"][0]["watchlist"]["name"] == "Blue van"


# ------------------------------------------------------------------------ faults


def test_500s_for_a_while_then_2xx_every_read_arrives_exactly_once(outbox_file):
    with Receiver(answer=lambda n: 500 if n < 4 else 200) as receiver:
        with Webhooks((Target(receiver.url),), outbox=Outbox(outbox_file, FAST), config=FAST) as hooks:
            hooks.start()
            ids = [i for plate in ("AAA111", "BBB222", "CCC333", "DDD444", "EEE555") for i in hooks.send(event(plate))]
            assert hooks.drain(ids, 10.0) == {"queued": 0, "sent": 5, "given_up": 0}
            counts = hooks.counts()
    assert receiver.accepted_keys() == {i: 1 for i in ids}  # each delivery accepted once, by its stable id
    assert [r.status for r in receiver.received[:4]] == [500] * 4
    # While the receiver failed, only the oldest delivery probed it: 4 failed attempts, all of the same one.
    assert {r.key for r in receiver.received[:4]} == {ids[0]}
    assert counts["queued"] == 5 and counts["sent"] == 5 and counts["retried"] == 4 and counts["waiting"] == 0


def test_a_receiver_down_then_up_gets_everything(outbox_file):
    receiver = Receiver()  # not started: connections are refused
    with Webhooks((Target(receiver.url),), outbox=Outbox(outbox_file, FAST), config=FAST) as hooks:
        hooks.start()
        ids = [i for plate in ("AAA111", "BBB222", "CCC333") for i in hooks.send(event(plate))]
        time.sleep(0.5)
        assert hooks.drain(ids, 0)["queued"] == 3
        assert hooks.counts()["retried"] >= 2
        with receiver:
            assert hooks.drain(ids, 5.0) == {"queued": 0, "sent": 3, "given_up": 0}
    assert receiver.accepted_keys() == {i: 1 for i in ids}


def test_a_receiver_that_hangs_hits_the_time_out_and_the_delivery_is_retried(outbox_file, caplog):
    with Receiver(answer=lambda n: ("hang", 5.0) if n == 0 else 200) as receiver:
        with Webhooks((Target(receiver.url),), outbox=Outbox(outbox_file, FAST), config=FAST) as hooks:
            hooks.start()
            started = time.monotonic()
            with caplog.at_level(logging.WARNING, "alpr.webhooks"):
                ids = hooks.send(event())
                assert hooks.drain(ids, 5.0) == {"queued": 0, "sent": 1, "given_up": 0}
            took = time.monotonic() - started
    assert 0.5 <= took < 3.0  # one time-out (0.5 s) and a short backoff, not the 5 s hang
    assert [r.key for r in receiver.received] == ids * 2 and receiver.accepted_keys() == {ids[0]: 1}
    assert "no answer within 0.5 s" in caplog.text


def test_a_receiver_that_refuses_is_given_up_at_once_and_counted(outbox_file, caplog):
    with Receiver(answer=lambda n: 401) as receiver:
        target = Target(receiver.url, "alpr-database", api_key="wrong")
        with Webhooks((target,), outbox=Outbox(outbox_file, FAST), config=FAST) as hooks:
            hooks.start()
            with caplog.at_level(logging.WARNING, "alpr.webhooks"):
                ids = hooks.send(event(image=b"jpg"))
                assert hooks.drain(ids, 5.0) == {"queued": 0, "sent": 0, "given_up": 1}
            assert hooks.counts()["given_up_refused"] == 1
    assert len(receiver.received) == 1 and "HTTP 401" in caplog.text


def test_a_delivery_failing_past_max_age_is_given_up(outbox_file):
    config = replace(FAST, max_age_s=0.3)
    with Webhooks(
        (Target(f"http://127.0.0.1:{free_port()}/hook"),), outbox=Outbox(outbox_file, config), config=config
    ) as hooks:
        hooks.start()
        ids = hooks.send(event())
        assert hooks.drain(ids, 5.0) == {"queued": 0, "sent": 0, "given_up": 1}
        assert hooks.counts()["given_up_expired"] == 1


# ------------------------------------------------------------------------ the outbox itself


def test_past_its_size_limit_the_outbox_gives_up_the_oldest_counts_it_and_says_so(outbox_file, caplog):
    config = replace(FAST, max_queued=3)
    with Webhooks((Target("http://127.0.0.1:9/hook"),), outbox=Outbox(outbox_file, config), config=config) as hooks:
        with caplog.at_level(logging.WARNING, "alpr.webhooks"):
            ids = [i for plate in ("AAA111", "BBB222", "CCC333", "DDD444", "EEE555") for i in hooks.send(event(plate))]
        assert hooks.outbox.states(ids[:2]) == {"queued": 0, "sent": 0, "given_up": 2}
        assert hooks.outbox.states(ids[2:]) == {"queued": 3, "sent": 0, "given_up": 0}
        assert hooks.counts()["given_up_full"] == 2 and hooks.counts()["waiting"] == 3
    assert "outbox full" in caplog.text and ids[0] in caplog.text


def test_the_byte_limit_also_gives_up_the_oldest(outbox_file):
    outbox = Outbox(outbox_file, replace(FAST, max_queued_bytes=250))
    first, _ = outbox.add([("http://x/", "recognition", "text/plain", b"a" * 200)])
    second, dropped = outbox.add([("http://x/", "recognition", "text/plain", b"b" * 200)])
    assert [d.id for d in dropped] == first and outbox.states(second)["queued"] == 1


def test_queued_deliveries_outlive_the_process_that_queued_them(outbox_file):
    # A child process queues a delivery, then is killed -9 at once: the delivery is on disk.
    script = (
        "import os, signal, sys\n"
        "from alpr.webhooks.outbox import Outbox\n"
        "ids, _ = Outbox(sys.argv[1]).add([('http://x/hook', 'recognition', 'application/json', b'{}')])\n"
        "print(ids[0], flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    child = subprocess.run([sys.executable, "-c", script, str(outbox_file)], capture_output=True, text=True, timeout=60)
    assert child.returncode == -9, child.stderr
    delivery_id = child.stdout.strip()
    reopened = Outbox(outbox_file, FAST)
    assert reopened.states([delivery_id]) == {"queued": 1, "sent": 0, "given_up": 0}
    claimed = reopened.claim("http://x/hook")
    assert claimed is not None and claimed.id == delivery_id and claimed.body == b"{}"


def test_one_process_holds_a_receiver_at_a_time_and_a_dead_holder_is_replaced_at_once(outbox_file):
    outbox = Outbox(outbox_file, FAST)
    assert outbox.hold("http://x/", "this-host-a")  # another machine's name: alive as far as we can tell
    assert not outbox.hold("http://x/", "me")
    assert outbox.hold("http://x/", "me", now=time.time() + FAST.lease_s + 1)  # its lease lapsed
    # A holder on this machine whose process is gone is replaced without waiting for its lease.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    import socket

    outbox.hold("http://y/", f"{socket.gethostname()}/{gone.pid}/abcd")
    assert outbox.hold("http://y/", "me")


def test_a_new_holder_retries_what_the_previous_one_was_waiting_on_at_once(outbox_file):
    outbox = Outbox(outbox_file, FAST)
    [delivery_id], _ = outbox.add([("http://x/", "recognition", "text/plain", b"hi")])
    assert outbox.hold("http://x/", "elsewhere/1/a")
    claimed = outbox.claim("http://x/")
    outbox.retry(claimed, time.time() + 3600, "HTTP 503")  # the previous holder's backoff: an hour
    assert outbox.claim("http://x/") is None
    assert outbox.hold("http://x/", "me", now=time.time() + FAST.lease_s + 1)
    assert outbox.claim("http://x/", now=time.time() + FAST.lease_s + 1).id == delivery_id


def test_backoff_doubles_up_to_its_cap_and_jitter_only_shortens():
    import random

    config = WebhookConfig(base_delay_s=1.0, max_delay_s=8.0, jitter=0.5)
    rng = random.Random(1)
    delays = [backoff(n, config, rng) for n in range(1, 7)]
    caps = [1, 2, 4, 8, 8, 8]
    assert all(cap * 0.5 <= d <= cap for d, cap in zip(delays, caps))
    seeded = [[backoff(n, config, rng) for n in (1, 2, 3)] for rng in (random.Random(3), random.Random(3))]
    assert seeded[0] == seeded[1]  # a seed (WebhookConfig.jitter_seed) makes the retry times repeatable


def test_the_metrics_count_queued_sent_retried_and_given_up():
    text = "\n".join(
        webhook_lines({"queued": 5, "sent": 3, "retried": 4, "given_up_refused": 1, "given_up_expired": 0,
                       "given_up_full": 1, "waiting": 0})
    )  # fmt: skip
    assert 'alpr_webhook_deliveries_total{outcome="queued"} 5' in text
    assert 'alpr_webhook_deliveries_total{outcome="sent"} 3' in text
    assert 'alpr_webhook_deliveries_total{outcome="retried"} 4' in text
    assert 'alpr_webhook_deliveries_total{outcome="given_up"} 2' in text
    assert 'alpr_webhook_given_up_total{reason="outbox_full"} 1' in text
    assert "alpr_webhook_waiting 0" in text


# ------------------------------------------------------------------------ options


def test_a_webhook_url_that_is_not_http_is_a_one_line_cli_error(capsys):
    from alpr.cli import build_parser

    for command in (["serve"], ["batch", "x", "--out", "o.jsonl"], ["recognize", "x.jpg"]):
        with pytest.raises(SystemExit) as stop:
            build_parser().parse_args([*command, "--webhook", "ftp://gate/hook"])
        assert stop.value.code == 2
        assert "--webhook: 'ftp://gate/hook' is not an http(s) URL" in capsys.readouterr().err


def test_alpr_database_without_its_api_key_is_refused_before_anything_runs(monkeypatch, tmp_path):
    from alpr.webhooks.cli import targets

    monkeypatch.delenv("ALPR_WEBHOOK_API_KEY", raising=False)
    with pytest.raises(WebhookError, match="needs ALPR Database's API key"):
        targets(["http://db:3000/api/plate-reads"], "alpr-database")
    key = tmp_path / "key"
    key.write_text("# ALPR Database\nsecret-key\n")
    [target] = targets(["http://db:3000/api/plate-reads"], "alpr-database", api_key_file=str(key))
    assert target.headers() == {"x-api-key": "secret-key"} and "secret" not in repr(target)
    monkeypatch.setenv("ALPR_WEBHOOK_API_KEY", "from-env")
    assert targets(["http://db/"], "alpr-database")[0].api_key == "from-env"


def test_timestamps_are_utc_as_plate_recognizer_writes_them():
    assert iso_utc(0) == "1970-01-01T00:00:00Z"
    assert iso_utc(1.5) == "1970-01-01T00:00:01.500000Z"


# ------------------------------------------------------------------------ the server, in process


def test_the_server_queues_each_read_before_answering_and_sends_what_it_answered(constant_classifier, tmp_path):
    from conftest import make_scene
    from fastapi.testclient import TestClient

    from alpr.api.server import create_app
    from alpr.api.settings import ServerConfig
    from alpr.imageio import encode_png

    photo = encode_png(make_scene("ABC1234", seed=2).image)
    receiver = Receiver()  # down while the reads are answered
    config = ServerConfig(data_dir=str(tmp_path), webhooks=(receiver.url,), webhook_format="platerecognizer")
    with TestClient(create_app(config, classifier=constant_classifier)) as client:
        answer = client.post(
            "/v1/plate-reader/",
            files={"upload": ("gate.png", photo)},
            data={"camera_id": "cam-1", "timestamp": "2026-05-01T08:00:00Z"},
        )
        assert answer.status_code == 200 and answer.json()["results"]
        codeproject = client.post("/v1/vision/alpr", files={"image": ("bi.jpg", photo)})
        assert codeproject.json()["success"] and codeproject.json()["count"]
        metrics = client.get("/metrics").text
        assert 'alpr_webhook_deliveries_total{outcome="queued"} 2' in metrics and "alpr_webhook_waiting 2" in metrics
        with receiver:
            assert receiver.wait_for(2, 10.0)
    first, second = sorted(receiver.accepted(), key=lambda r: r.payload["data"]["filename"])
    assert first.payload["data"]["camera_id"] == "alpr" and first.payload["data"]["filename"] == "bi.jpg"
    assert second.payload["data"]["results"] == answer.json()["results"]  # what the caller was answered
    assert second.payload["data"]["timestamp"] == "2026-05-01T08:00:00Z"
    assert second.payload["hook"] == {
        "target": receiver.url,
        "id": "cam-1",
        "event": "recognition",
        "filename": "gate.png",
    }
