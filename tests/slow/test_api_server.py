"""The real server: `python -m alpr serve` on a free port, called over HTTP with multipart photos,
including the exact request the Home Assistant integration (robmarkcole/HASS-plate-recognizer,
custom_components/platerecognizer/image_processing.py) sends to a self-hosted server, read back as
it reads the answer. The constant model (every character "A") makes the plate strings exact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from browser_support import ARTIFACTS, ROOT, free_port

from alpr.imageio import encode_png
from alpr.labels import LabelStore

TOKEN = "hass-token-1"
START_TIMEOUT_S = 180  # two workers each load TensorFlow and the model; a busy 2-core machine takes a while


@contextmanager
def alpr_server(*args: str, log_name: str, env: dict | None = None):
    """`python -m alpr serve ARGS` until the block ends; yields its base URL. Log in test-artifacts/."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / log_name, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "alpr", "serve", "--port", str(port), *args],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"alpr serve exited with status {process.returncode}; see {log.name}")
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"alpr serve did not answer /healthz within {START_TIMEOUT_S} s; see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def photo() -> bytes:
    from conftest import make_scene

    return encode_png(make_scene("ABC1234", seed=2).image)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("api-data")


@pytest.fixture(scope="module")
def server(tmp_path_factory, constant_model, data_dir):
    tokens = tmp_path_factory.mktemp("api-tokens") / "tokens"
    tokens.write_text(f"# Home Assistant\n{TOKEN}\n")
    # One read at a time and none waiting: a second request at the same moment must get 429.
    with alpr_server(
        "--model",
        str(constant_model),
        "--tokens-file",
        str(tokens),
        "--keep-reads",
        "--data-dir",
        str(data_dir),
        "--max-running",
        "1",
        "--max-waiting",
        "0",
        "--max-calls",
        "2500",
        log_name="api-server.log",
    ) as url:
        yield url


def hass_request(server: str, image: bytes, regions: list[str] | None, mmc: bool, config: dict) -> httpx.Response:
    """What image_processing.py's process_image sends: requests.post(server, data=dict(regions=regions,
    camera_id=self.name, mmc=self._mmc, config=json.dumps(self._config)), files={"upload": image},
    headers={"Authorization": f"Token {api_token}"}). requests leaves out a None field, repeats a
    list's, and writes a bool as "True"/"False"; the file part is named "upload" with no file name."""
    data = {"camera_id": "platerecognizer_driveway", "mmc": str(mmc), "config": json.dumps(config)}
    if regions is not None:
        data["regions"] = regions
    return httpx.post(
        server + "/v1/plate-reader/",
        data=data,
        files={"upload": ("upload", image)},
        headers={"Authorization": f"Token {TOKEN}"},
        timeout=60,
    )


def read_like_hass(response: dict, mmc: bool) -> dict:
    """What the integration takes from the answer, in its own expressions."""
    results = response["results"]
    vehicles = [
        {
            "plate": r["plate"],
            "confidence": r["score"],
            "region_code": r["region"]["code"],
            "vehicle_type": r["vehicle"]["type"],
            "box_y_centre": r["box"]["ymin"] + (r["box"]["ymax"] - r["box"]["ymin"]) / 2,
            "box_x_centre": r["box"]["xmin"] + (r["box"]["xmax"] - r["box"]["xmin"]) / 2,
        }
        for r in results
    ]
    plates = list({cand["plate"] for result in results for cand in result["candidates"]})
    orientations = []
    if mmc:
        orientations = list({c["orientation"] for r in results for c in r["orientation"] if c["score"] >= 0.7})
    stats = response["usage"]
    stats["calls_remaining"] = stats["max_calls"] - stats["calls"]
    return {"vehicles": vehicles, "plates": plates, "orientations": orientations, "statistics": stats}


@pytest.mark.parametrize(
    "regions, mmc, config",
    [
        (None, False, {}),
        (["us-ca", "us"], True, {"region": "strict"}),
        (["de"], True, {"detection_rule": "strict"}),
    ],
)
def test_the_home_assistant_request_reads_back_what_the_integration_uses(server, photo, regions, mmc, config):
    response = hass_request(server, photo, regions, mmc, config)
    assert response.status_code == 200, response.text
    seen = read_like_hass(response.json(), mmc)
    best = seen["vehicles"][0]
    assert best["plate"] == "aaaaaaa" and 0 < best["confidence"] <= 1
    assert best["region_code"] == (regions[0] if regions else "us")
    assert best["vehicle_type"] == "Unknown"
    assert 372 < best["box_x_centre"] < 372 + 139 and 403 < best["box_y_centre"] < 403 + 76  # the scene's plate
    assert "aaaaaaa" in seen["plates"]
    assert seen["orientations"] == []  # answered "Unknown" at score 0: below the integration's 0.7
    if not mmc:  # the integration's default: what we cannot tell is left out
        assert not any({"orientation", "model_make", "color"} & set(r) for r in response.json()["results"])
    assert seen["statistics"]["max_calls"] == 2500 and 0 < seen["statistics"]["calls"] < 2500


def test_the_token_is_required_and_checked(server, photo):
    missing = httpx.post(server + "/v1/plate-reader/", files={"upload": ("car.png", photo)})
    wrong = httpx.post(
        server + "/v1/plate-reader/", files={"upload": ("car.png", photo)}, headers={"Authorization": "Token nope"}
    )
    assert (missing.status_code, wrong.status_code) == (401, 403)
    assert list(missing.json()) == list(wrong.json()) == ["error"]


