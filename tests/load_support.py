"""Several browser sessions and a labeling script against one app server at once.

Each session (its own browser context, so its own Streamlit session and thread on the server)
uploads a photo on the Recognize page, waits for the read, follows "Fix this read" and corrects the
plate's first character on the Relabel page, once per round. Meanwhile a script process adds
labeled plates to the same label store with `python -m alpr labels add-plate`, one after another.
tests/slow/test_load.py asserts on what this returns; scripts/load_test.py prints it as a table.

One async Playwright drives every session from one thread (Playwright's sync API cannot be shared
between threads), so the sessions really overlap on the server.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import parse_qs, urlparse

import numpy as np

from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, ROOT, START_TEXT, first_char_box

UPLOAD = "[data-testid=stFileUploader] input[type=file]"


@dataclass(frozen=True)
class Photo:
    """A synthetic street photo on disk and what `recognize` reads in it when called directly."""

    name: str
    path: Path
    text: str  # the plate drawn on it
    plates: tuple[str, ...]  # the plates read, best first, as the page's metrics show them ("?" for none)
    first_guess: str  # the model's guess for the best plate's first character

    @property
    def fix(self) -> str:
        """The "correction" a session types for the first character: never the model's own guess."""
        return "X" if self.first_guess != "X" else "Y"


@dataclass(frozen=True)
class Read:
    """One round of one session: what the page showed and which label it wrote."""

    session: int
    photo: Photo
    shown: tuple[str, ...]  # the plate metrics of the Recognize page
    plate_id: int  # from the "Fix this read" link
    read_s: float  # upload to the read drawn
    round_s: float  # upload to the correction saved


@dataclass(frozen=True)
class Added:
    """One `labels add-plate` of the script."""

    path: Path
    text: str
    plate_id: int
    seconds: float  # the whole CLI process: Python, TensorFlow and the model start included


@dataclass
class LoadResult:
    reads: list[Read] = field(default_factory=list)
    added: list[Added] = field(default_factory=list)
    wall_s: float = 0.0
    screenshots: list[Path] = field(default_factory=list)


def readable_photos(folder: Path, n: int, seed: int = 0, classifier=None) -> list[Photo]:
    """n different synthetic photos in which the model (the shipped one by default) reads a plate,
    written to FOLDER as PNG; photos where it finds none are skipped, since they have nothing to relabel."""
    from alpr.imageio import encode_png, load_image
    from alpr.pipeline import recognize
    from alpr.synth import random_plate_text, render_scene

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    photos: list[Photo] = []
    for k in range(20 * n):
        if len(photos) == n:
            break
        text = random_plate_text(rng, "us")
        data = encode_png(render_scene(text, rng, "us")[0])
        # What the app reads is the decoded upload: the same call on the same bytes.
        rec = recognize(load_image(data), country="us", topn=10, classifier=classifier)
        if not rec.plates or not rec.plates[0].predictions:
            continue
        path = folder / f"load-{seed}-{k}.png"
        path.write_bytes(data)
        photos.append(
            Photo(path.name, path, text, tuple(p.plate or "?" for p in rec.plates), rec.plates[0].predictions[0].char)
        )
    if len(photos) < n:
        raise RuntimeError(f"the model read a plate in only {len(photos)} of {20 * n} synthetic photos; need {n}")
    return photos


def labeled_photos(folder: Path, n: int | None, seed: int = 1000) -> Iterator[tuple[Path, str]]:
    """Different synthetic photos and their plate text for the script to add, each written to FOLDER
    when it is asked for; n of them, or as many as asked for when n is None."""
    from alpr.imageio import encode_png
    from alpr.synth import random_plate_text, render_scene

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for k in itertools.count() if n is None else range(n):
        text = random_plate_text(rng, "us")
        path = folder / f"script-{seed}-{k}.png"
        path.write_bytes(encode_png(render_scene(text, rng, "us")[0]))
        yield path, text


async def _screenshot(page, name: str) -> Path:
    """browser_support.screenshot for the async API: the window grown to the content's height."""
    size = page.viewport_size
    height = await page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], section')].map(e => e.scrollHeight))"
    )
    await page.set_viewport_size({"width": size["width"], "height": max(size["height"], int(height) + 40)})
    await page.wait_for_timeout(1000)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    await page.set_viewport_size(size)
    return path


async def _no_traceback(page, where: str) -> None:
    if (
        "Traceback" in await page.locator("body").inner_text()
        or await page.locator("[data-testid=stException]").count()
    ):
        raise AssertionError(f"the page shows a traceback {where}")


async def _plates_shown(page, expected: tuple[str, ...], settle_ms: int = 20_000) -> tuple[str, ...]:
    """The plate metrics of the Recognize page once they have settled: Streamlit draws a rerun's
    elements one by one, so a snapshot taken while the page is still being drawn can hold none of
    them. Waits up to SETTLE_MS for EXPECTED, then returns what is shown, right or wrong."""
    from playwright.async_api import expect

    metrics = page.locator("[data-testid=stMetricValue]")
    try:
        await expect(metrics).to_have_text(list(expected), timeout=settle_ms)
    except AssertionError:
        pass  # the caller compares and reports what the page shows
    return tuple(await metrics.all_inner_texts())


