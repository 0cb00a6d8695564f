"""The watch list: which reads count as a listed plate (look-alikes free, one further edit), its CSV
files (read whole or refused with every bad line), its table in the label store and its commands."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import pytest
from PIL import Image

from alpr.cli import main
from alpr.config import DEFAULT
from alpr.errors import WatchlistError
from alpr.labels import LabelStore
from alpr.labels import schema
from alpr.labels.watch import watchlist_of
from alpr.types import Box, Candidate
from alpr.video.report import to_alpr_group
from alpr.video.track import FrameRead, group_reads
from alpr.watchlist import WatchEntry, entry, match, normalise, parse_csv, to_csv

VAN = WatchEntry("ABC1234", "Alice's van", alert=True)
NEIGHBOUR = WatchEntry("XYZ987", "neighbour", alert=False)
LISTED = (VAN, NEIGHBOUR)


# --- matching ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "read, edits, lookalikes",
    [
        ("ABC1234", 0, 0),
        ("abc-1234", 0, 0),  # as people and other readers write it
        ("A8C1234", 0, 1),  # B read as 8
        ("ABC12S4", 1, 0),  # S is a look-alike of 5, not of 3: one edit
        ("A8C12S4", 1, 1),
        ("A8CI234", 0, 2),  # two look-alikes, still free
        ("ABC123", 1, 0),  # a character missed
        ("ABC12345", 1, 0),  # one extra
        ("ABD1234", 1, 0),  # one changed
        ("A8C123", 1, 1),  # a look-alike and a miss
    ],
)
def test_a_read_matches_up_to_lookalikes_and_one_edit(read, edits, lookalikes):
    found = match(read, LISTED)
    assert found is not None and found.entry == VAN
    assert (found.edits, found.lookalikes) == (edits, lookalikes)
    assert found.alert and found.exact == (edits == lookalikes == 0)


@pytest.mark.parametrize("read", ["ABD124", "XBC12345", "QQQ1234", "", "---"])
def test_two_edits_or_another_plate_match_nothing(read):
    assert match(read, LISTED) is None


def test_every_listed_lookalike_pair_is_free_both_ways():
    for pair in DEFAULT.watchlist.lookalikes:
        a, b = pair
        assert match(f"XY{a}987", [WatchEntry(f"XY{b}987")]).lookalikes == 1
        assert match(f"XY{b}987", [WatchEntry(f"XY{a}987")]).lookalikes == 1


def test_short_plates_match_only_up_to_lookalikes():
    short = [WatchEntry("AB12")]
    assert match("A812", short).lookalikes == 1
    assert match("AB13", short) is None  # one edit on four characters is a quarter of the plate
    assert match("AB1", short) is None


def test_the_closest_entry_wins_whatever_the_order():
    near = [WatchEntry("ABC1235", "one edit"), WatchEntry("A8C1234", "one look-alike")]
    assert match("ABC1234", near).entry.name == "one look-alike"
    assert match("ABC1234", near[::-1]).entry.name == "one look-alike"


def test_tolerance_is_configurable():
    strict = replace(DEFAULT.watchlist, lookalikes=(), max_edits=0)
    assert match("A8C1234", LISTED, strict) is None
    assert match("ABC1234", LISTED, strict).exact
    loose = replace(DEFAULT.watchlist, max_edits=2, lookalikes=("O0", "DQ0"))
    assert match("ABD124", LISTED, loose).edits == 2
    assert match("XYZ9Q7", [WatchEntry("XYZ9D7")], loose).lookalikes == 1


def test_the_json_field_names_the_entry_and_how_far_the_read_was():
    assert match("A8C123", LISTED).as_json() == {
        "plate": "ABC1234",
        "name": "Alice's van",
        "alert": True,
        "edits": 1,
        "lookalikes": 1,
    }


def test_entries_are_normalised_and_checked():
    assert entry(" abc-123 ", "  the   van ", True) == WatchEntry("ABC123", "the van", True)
    assert normalise("ab c.1-2") == "ABC12"
    with pytest.raises(WatchlistError, match="no letters or digits"):
        entry("--")
    with pytest.raises(WatchlistError, match="at most 10"):
        entry("ABCDEFGHIJK")


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_round_trips():
    text = to_csv(LISTED)
    assert text.splitlines()[0] == "plate,name,alert"
    assert parse_csv(text) == list(LISTED)


def test_csv_columns_may_be_left_out_and_written_loosely():
    text = "\ufeffPlate, Alert\nabc 123,YES\nxyz-9, \n\n"
    assert parse_csv(text) == [WatchEntry("ABC123", "", True), WatchEntry("XYZ9", "", False)]


def test_a_csv_with_bad_rows_is_refused_whole_naming_each_line():
    text = (
        "plate,name,alert\n"
        "ABC1234,van,yes\n"  # line 2: good
        ",nobody,no\n"  # line 3: no plate
        "XYZ987,neighbour,maybe\n"  # line 4: alert neither yes nor no
        "abc-1234,again,no\n"  # line 5: the same plate as line 2
        "KLM555,a,b,c\n"  # line 6: a comma in a name without quotes
        '"DEF 456","Smith, J",no\n'  # line 7: good (quoted comma)
    )
    with pytest.raises(WatchlistError) as refused:
        parse_csv(text, source="list.csv")
    message = str(refused.value)
    assert message.startswith("list.csv has 4 bad rows, so nothing was imported")
    for line in ("line 3:", "line 4:", "line 5:", "line 6:"):
        assert line in message
    assert "line 2:" not in message and "line 7:" not in message
    assert "first on line 2" in message and "'maybe'" in message and "\n" not in message


@pytest.mark.parametrize(
    "text, needle",
    [("name,alert\nvan,yes\n", "no 'plate' column"), ("plate,colour\nABC,red\n", "colour"), ("", "no 'plate' column")],
)
def test_a_csv_without_the_columns_is_refused(text, needle):
    with pytest.raises(WatchlistError, match=needle):
        parse_csv(text)


def test_a_long_list_of_bad_rows_is_said_in_one_line():
    text = "plate\n" + "--\n" * 40
    with pytest.raises(WatchlistError, match=r"has 40 bad rows.*and 28 more$"):
        parse_csv(text)


# --- the store ------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    with LabelStore.open(tmp_path / "data") as s:
        yield s


def test_the_store_lists_updates_and_removes_plates(store):
    assert store.watchlist() == ()
    assert store.watch_add("xyz 987", "neighbour") is True
    assert store.watch_add("ABC1234", "van", alert=True) is True
    assert store.watch_add("abc-1234", "Alice's van", alert=True) is False  # listed: updated, not doubled
    assert store.watchlist() == (VAN, NEIGHBOUR)  # by plate text
    assert store.watch_remove("XYZ-987") is True and store.watch_remove("XYZ987") is False
    assert store.watchlist() == (VAN,)
    with pytest.raises(WatchlistError):
        store.watch_add("")


def test_import_merges_or_replaces_in_one_go(store):
    store.watch_add("ABC1234", "van")
    store.watch_add("OLD1", "gone soon")
    merged = store.watch_import([VAN, NEIGHBOUR])
    assert (merged.added, merged.updated, merged.removed, merged.unchanged) == (1, 1, 0, 0)
    assert len(store.watchlist()) == 3
    replaced = store.watch_import([NEIGHBOUR], replace=True)
    assert (replaced.added, replaced.updated, replaced.removed, replaced.unchanged) == (0, 0, 2, 1)
    assert store.watchlist() == (NEIGHBOUR,)


def test_a_version_3_database_gains_an_empty_watch_list(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    conn = sqlite3.connect(folder / schema.DB_NAME)
    for migrate in schema.MIGRATIONS[:3]:
        migrate(conn)
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    with LabelStore.open(folder) as store:
        assert store.watchlist() == ()
        store.watch_add("ABC1234")
    assert watchlist_of(folder) == (WatchEntry("ABC1234"),)


def test_a_reader_that_only_looks_creates_no_database(tmp_path):
    assert watchlist_of(tmp_path / "nothing here") == ()
    assert not (tmp_path / "nothing here").exists()


# --- python -m alpr watchlist ---------------------------------------------------------------------


def test_the_watchlist_commands(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["watchlist", "add", "abc 1234", "--name", "Alice's van", "--alert", *data]) == 0
    assert main(["watchlist", "add", "XYZ987", "--name", "neighbour", *data]) == 0
    capsys.readouterr()
    assert main(["watchlist", "list", "--json", *data]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"plate": "ABC1234", "name": "Alice's van", "alert": True},
        {"plate": "XYZ987", "name": "neighbour", "alert": False},
    ]
    out = tmp_path / "list.csv"
    assert main(["watchlist", "export", str(out), *data]) == 0
    assert parse_csv(out.read_text()) == list(LISTED)
    assert main(["watchlist", "remove", "XYZ987", *data]) == 0
    assert main(["watchlist", "remove", "XYZ987", *data]) == 2  # not listed: said, and a failing status
    assert "XYZ987 is not on the watch list" in capsys.readouterr().err
    assert main(["watchlist", "import", str(out), *data]) == 0
    assert "1 added, 0 updated, 1 unchanged" in capsys.readouterr().out
    assert watchlist_of(tmp_path / "data") == LISTED


def test_importing_a_bad_csv_changes_nothing_and_says_which_lines(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path / "data")]
    main(["watchlist", "add", "KEEP1", *data])
    bad = tmp_path / "bad.csv"
    bad.write_text("plate,name,alert\nABC1234,van,yes\n,x,no\nXYZ,y,perhaps\n")
    assert main(["watchlist", "import", str(bad), "--replace", *data]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "line 3:" in err and "line 4:" in err and len(err.splitlines()) == 1
    assert watchlist_of(tmp_path / "data") == (WatchEntry("KEEP1"),)
    assert main(["watchlist", "import", str(tmp_path / "missing.csv"), *data]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_recognize_says_which_reads_are_on_the_watch_list(tmp_path, monkeypatch, capsys, constant_model):
    from conftest import make_scene

    photo = tmp_path / "car.png"
    Image.fromarray(make_scene("ABC1234", seed=2).image).save(photo)
    monkeypatch.setenv("ALPR_DATA_DIR", str(tmp_path / "data"))
    main(["watchlist", "add", "AAAA4AA", "--name", "the A van", "--alert"])  # one edit from the constant read
    capsys.readouterr()
    assert main(["recognize", str(photo), "--json", "--model", str(constant_model)]) == 0
    best = json.loads(capsys.readouterr().out)["results"][0]
    assert best["plate"] == "AAAAAAA"
    assert best["watchlist"] == {"plate": "AAAA4AA", "name": "the A van", "alert": True, "edits": 1, "lookalikes": 0}
    assert main(["recognize", str(photo), "--model", str(constant_model)]) == 0
    assert "on the watch list: AAAA4AA the A van (alert)" in capsys.readouterr().out


def test_a_vehicle_of_a_clip_says_so_in_its_group_json():
    frames = [
        [
            FrameRead(
                t, t / 4, "A8C1234", 90.0, True, Box(20 + 40 * t, 200, 60, 30), (Candidate("A8C1234", 90.0, True),), {}
            )
        ]
        for t in range(6)
    ]
    (group,) = group_reads(frames)
    assert to_alpr_group(group, "gate.mp4", LISTED)["watchlist"] == match("A8C1234", LISTED).as_json()
    assert to_alpr_group(group, "gate.mp4")["watchlist"] is None
