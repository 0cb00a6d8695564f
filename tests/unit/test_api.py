"""The HTTP API in-process, through FastAPI's test client, with the constant model (every character
reads "A"), so exact plate strings can be asserted whatever the shipped model reads today.

The real server process, the Home Assistant request and 429s are in test_api_server.py.
"""

from __future__ import annotations

import http.server
import io
import json
import threading

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from alpr.api import auth
from alpr.api.responses import country_of_region
from alpr.api.server import create_app
from alpr.api.settings import ServerConfig, is_loopback
from alpr.imageio import encode_png
from alpr.labels import LabelStore

READS_AS = "aaaaaaa"  # the constant model's read of the scene's 7 characters, in Plate Recognizer's lower case


@pytest.fixture(scope="module")
def photo(request) -> bytes:
    from conftest import make_scene

    return encode_png(make_scene("ABC1234", seed=2).image)


def client_for(classifier, **options) -> TestClient:
    return TestClient(create_app(ServerConfig(**options), classifier=classifier), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(constant_classifier):
    with client_for(constant_classifier) as c:
        yield c


def assert_one_line_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"]
    assert "\n" not in body["error"] and "Traceback" not in body["error"]
    return body["error"]


# --- Plate Recognizer Snapshot -----------------------------------------------------------------


def test_plate_reader_answers_in_plate_recognizers_shape(client, photo):
    response = client.post(
        "/v1/plate-reader/",
        files={"upload": ("car.png", photo, "image/png")},
        data={"camera_id": "gate", "timestamp": "2026-12-01T10:00:00Z"},
    )
    assert response.status_code == 200
    body = response.json()
    assert {"processing_time", "timestamp", "camera_id", "filename", "version", "results", "usage"} <= set(body)
    assert (body["camera_id"], body["filename"], body["timestamp"]) == ("gate", "car.png", "2026-12-01T10:00:00Z")
    result = body["results"][0]  # best first; the constant model also reads other text on the car as A's
    assert result["plate"] == READS_AS
    assert 0 < result["score"] <= 1 and 0 < result["dscore"] <= 1
    box = result["box"]
    assert 0 <= box["xmin"] < box["xmax"] <= 960 and 0 <= box["ymin"] < box["ymax"] <= 640
    # the scene's plate is at Box(372, 403, 139, 76): the box found must overlap it
    assert box["xmin"] < 372 + 139 and box["xmax"] > 372 and box["ymin"] < 403 + 76 and box["ymax"] > 403
    assert result["region"] == {"code": "us", "score": 1.0}
    assert result["vehicle"] == {"type": "Unknown", "score": 0.0, "box": box}
    assert result["candidates"][0] == {"plate": READS_AS, "score": result["score"]}
    assert all(c["plate"] == c["plate"].lower() for c in result["candidates"])
    assert "orientation" not in result


def test_usage_counts_the_calls_of_this_worker(constant_classifier, photo):
    with client_for(constant_classifier, max_calls=1000) as c:
        usages = [c.post("/v1/plate-reader/", files={"upload": ("car.png", photo)}).json()["usage"] for _ in range(2)]
    assert usages == [{"calls": 1, "max_calls": 1000}, {"calls": 2, "max_calls": 1000}]


def test_usage_by_default_leaves_home_assistant_a_positive_number_of_calls(client, photo):
    from alpr.cli import build_parser

    usage = client.post("/v1/plate-reader/", files={"upload": ("car.png", photo)}).json()["usage"]
    calls_remaining = usage["max_calls"] - usage["calls"]  # Home Assistant's statistics.calls_remaining
    assert usage["max_calls"] == ServerConfig().max_calls == 1_000_000_000 and calls_remaining > 0
    assert build_parser().parse_args(["serve"]).max_calls == 1_000_000_000  # `alpr serve` without --max-calls


@pytest.mark.parametrize("mmc", [None, "False", "false", "0"])
def test_without_mmc_orientation_make_and_colour_are_left_out(client, photo, mmc):
    # Home Assistant's default is mmc: false, sent as "False"; we cannot tell these, so say nothing.
    data = {} if mmc is None else {"mmc": mmc}
    results = client.post("/v1/plate-reader/", files={"upload": ("car.png", photo)}, data=data).json()["results"]
    assert results and all(not {"orientation", "model_make", "color"} & set(r) for r in results)


def test_mmc_adds_orientation_make_and_colour_as_unknown(client, photo):
    result = client.post("/v1/plate-reader/", files={"upload": ("car.png", photo)}, data={"mmc": "True"}).json()[
        "results"
    ][0]
    assert result["orientation"] == [{"orientation": "Unknown", "score": 0.0}]
    assert result["model_make"][0]["make"] == "Unknown" and result["color"][0]["color"] == "Unknown"


@pytest.mark.parametrize(
    "code, country",
    [
        ("us", "us"),
        ("us-ca", "us"),
        ("br", "br"),
        ("eu", "eu"),
        ("de", "eu"),
        ("GB", "eu"),
        ("fr-75", "eu"),
        ("jp", None),
        ("", None),
    ],
)
def test_plate_recognizer_regions_map_to_our_plate_formats(code, country):
    assert country_of_region(code) == country


def test_the_first_region_we_know_names_the_result_region(client, photo):
    response = client.post(
        "/v1/plate-reader/", files={"upload": ("car.png", photo)}, data={"regions": ["jp", "us-ca", "de"]}
    )
    assert response.json()["results"][0]["region"]["code"] == "us-ca"


def test_config_thresholds_drop_weaker_reads(client, photo):
    score = client.post("/v1/plate-reader/", files={"upload": ("car.png", photo)}).json()["results"][0]["score"]
    assert score < 1  # the constant model is 90% sure of each character
    above = json.dumps({"threshold_o": round(score + 0.001, 3)})  # above the best read's, so above every read's
    assert (
        client.post("/v1/plate-reader/", files={"upload": ("car.png", photo)}, data={"config": above}).json()["results"]
        == []
    )
    at = json.dumps({"threshold_o": score, "threshold_d": 0.1, "mode": "fast"})  # unknown keys are ignored
    kept = client.post("/v1/plate-reader/", files={"upload": ("car.png", photo)}, data={"config": at}).json()["results"]
    assert kept[0]["plate"] == READS_AS


@pytest.mark.parametrize(
    "fields, needle",
    [
        ({"config": "{not json"}, "config is not JSON"),
        ({"config": "[1]"}, "not an object"),
        ({"config": '{"threshold_o": 2}'}, "threshold_o"),
        ({"mmc": "maybe"}, "mmc"),
    ],
)
def test_fields_we_cannot_honour_are_refused_with_what_to_send(client, photo, fields, needle):
    message = assert_one_line_error(
        client.post("/v1/plate-reader/", files={"upload": ("car.png", photo)}, data=fields), 400
    )
    assert needle in message


def test_upload_url_is_refused_unless_the_operator_allows_its_address(client):
    message = assert_one_line_error(
        client.post("/v1/plate-reader/", data={"upload_url": "http://169.254.169.254/latest"}), 400
    )
    assert "turned off" in message


def test_upload_url_under_an_allowed_prefix_is_fetched(constant_classifier, photo, tmp_path):
    (tmp_path / "snap.png").write_bytes(photo)

    def handler(*a, **k):
        return http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with client_for(constant_classifier, upload_url_prefixes=(base,)) as c:
            fetched = c.post("/v1/plate-reader/", data={"upload_url": base + "snap.png"})
            elsewhere = c.post("/v1/plate-reader/", data={"upload_url": "http://127.0.0.2/snap.png"})
    finally:
        server.shutdown()
    assert fetched.status_code == 200 and fetched.json()["results"][0]["plate"] == READS_AS
    assert "not under an address" in assert_one_line_error(elsewhere, 400)


# --- bad input: the CLI's refusals, each with its status and one line -------------------------


def _bomb() -> bytes:
    """A small PNG whose header claims 20000 x 20000 pixels: decoding it would take 1.2 GB."""
    buffer = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "kind, status, needle",
    [
        ("not an image", 415, "not an image"),
        ("truncated", 422, "truncated"),
        ("bomb", 413, "pixels"),
        ("empty", 400, "empty"),
        ("wrong field", 400, "form field upload"),
        ("text, not a file", 400, "upload"),
    ],
)
def test_bad_photos_get_one_line_and_the_right_status(client, photo, kind, status, needle):
    if kind == "text, not a file":
        response = client.post("/v1/plate-reader/", data={"upload": "car.png"})
    else:
        files = {
            "not an image": {"upload": ("notes.png", b"these are not pixels")},
            "truncated": {"upload": ("car.png", photo[: len(photo) // 2])},
            "bomb": {"upload": ("bomb.png", _bomb())},
            "empty": {"upload": ("car.png", b"")},
            "wrong field": {"image": ("car.png", photo)},
        }[kind]
        response = client.post("/v1/plate-reader/", files=files)
    assert needle in assert_one_line_error(response, status)


def test_a_body_over_the_limit_is_refused_before_parsing(constant_classifier, photo):
    with client_for(constant_classifier, max_body_bytes=len(photo) // 2) as c:
        message = assert_one_line_error(c.post("/v1/plate-reader/", files={"upload": ("car.png", photo)}), 413)
    assert "limit" in message


def test_not_multipart_and_unknown_routes_answer_json(client):
    assert_one_line_error(
        client.post("/v1/plate-reader/", content=b"{}", headers={"content-type": "application/json"}), 400
    )
    assert_one_line_error(client.get("/v1/nothing-here"), 404)
    assert_one_line_error(client.get("/v1/plate-reader/"), 405)


# --- tokens ------------------------------------------------------------------------------------


@pytest.fixture()
def token_client(constant_classifier, monkeypatch):
    monkeypatch.setenv(auth.TOKENS_ENV, "s3cret, other")
    with client_for(constant_classifier) as c:
        yield c


@pytest.mark.parametrize("header, status", [(None, 401), ("Token wrong", 403), ("Basic czNjcmV0", 401)])
def test_a_missing_or_wrong_token_is_refused(token_client, photo, header, status):
    headers = {"Authorization": header} if header else {}
    assert_one_line_error(
        token_client.post("/v1/plate-reader/", files={"upload": ("car.png", photo)}, headers=headers), status
    )
    assert_one_line_error(token_client.get("/metrics", headers=headers), status)


def test_the_right_token_reads_and_health_and_docs_stay_open(token_client, photo):
    ok = token_client.post(
        "/v1/plate-reader/", files={"upload": ("car.png", photo)}, headers={"Authorization": "Token other"}
    )
    assert ok.status_code == 200
    assert token_client.get("/healthz").status_code == 200
    assert token_client.get("/openapi.json").json()["paths"].keys() >= {"/v1/plate-reader/", "/v1/recognize"}


def test_tokens_file_lines_and_comments(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("# for the gate\nabc123\n\n  def456  # home assistant\n")
    assert auth.read_tokens_file(path) == {"abc123", "def456"}
    assert auth.token_matches("def456", auth.read_tokens_file(path))
    assert not auth.token_matches("def45", auth.read_tokens_file(path))
    assert auth.header_token("Token abc123") == auth.header_token("Bearer abc123") == "abc123"


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("", False),
        (None, False),
    ],
)
def test_only_loopback_addresses_skip_the_token(host, loopback):
    assert is_loopback(host) is loopback


def test_the_app_asks_for_a_sign_in_beyond_this_machine_or_when_tokens_are_set(monkeypatch):
    for name in (auth.TOKENS_ENV, auth.TOKENS_FILE_ENV, auth.APP_TOKENS_FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    assert not auth.app_sign_in_required("127.0.0.1")
    assert auth.app_sign_in_required("0.0.0.0") and auth.app_sign_in_required(None)
    monkeypatch.setenv(auth.APP_TOKENS_FILE_ENV, "/nonexistent/tokens")
    assert auth.app_sign_in_required("127.0.0.1")
    assert auth.app_tokens() == frozenset()  # an unreadable file locks writes rather than opening them


def test_serve_refuses_another_address_without_tokens(monkeypatch, capsys):
    from alpr.cli import main

    for name in (auth.TOKENS_ENV, auth.TOKENS_FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tokens" in err


# --- OpenALPR, health, metrics, the label store -------------------------------------------------


def test_recognize_answers_the_clis_openalpr_json(client, photo):
    body = client.post("/v1/recognize", files={"image": ("car.png", photo)}, data={"country": "eu", "topn": "3"}).json()
    assert body["filename"] == "car.png" and body["data_type"] == "alpr_results"
    assert body["regions_of_interest"] == [{"x": 0, "y": 0, "width": 960, "height": 640}]
    result = body["results"][0]
    assert result["plate"] == READS_AS.upper() and result["requested_topn"] == 3 and len(result["candidates"]) <= 3


@pytest.mark.parametrize(
    "fields, needle", [({"country": "jp"}, "country"), ({"topn": "0"}, "topn"), ({"topn": "ten"}, "topn")]
)
def test_recognize_refuses_options_the_cli_refuses(client, photo, fields, needle):
    assert needle in assert_one_line_error(
        client.post("/v1/recognize", files={"image": ("car.png", photo)}, data=fields), 400
    )


def test_health_names_the_model_and_metrics_count_requests_and_stages(constant_classifier, photo):
    with client_for(constant_classifier) as c:
        c.post("/v1/plate-reader/", files={"upload": ("car.png", photo)})
        c.post("/v1/plate-reader/", files={"upload": ("car.png", b"")})
        health = c.get("/healthz").json()
        metrics = c.get("/metrics").text
    assert health["status"] == "ok" and health["model"] == "constant-A" and health["uptime_s"] >= 0
    assert 'alpr_api_requests_total{route="/v1/plate-reader/",method="POST",status="200"} 1' in metrics
    assert 'alpr_api_errors_total{route="/v1/plate-reader/",status="400"} 1' in metrics
    assert 'alpr_api_request_duration_seconds_count{route="/v1/plate-reader/"} 2' in metrics
    for stage in ("detect", "segment", "classify", "assemble", "total"):
        assert f'alpr_pipeline_stage_seconds_count{{stage="{stage}"}} 1' in metrics


def test_keep_reads_puts_each_read_in_the_relabel_queue(constant_classifier, photo, tmp_path):
    with client_for(constant_classifier, keep_reads=True, data_dir=str(tmp_path)) as c:
        assert c.post("/v1/plate-reader/", files={"upload": ("gate-cam.png", photo)}).status_code == 200
    with LabelStore.open(tmp_path) as store:
        plates = store.recent_plates()
    assert READS_AS.upper() in {p.text_read for p in plates} and {p.name for p in plates} == {"gate-cam.png"}


def test_without_keep_reads_nothing_is_stored(constant_classifier, photo, tmp_path):
    with client_for(constant_classifier, data_dir=str(tmp_path)) as c:
        c.post("/v1/plate-reader/", files={"upload": ("car.png", photo)})
    assert not (tmp_path / "labels.sqlite").exists() or LabelStore.open(tmp_path).recent_plates() == []
