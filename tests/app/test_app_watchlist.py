"""The Watch list page driven headless with AppTest, on a label store in a temporary folder: what the
form adds and the picker removes ends up in the store (checked by opening the store itself), bad
input is a one-line message, and a read that matches a listed plate carries a badge on Recognize.
Import and export (a file upload) and the sign-in are driven in tests/browser/test_browser_watchlist.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from apptest_support import assert_clean
from streamlit.testing.v1 import AppTest

from alpr.api import auth
from alpr.labels import LabelStore
from alpr.paths import DATA_DIR_ENV
from alpr.watchlist import WatchEntry

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 120


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv(DATA_DIR_ENV, str(folder))
    for name in (auth.APP_TOKENS_FILE_ENV, auth.TOKENS_FILE_ENV, auth.TOKENS_ENV):
        monkeypatch.delenv(name, raising=False)
    return folder


def listed(data_dir: Path) -> tuple[WatchEntry, ...]:
    with LabelStore.open(data_dir) as store:
        return store.watchlist()


def watch_page(at: AppTest | None = None) -> AppTest:
    if at is None:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.run()
    at.switch_page("pages/watchlist.py").run()
    assert_clean(at)
    assert at.title[0].value == "Watch list"
    return at


def add(at: AppTest, plate: str, name: str = "", alert: bool = False) -> None:
    at.text_input(key="watchlist_add_plate").input(plate)
    at.text_input(key="watchlist_add_name").input(name)
    at.toggle(key="watchlist_add_alert").set_value(alert)
    next(b for b in at.button if b.label == "Add").click().run()
    assert_clean(at)


def badges(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if "-badge[" in m.value]


def test_an_empty_list_says_how_to_fill_it(data_dir):
    at = watch_page()
    assert any("No plate is listed yet" in i.value for i in at.info)
    assert at.subheader[0].value == "0 listed plates"


def test_the_form_lists_a_plate_and_updates_it_when_added_again(data_dir):
    at = watch_page()
    add(at, "abc 1234", "Alice's van", alert=True)
    assert listed(data_dir) == (WatchEntry("ABC1234", "Alice's van", True),)
    assert [t.value for t in at.toast] == ["Listed ABC1234."]
    table = at.dataframe[0].value
    assert list(table["Plate"]) == ["ABC1234"] and list(table["Alert"]) == [True]
    add(at, "ABC-1234", "Alice's other van", alert=False)
    assert listed(data_dir) == (WatchEntry("ABC1234", "Alice's other van", False),)
    assert at.subheader[0].value == "1 listed plate"


def test_a_plate_that_cannot_be_listed_is_one_line_and_changes_nothing(data_dir):
    at = watch_page()
    add(at, "--", "nobody")
    assert listed(data_dir) == ()
    assert any("Could not list '--'" in e.value and "no letters or digits" in e.value for e in at.error)


def test_picked_plates_are_removed(data_dir):
    with LabelStore.open(data_dir) as store:
        for plate in ("ABC1234", "XYZ987", "KLM555"):
            store.watch_add(plate)
    at = watch_page()
    assert at.button(key="watchlist_remove").disabled
    at.multiselect(key="watchlist_remove_pick").select("XYZ987").select("KLM555").run()
    at.button(key="watchlist_remove").click().run()
    assert_clean(at)
    assert listed(data_dir) == (WatchEntry("ABC1234"),)
    assert [t.value for t in at.toast] == ["Removed XYZ987, KLM555."]
    assert at.multiselect(key="watchlist_remove_pick").value == []


def test_trying_a_read_shows_what_it_would_match(data_dir):
    with LabelStore.open(data_dir) as store:
        store.watch_add("ABC1234", "Alice's van", alert=True)
    at = watch_page()
    at.text_input(key="watchlist_try").input("a8c-123").run()
    assert_clean(at)
    assert badges(at) and ":red-badge[" in badges(at)[0] and "Alice's van" in badges(at)[0]
    assert any("A8C123 is ABC1234 with 1 look-alike swap(s) and 1 edit(s)" in c.value for c in at.caption)
    at.text_input(key="watchlist_try").input("QQQ999").run()
    assert not badges(at) and any("QQQ999 matches no listed plate" in c.value for c in at.caption)


def test_a_read_on_the_list_carries_a_badge_on_recognize(data_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.selectbox(key="recognize_sample").select_index(0).run()
    assert_clean(at)
    assert not badges(at)
    read = at.metric[0].value  # whatever the active model reads on the sample
    assert read and read != "?"
    with LabelStore.open(data_dir) as store:
        store.watch_add(read, "the sample's car", alert=False)
    at.run()
    assert any(":violet-badge[" in b and "the sample's car" in b for b in badges(at))