async def _session(
    browser, url: str, n: int, photos: list[Photo], timeout_ms: int, result: LoadResult, screenshots: bool
) -> None:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(timeout_ms)  # clicks and typing wait as long as the reads may take
    page = await context.new_page()
    try:
        for r, photo in enumerate(photos):
            await _round(page, url, n, r, photo, timeout_ms, result, screenshots)
    except Exception:
        # What the page showed when it went wrong, for the person reading the failure.
        await page.screenshot(path=str(ARTIFACTS / f"load-session-{n}-failed.png"), full_page=True)
        raise
    finally:
        await context.close()


async def _round(
    page, url: str, n: int, r: int, photo: Photo, timeout_ms: int, result: LoadResult, screenshots: bool
) -> None:
    """One round: upload PHOTO on Recognize, check the read, correct its first character on Relabel."""
    from playwright.async_api import expect

    await page.goto(url)  # a new Streamlit session each round
    await page.get_by_text(START_TEXT).wait_for(timeout=timeout_ms)
    started = time.monotonic()
    await page.locator(UPLOAD).set_input_files(str(photo.path))
    await page.locator("[data-testid=stHeading]").filter(has_text=photo.name).wait_for(timeout=timeout_ms)
    # Recognize opens on the read: the plate card and its crops; the detector's evidence is folded.
    await page.locator("summary").filter(has_text="Show how it decided").wait_for(timeout=timeout_ms)
    await page.get_by_text("What the classifier saw").first.wait_for(timeout=timeout_ms)
    read_s = time.monotonic() - started
    link = page.get_by_role("link", name="Fix this read").first
    await link.wait_for(timeout=timeout_ms)
    shown = await _plates_shown(page, photo.plates)
    await _no_traceback(page, f"after session {n} read {photo.name}")
    plate_id = int(parse_qs(urlparse(await link.get_attribute("href")).query)["plate"][0])
    if screenshots and r == 0:
        result.screenshots.append(await _screenshot(page, f"load-session-{n}-read"))

    await link.click()
    await page.get_by_text("Whole plate", exact=True).wait_for(timeout=timeout_ms)
    # The plate the link named is open, not whichever plate another session stored last.
    await expect(page.get_by_role("combobox", name="Plate")).to_have_value(
        f"#{plate_id} · {photo.name} · read {photo.plates[0]}", timeout=timeout_ms
    )
    box = first_char_box(page)
    await box.fill(photo.fix)
    await box.press("Enter")
    await page.get_by_text(f"Character 1 labeled {photo.fix}").wait_for(timeout=timeout_ms)
    await page.get_by_text("corrected").first.wait_for(timeout=timeout_ms)
    round_s = time.monotonic() - started
    await _no_traceback(page, f"after session {n} corrected plate #{plate_id}")
    if screenshots and r == 0:
        result.screenshots.append(await _screenshot(page, f"load-session-{n}-relabel"))
    result.reads.append(Read(n, photo, shown, plate_id, read_s, round_s))


async def _script(
    data_dir: Path, photos: Iterable[tuple[Path, str]], at_least: int, sessions_done: asyncio.Event, result: LoadResult
) -> None:
    """`labels add-plate` once per photo, one process after another, while the sessions run: at least
    AT_LEAST times, then until the sessions are done or the photos run out."""
    for k, (path, text) in enumerate(photos):
        if k >= at_least and sessions_done.is_set():
            break
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "alpr",
            "labels",
            "add-plate",
            str(path),
            "--plate",
            text,
            "--data-dir",
            str(data_dir),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await proc.communicate()
        except asyncio.CancelledError:  # a session failed: do not leave the CLI writing behind us
            proc.kill()
            await proc.wait()
            raise
        if proc.returncode:
            raise AssertionError(f"labels add-plate {path.name} exited {proc.returncode}: {err.decode()[-2000:]}")
        match = re.match(r"plate (\d+): ", out.decode())
        if not match:
            raise AssertionError(f"labels add-plate {path.name} printed {out.decode()!r}")
        result.added.append(Added(path, text, int(match.group(1)), time.monotonic() - started))


async def _run(url, data_dir, session_photos, script_photos, script_at_least, timeout_ms, screenshots) -> LoadResult:
    from playwright.async_api import async_playwright

    result = LoadResult()
    sessions_done = asyncio.Event()
    started = time.monotonic()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # A TaskGroup: the first failure cancels the rest, so it is reported at once and alone.
            async with asyncio.TaskGroup() as everyone:
                sessions = [
                    everyone.create_task(_session(browser, url, n, photos, timeout_ms, result, screenshots))
                    for n, photos in enumerate(session_photos)
                ]
                everyone.create_task(_script(data_dir, script_photos, script_at_least, sessions_done, result))
                await asyncio.wait(sessions)
                sessions_done.set()
        except ExceptionGroup as failed:
            raise failed.exceptions[0]
        finally:
            await browser.close()
    result.wall_s = time.monotonic() - started
    return result


def run_load(
    url: str,
    data_dir: Path,
    session_photos: list[list[Photo]],
    script_photos: Iterable[tuple[Path, str]],
    script_at_least: int,
    timeout_ms: int = 90_000,
    screenshots: bool = True,
) -> LoadResult:
    """Every session's rounds (session n reads session_photos[n], one photo per round) and the
    script's adds, all at once against the app at URL whose label store is DATA_DIR."""
    return asyncio.run(_run(url, data_dir, session_photos, script_photos, script_at_least, timeout_ms, screenshots))


def model_loads(log_text: str) -> int:
    """How often the server loaded a character model, from its log (see alpr.appstate)."""
    return log_text.count("loaded character model ")
