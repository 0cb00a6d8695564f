"""Typing labels on the Relabel page in a real browser, fast and at a human pace: the store must
hold exactly what was typed, on the characters it was typed for, one history action per label.

The page reruns after every Enter. A person who moves on to the next box while that rerun is
still drawing must not lose, duplicate or misplace a label (issue 10, item 1). The label store
is filled before the app starts (two synthetic plates read by the shipped model), and read back
directly with SQL, so the test does not depend on what the page says it did.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from browser_support import (
    CHROMIUM,
    assert_no_traceback,
    chromium,
    screenshot,
    streamlit_app,
)
from conftest import make_scene

from alpr.pipeline import recognize
from alpr.labels import LabelStore

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}, which is missing", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

WAIT_MS = 60_000
FAST_GAPS_S = (0.1, 0.4, 0.25)  # between one Enter and the next click: faster than a rerun draws
HUMAN_GAP_S = 1.0


@pytest.fixture(scope="module")
def plates(tmp_path_factory, classifier) -> tuple[Path, list[int]]:
    """A data folder holding two plates as the Recognize page leaves them; (folder, plate ids)."""
    data = tmp_path_factory.mktemp("typing-data")
    ids = []
    with LabelStore.open(data) as store:
        for text, seed in (("ABC1234", 2), ("7ABC123", 3)):
            scene = make_scene(text, seed)
            rec = recognize(scene.image, country="us", topn=5, classifier=classifier)
            assert rec.plates and len(rec.plates[0].chars) >= 6, f"the scene {text} is cut into at least 6 segments"
            ids.append(store.add_recognition(scene.image, rec, f"{text}.png", classifier.info.version)[0])
    return data, ids


@pytest.fixture(scope="module")
def app_url(plates):
    with streamlit_app("streamlit-server-relabel-typing.log", ALPR_DATA_DIR=str(plates[0])) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def _open_plate(browser, url: str, plate_id: int):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(f"{url}relabel?plate={plate_id}")
    _boxes(page).first.wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(1500)  # the page settles: a box typed into now is not redrawn under the keys
    return context, page


def _boxes(page):
    return page.get_by_role("tabpanel", name="Plates").locator("[placeholder='type ↵']")


def _spots(page, count: int) -> list[tuple[float, float]]:
    """Where the first `count` boxes are on the screen, read once before typing: a person clicks
    where the box is, without waiting for the page to finish a rerun (Playwright's own click would
    wait until the box stops changing, which is exactly the moment a person does not wait for)."""
    _boxes(page).nth(count - 1).scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    spots = []
    for position in range(count):
        box = _boxes(page).nth(position).bounding_box()
        spots.append((box["x"] + box["width"] / 2, box["y"] + box["height"] / 2))
    return spots


def _type_at(page, spot: tuple[float, float], label: str) -> None:
    page.mouse.click(*spot)
    page.keyboard.type(label)
    page.keyboard.press("Enter")


def _settle(page) -> None:
    """Until the app has finished its reruns: no "running" indicator for a while."""
    page.wait_for_timeout(1000)
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=WAIT_MS)
    page.wait_for_timeout(1500)


def _person_labels(data: Path, plate_id: int) -> list[tuple[int, str, int]]:
    """(character id, label, action id) of every person label not undone on the plate, oldest first."""
    with sqlite3.connect(data / "labels.sqlite") as conn:
        return conn.execute(
            "SELECT l.char_id, l.label, l.action_id FROM labels l JOIN chars c ON c.id = l.char_id "
            "WHERE c.plate_id = ? AND l.source = 'person' AND l.undone_at IS NULL ORDER BY l.id",
            (plate_id,),
        ).fetchall()


def _char_ids(data: Path, plate_id: int) -> list[int]:
    with LabelStore.open(data) as store:
        return [c.id for c in store.plate_chars(plate_id)]


@pytest.mark.parametrize("pace", ["fast", "human"])
def test_labels_typed_box_after_box_land_exactly_on_their_characters(browser, app_url, plates, pace):
    data, ids = plates
    plate_id = ids[0] if pace == "fast" else ids[1]
    chars = _char_ids(data, plate_id)
    context, page = _open_plate(browser, app_url, plate_id)
    try:
        typed = {0: "X", 1: "Y", 2: "Z"}
        spots = _spots(page, len(typed))
        for n, (position, label) in enumerate(typed.items()):
            _type_at(page, spots[position], label)
            if n + 1 < len(typed):
                page.wait_for_timeout(1000 * (FAST_GAPS_S[n] if pace == "fast" else HUMAN_GAP_S))
        _settle(page)
        screenshot(page, f"browser-relabel-typed-{pace}")
        assert_no_traceback(page)

        stored = _person_labels(data, plate_id)
        # In any order: when Streamlit drops the run of one Enter, the next run saves both labels.
        assert sorted((char_id, label) for char_id, label, _ in stored) == [(chars[p], typed[p]) for p in typed]
        assert len({action for _, _, action in stored}) == len(typed), "one history action per typed label"
        # Every save was confirmed: the cards say so.
        cards = page.get_by_role("tabpanel", name="Plates")
        for label in typed.values():
            assert cards.get_by_text(f"{label} · ", exact=False).count() >= 1
    finally:
        context.close()


def test_undo_takes_back_exactly_the_label_it_names_and_works_after_a_reload(browser, app_url, plates):
    data, ids = plates
    plate_id = ids[0]
    chars = _char_ids(data, plate_id)
    context, page = _open_plate(browser, app_url, plate_id)
    try:
        spots = _spots(page, 2)
        _type_at(page, spots[0], "K")
        page.wait_for_timeout(200)
        _type_at(page, spots[1], "W")
        _settle(page)
        before = _person_labels(data, plate_id)
        assert [(c, label) for c, label, _ in before][-2:] == [(chars[0], "K"), (chars[1], "W")]

        page.get_by_role("button", name="Undo").click()
        page.get_by_text(f"Undid character 2 of plate #{plate_id} labeled W").wait_for(timeout=WAIT_MS)
        _settle(page)
        assert _person_labels(data, plate_id) == before[:-1]

        page.reload()  # a new session: the history is the store's, not the session's
        _boxes(page).first.wait_for(timeout=WAIT_MS)
        page.wait_for_timeout(1500)
        page.get_by_role("button", name="Undo").click()
        page.get_by_text(f"Undid character 1 of plate #{plate_id} labeled K").wait_for(timeout=WAIT_MS)
        _settle(page)
        screenshot(page, "browser-relabel-undone")
        assert _person_labels(data, plate_id) == before[:-2]
        assert_no_traceback(page)
    finally:
        context.close()
