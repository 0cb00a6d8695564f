"""What every browser test needs: `streamlit run app.py` on a free port, and Debian's Chromium.

Imported by the test_browser*.py modules only after they have checked Chromium and Playwright
are present (they skip otherwise).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
# No sandbox (we run as root in CI), no GPU, and none of the background traffic that this
# machine's closed network would refuse.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Server:
    """A running `streamlit run app.py`: its URL, its process and where its log goes."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def memory_mb(self) -> dict[str, float]:
        """The server's resident memory now ("rss") and its peak so far ("peak"), in MB, from
        /proc/PID/status (Linux): VmRSS and VmHWM, the high-water mark the kernel keeps."""
        fields = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
            if ":" in line
        )
        return {name: int(fields[key].split()[0]) / 1024 for name, key in (("rss", "VmRSS"), ("peak", "VmHWM"))}

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def streamlit_server(log_name: str, unset: tuple[str, ...] = ("ALPR_SAMPLES_DIR",), **env_overrides: str):
    """Serve this checkout's app until the block ends; yields the `Server`. The server log goes to
    test-artifacts/LOG_NAME for a person to read when a test fails."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / log_name, "wb")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(env_overrides)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"streamlit exited with status {server.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(url + "_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer /_stcore/health within {START_TIMEOUT_S} s; see {log.name}")
            time.sleep(0.3)
        yield Server(url, server, Path(log.name))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@contextmanager
def streamlit_app(log_name: str, unset: tuple[str, ...] = ("ALPR_SAMPLES_DIR",), **env_overrides: str):
    """Serve this checkout's app until the block ends; yields its URL (see `streamlit_server`)."""
    with streamlit_server(log_name, unset, **env_overrides) as server:
        yield server.url


@contextmanager
def chromium():
    """A headless Debian Chromium driven by Playwright; never a downloaded browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


START_TEXT = "Upload a photo, take one with the camera"  # on the Recognize page once the app has drawn


@contextmanager
def open_app(browser, url: str, timeout_ms: int):
    """A fresh session of the app at a laptop-sized window, with the start page loaded."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(url)
    page.get_by_text(START_TEXT).wait_for(timeout=timeout_ms)
    try:
        yield page
    finally:
        context.close()


def screenshot(page, name: str) -> Path:
    """Full-page screenshot to test-artifacts/NAME.png. Streamlit scrolls inside its own main
    element, not the document, so the window is grown to the content's height first, or the
    picture stops at the first screen."""
    size = page.viewport_size
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], section')].map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], int(height) + 40)})
    page.wait_for_timeout(1000)  # let plotly re-lay out its charts at the new size
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def choose(page, picker_label: str, option: str, tries: int = 5) -> None:
    """Pick an option of a selectbox. Right after a long run the page may still be settling (the
    table's grid mounts and takes focus), which closes a list opened too early: open it again."""
    from playwright.sync_api import TimeoutError

    picker = page.locator("[data-testid=stSelectbox]").filter(has_text=picker_label)
    for _ in range(tries - 1):
        picker.locator("input").click()
        try:
            page.get_by_role("option", name=option).click(timeout=3000)
            return
        except TimeoutError:
            page.keyboard.press("Escape")
    picker.locator("input").click()
    page.get_by_role("option", name=option).click()


def first_char_box(page):
    """The Relabel page's box for typing the first character's class (sync or async page). The
    Plates tab's, not the page's first: while the page redraws, the hidden Review queue's boxes can
    come first in the document."""
    return page.get_by_role("tabpanel", name="Plates").locator("[placeholder='type ↵']").first


def assert_no_traceback(page) -> None:
    assert "Traceback" not in page.locator("body").inner_text()
    assert not page.locator("[data-testid=stException]").count()
