"""CodeProject.AI's License Plate Reader routes in-process: the requests its clients send, read back
the way those clients read the answer, with the constant model (every character "A").

The clients, as their source sends and reads (docs/api.md names the files):

* frigate_plate_recognizer (recognition.py): `session.post(api_url, files={"upload": image})` to
  /v1/image/alpr, then `raise_for_status()` and `predictions[0]["plate"]`, `["confidence"]`;
* Viseron through codeprojectai-core (core.py): `requests.post(url, files={"image": image_bytes},
  data={"min_confidence": ...})` to /v1/image/alpr; any status but 200 raises, then `result["success"]`
  and each prediction's plate, confidence and x_min...y_max;
* ALPR Database (app/api/plate-reads/route.js) reads what Blue Iris puts in its `&JSON` macro: the
  module's answer as `ai_dump[].found` of the item whose `api` is "alpr".

Blue Iris itself is closed source: its request is taken as the module's documented one (the photo
in field `upload`), and the route takes the first file whatever its field is called.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from alpr.api.server import create_app
from alpr.api.settings import ServerConfig
from alpr.imageio import encode_png
from alpr.labels import LabelStore

READS_AS = "AAAAAAA"  # the constant model's read of the scene's plate
ENVELOPE = {"moduleId": "ALPR", "moduleName": "License Plate Reader", "command": "alpr", "inferenceDevice": "CPU"}


@pytest.fixture(scope="module")
def photo() -> bytes:
    from conftest import make_scene

    return encode_png(make_scene("ABC1234", seed=2).image)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("codeproject-data")
    with LabelStore.open(folder) as store:
        store.watch_add("AAAA4AA", "the A van", alert=True)  # one edit from what the constant model reads
    return folder


@pytest.fixture(scope="module")
def client(constant_classifier, data_dir):
    app = create_app(ServerConfig(data_dir=str(data_dir)), classifier=constant_classifier)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def frigate_plate_recognizer(client, image: bytes) -> tuple[str | None, float | None]:
    """recognize_with_code_project: the file part is named "upload", its file name "upload"."""
    response = client.post("/v1/image/alpr", files={"upload": ("upload", image)})
    assert response.status_code == 200  # raise_for_status()
    predictions = response.json().get("predictions") or []
    if not predictions:
        return None, None
    return predictions[0].get("plate"), predictions[0].get("confidence")


def viseron(client, image: bytes, min_confidence: float) -> list[dict]:
    """CodeProjectAIALPR.detect through cpai.process_image; requests writes the float as text."""
    response = client.post(
        "/v1/image/alpr", files={"image": ("image", image)}, data={"min_confidence": str(min_confidence)}
    )
    assert response.status_code == 200  # anything else raises CodeProjectAIException
    result = response.json()
    if not result["success"]:
        return []
    return [
        {"plate": d["plate"], "confidence": d["confidence"], "box": (d["x_min"], d["y_min"], d["x_max"], d["y_max"])}
        for d in sorted(result["predictions"], key=lambda x: x["confidence"])
    ]


def blue_iris(client, image: bytes, route: str = "/v1/vision/alpr") -> dict:
    response = client.post(route, files={"upload": ("Driveway.20261201_101500.jpg", image, "image/jpeg")})
    assert response.status_code == 200
    return response.json()


def alpr_database_reads(ai_dump: list[dict]) -> list[dict]:
    """route.js: find the item with api "alpr", then one plate read per prediction."""
    ai_data = next((item for item in ai_dump if item.get("api") == "alpr"), None)
    predictions = (ai_data or {}).get("found", {}).get("predictions") or []
    return [
        {
            "plate_number": p["plate"].upper(),
            "confidence": f"{p['confidence']:.2f}",  # prediction.confidence.toFixed(2): a number, not text
            "crop_coordinates": [p["x_min"], p["y_min"], p["x_max"], p["y_max"]],
        }
        for p in predictions
    ]


# --- what the clients send and read ----------------------------------------------------------------


def test_blue_iris_gets_the_modules_answer(client, photo):
    body = blue_iris(client, photo)
    assert body["success"] is True and body["code"] == 200
    assert ENVELOPE.items() <= body.items()
    assert body["count"] == len(body["predictions"]) >= 1
    best = body["predictions"][0]
    assert best["plate"] == READS_AS and best["label"] == f"Plate: {READS_AS}"
    assert 0 < best["confidence"] <= 1
    assert body["message"].startswith(f"Found Plate: {READS_AS}")
    # the scene's plate is at Box(372, 403, 139, 76): the box found must overlap it
    assert best["x_min"] < 372 + 139 and best["x_max"] > 372 and best["y_min"] < 403 + 76 and best["y_max"] > 403
    assert all(isinstance(best[k], int) for k in ("x_min", "y_min", "x_max", "y_max"))
    assert isinstance(body["inferenceMs"], int) and body["processMs"] >= body["inferenceMs"] >= 0
    assert {"requestId", "analysisRoundTripMs", "processedBy", "timestampUTC"} <= set(body)


def test_the_older_route_answers_the_same(client, photo):
    older, newer = blue_iris(client, photo, "/v1/image/alpr"), blue_iris(client, photo)
    assert [p["plate"] for p in older["predictions"]] == [p["plate"] for p in newer["predictions"]]


def test_alpr_database_stores_what_blue_iris_passes_on(client, photo):
    ai_dump = [{"api": "objects", "found": {"predictions": []}}, {"api": "alpr", "found": blue_iris(client, photo)}]
    reads = alpr_database_reads(ai_dump)
    assert reads[0]["plate_number"] == READS_AS
    assert 0 < float(reads[0]["confidence"]) <= 1
    x_min, y_min, x_max, y_max = reads[0]["crop_coordinates"]
    assert 0 <= x_min < x_max <= 960 and 0 <= y_min < y_max <= 640


def test_frigate_plate_recognizer_reads_the_top_plate(client, photo):
    plate, confidence = frigate_plate_recognizer(client, photo)
    assert plate == READS_AS and 0 < confidence <= 1


def test_viseron_sends_min_confidence_and_reads_each_plate(client, photo):
    everything = viseron(client, photo, 0.0)
    assert READS_AS in [d["plate"] for d in everything]
    best = max(d["confidence"] for d in everything)
    assert viseron(client, photo, 1.0) == []  # no read is that sure
    assert [d["confidence"] for d in viseron(client, photo, best)] == [best]


# --- bad input: success false, HTTP 200, as the module answers ----------------------------------------


@pytest.mark.parametrize(
    "files, data, needle",
    [
        ({"upload": ("x.jpg", b"GIF89a but not really")}, {}, "is not an image"),
        ({"upload": ("x.jpg", b"")}, {}, "is empty"),
        ({}, {"upload": "not a file"}, "no image: send the photo as a multipart file"),
        ({"image": ("x.png", b"\x89PNG\r\n\x1a\n")}, {}, "x.png"),
        ("photo", {"min_confidence": "high"}, "min_confidence is 'high'"),
        ("photo", {"min_confidence": "45"}, "from 0 to 1"),
    ],
)
def test_a_bad_request_is_success_false_with_a_message(client, photo, files, data, needle):
    response = client.post(
        "/v1/vision/alpr", files={"upload": ("car.png", photo)} if files == "photo" else files or None, data=data
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is False and body["code"] == 500 and body["predictions"] == [] and body["count"] == 0
    assert needle in body["error"] and body["message"] == body["error"] and "\n" not in body["error"]
    assert ENVELOPE.items() <= body.items()


def test_a_body_that_is_not_a_form_is_success_false(client):
    for content_type in ("application/json", "multipart/form-data"):  # the second without a boundary
        response = client.post("/v1/vision/alpr", content=b"{}", headers={"content-type": content_type})
        assert response.status_code == 200 and response.json()["success"] is False


def test_unknown_fields_are_ignored_and_the_first_file_is_read(client, photo):
    response = client.post(
        "/v1/vision/alpr",
        files=[("snapshot", ("cam.png", photo)), ("second", ("other.png", b"not read"))],
        data={"camera": "driveway", "operation": "plate", "api_key": "x"},
    )
    body = response.json()
    assert body["success"] is True and body["predictions"][0]["plate"] == READS_AS


# --- the watch list, and the server's gate ------------------------------------------------------------


def test_a_read_on_the_watch_list_says_so_in_every_shape(client, photo):
    expected = {"plate": "AAAA4AA", "name": "the A van", "alert": True, "edits": 1, "lookalikes": 0}
    codeproject = blue_iris(client, photo)["predictions"][0]
    snapshot = client.post("/v1/plate-reader/", files={"upload": ("car.png", photo)}).json()["results"][0]
    openalpr = client.post("/v1/recognize", files={"image": ("car.png", photo)}).json()["results"][0]
    assert codeproject["watchlist"] == snapshot["watchlist"] == openalpr["watchlist"] == expected


def test_a_list_changed_while_serving_is_used_at_once(client, photo, data_dir):
    with LabelStore.open(data_dir) as store:
        store.watch_remove("AAAA4AA")
    try:
        assert blue_iris(client, photo)["predictions"][0]["watchlist"] is None
    finally:
        with LabelStore.open(data_dir) as store:
            store.watch_add("AAAA4AA", "the A van", alert=True)


def test_a_server_without_a_label_database_answers_without_matches(constant_classifier, photo, tmp_path):
    app = create_app(ServerConfig(data_dir=str(tmp_path / "empty")), classifier=constant_classifier)
    with TestClient(app) as c:
        assert (
            c.post("/v1/vision/alpr", files={"upload": ("car.png", photo)}).json()["predictions"][0]["watchlist"]
            is None
        )
    assert not (tmp_path / "empty").exists()  # only looked: nothing created


def test_callers_in_a_tokenless_network_need_no_token(constant_classifier, photo, monkeypatch):
    monkeypatch.setenv("ALPR_API_TOKENS", "s3cret")
    config = ServerConfig(tokenless_networks=("192.168.1.0/24",))
    app = create_app(config, classifier=constant_classifier)
    with TestClient(app, client=("192.168.1.20", 50000)) as blue_iris_machine:
        assert blue_iris(blue_iris_machine, photo)["success"] is True
    with TestClient(app, client=("10.0.0.5", 50000)) as elsewhere:
        refused = elsewhere.post("/v1/vision/alpr", files={"upload": ("car.png", photo)})
        assert refused.status_code == 401
        allowed = elsewhere.post(
            "/v1/vision/alpr", files={"upload": ("car.png", photo)}, headers={"Authorization": "Token s3cret"}
        )
        assert allowed.json()["success"] is True


def test_the_routes_pass_the_gate_and_are_counted(client, photo):
    blue_iris(client, photo)
    metrics = client.get("/metrics").text
    assert 'alpr_api_requests_total{route="/v1/vision/alpr",method="POST",status="200"}' in metrics
    assert 'alpr_api_requests_total{route="/v1/image/alpr",method="POST",status="200"}' in metrics


def test_serve_takes_tokenless_networks_and_refuses_bad_ones(monkeypatch, capsys):
    from alpr.api.cli import config_from_args
    from alpr.cli import build_parser

    monkeypatch.delenv("ALPR_API_TOKENS", raising=False)
    monkeypatch.delenv("ALPR_API_TOKENS_FILE", raising=False)
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--no-token-from", "192.168.1.20"])
    assert config_from_args(args).tokenless_networks == ("192.168.1.20/32",)
    from alpr.errors import AlprError

    with pytest.raises(AlprError, match="not an address or network"):
        config_from_args(build_parser().parse_args(["serve", "--no-token-from", "blueiris.lan"]))