def test_bad_input_over_http_leaves_the_worker_up(server, photo):
    pid = httpx.get(server + "/healthz").json()["pid"]
    auth = {"Authorization": f"Token {TOKEN}"}
    cases = [
        ({"upload": ("x.jpg", b"GIF89a but not really")}, 415),
        ({"upload": ("x.png", photo[:2000])}, 422),
        ({"upload": ("x.png", b"")}, 400),
        ({"photo": ("x.png", photo)}, 400),
    ]
    for files, status in cases:
        response = httpx.post(server + "/v1/plate-reader/", files=files, headers=auth, timeout=60)
        assert response.status_code == status and list(response.json()) == ["error"], response.text
    huge = httpx.post(
        server + "/v1/plate-reader/",
        content=b"\0" * (51 * 2**20),
        timeout=60,
        headers={**auth, "content-type": "multipart/form-data; boundary=x"},
    )
    assert huge.status_code == 413
    assert httpx.get(server + "/healthz").json()["pid"] == pid
    assert hass_request(server, photo, None, False, {}).status_code == 200


def test_requests_over_the_concurrency_limit_get_429_at_once(server, photo):
    clients = 8
    start = threading.Barrier(clients)  # all at the same moment, while the first is still being read

    def post(_):
        start.wait()
        return hass_request(server, photo, None, False, {}).status_code

    with ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(post, range(clients)))
    assert 200 in statuses and 429 in statuses, statuses
    assert set(statuses) <= {200, 429}
    assert hass_request(server, photo, None, False, {}).status_code == 200  # and the worker still reads


def test_openalpr_json_over_http(server, photo):
    response = httpx.post(
        server + "/v1/recognize",
        files={"image": ("car.png", photo)},
        data={"country": "us", "topn": "5"},
        headers={"Authorization": f"Token {TOKEN}"},
        timeout=60,
    )
    body = response.json()
    assert body["results"][0]["plate"] == "AAAAAAA" and body["regions_of_interest"][0]["width"] == 960


def test_metrics_and_kept_reads(server, photo, data_dir):
    hass_request(server, photo, None, False, {})
    metrics = httpx.get(server + "/metrics", headers={"Authorization": f"Token {TOKEN}"}).text
    assert 'alpr_api_requests_total{route="/v1/plate-reader/",method="POST",status="200"}' in metrics
    assert 'alpr_pipeline_stage_seconds_count{stage="classify"}' in metrics
    with LabelStore.open(data_dir) as store:
        assert "AAAAAAA" in {p.text_read for p in store.recent_plates()}


def test_two_workers_take_their_options_from_the_serve_command(constant_model, photo):
    """Worker processes import the app by name: --model must reach them through the environment."""
    with alpr_server("--model", str(constant_model), "--workers", "2", log_name="api-server-2.log") as url:
        health = httpx.get(url + "/healthz").json()
        response = httpx.post(url + "/v1/plate-reader/", files={"upload": ("car.png", photo)}, timeout=60)
    assert health["model"] == "constant-A" and health["pid"] != os.getpid()
    assert response.json()["results"][0]["plate"] == "aaaaaaa"


def test_codeproject_clients_over_http_without_a_token(constant_model, photo, tmp_path):
    """`serve --port` as Blue Iris's AI server: a token is required of everyone but this machine
    (--no-token-from 127.0.0.1), and what frigate_plate_recognizer and Viseron send is answered as
    CodeProject.AI's module answers, in one unchunked body (CodeProject.AI avoids chunking: Blue Iris
    fails on it). The requests and readings are those of tests/unit/test_api_codeproject.py."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN}\n")
    data = tmp_path / "data"
    with LabelStore.open(data) as store:
        store.watch_add("AAAAAAA", "the A van", alert=True)
    with alpr_server(
        "--model",
        str(constant_model),
        "--tokens-file",
        str(tokens),
        "--no-token-from",
        "127.0.0.1",
        "--data-dir",
        str(data),
        log_name="api-server-codeproject.log",
    ) as url:
        frigate = httpx.post(url + "/v1/image/alpr", files={"upload": ("upload", photo)}, timeout=60)
        viseron = httpx.post(
            url + "/v1/image/alpr", files={"image": ("image", photo)}, data={"min_confidence": "0.45"}, timeout=60
        )
        broken = httpx.post(url + "/v1/vision/alpr", files={"upload": ("x.jpg", b"not a photo")}, timeout=60)
        metrics = httpx.get(url + "/metrics").text  # no token from here either
    for response in (frigate, viseron, broken):
        assert response.status_code == 200
        assert "content-length" in response.headers and "transfer-encoding" not in response.headers
    best = frigate.json()["predictions"][0]
    assert (best["plate"], best["label"]) == ("AAAAAAA", "Plate: AAAAAAA") and 0 < best["confidence"] <= 1
    assert best["watchlist"] == {"plate": "AAAAAAA", "name": "the A van", "alert": True, "edits": 0, "lookalikes": 0}
    answer = viseron.json()
    assert answer["success"] and answer["moduleId"] == "ALPR" and answer["count"] == len(answer["predictions"])
    assert all(p["confidence"] >= 0.45 for p in answer["predictions"])
    assert broken.json()["success"] is False and "is not an image" in broken.json()["error"]
    assert 'alpr_api_requests_total{route="/v1/image/alpr",method="POST",status="200"} 2' in metrics
