"""How the Evaluate page says its numbers, decided in alpr.evaluate: shares, a read against its
truth, why a plate missed, the groups table and the messages of a send to the relabel queue."""

from __future__ import annotations

from pathlib import Path

from alpr import evaluate as ev


def _result(read: str, truth: str = "ABC123", **kw) -> ev.PhotoResult:
    fields = {
        "path": f"{read or 'none'}.jpg",
        "group": "us",
        "truth": truth,
        "read": read,
        "candidates": (read,),
        "detected": True,
        "char_correct": 0,
        "ms": 10.0,
    }
    return ev.PhotoResult(**(fields | kw))


def test_exact_shares_have_no_decimals_others_one_and_no_total_is_a_dash():
    assert ev.share_text(3, 3) == "100%"
    assert ev.share_text(0, 3) == "0%"
    assert ev.share_text(1, 3) == "33.3%"
    assert ev.share_text(0.5) == "50.0%"
    assert ev.share_text(1, 0) == "–"


def test_a_read_shows_its_wrong_characters_in_red_and_a_wrong_length_all_red():
    assert ev.read_markdown("ABX", "ABC") == "**AB**:red[**X**]"
    # Never two bold spans side by side: Markdown would print their asterisks ("W0BVWMK****4").
    assert ev.read_markdown("W0BVWMK4", "WOBVWMKA") == "**W**:red[**0**]**BVWMK**:red[**4**]"
    assert "****" not in ev.read_markdown("ABCDEFG", "ABCDEFG")
    assert ev.read_markdown("AB", "ABC") == ":red[**AB**]"
    assert ev.read_markdown("", "ABC") == ":red[nothing]"


def test_why_a_plate_missed_names_the_error_the_missed_box_or_the_right_plate_among_the_candidates():
    assert ev.why_wrong(_result("", error="cannot open"), 10) == "cannot open"
    assert ev.why_wrong(_result("", detected=False), 10) == "no plate found at the labeled box"
    assert ev.why_wrong(_result("ABC128", candidates=("ABC128", "ABC123")), 10) == "right plate among the top 10"
    assert ev.why_wrong(_result("XYZ"), 10) == ""


def test_the_groups_table_has_a_row_per_model_and_group_then_all_with_shares_in_percent():
    results = (_result("ABC123"), _result("XYZ"), _result("ABC123", group="eu"))
    rows = ev.group_rows([ev.ModelRun("m", Path("m.keras"), "v1", results, 1.0)], 10)
    assert [(r["Model"], r["Group"], r["Plates"]) for r in rows] == [("v1", "eu", 1), ("v1", "us", 2), ("v1", "all", 3)]
    assert [r["Top-1"] for r in rows] == [100.0, 50.0, 100 * 2 / 3]
    assert "Top-10" in rows[-1]


def _sent(matched: bool, plate_id: int = 1) -> ev.SentPlate:
    return ev.SentPlate(Path("a.jpg"), "us/a.jpg", plate_id, matched, 6 if matched else 5, 6)


def test_a_plate_cut_into_the_wrong_count_is_sent_with_a_warning_to_fix_it():
    [(kind, text)] = ev.sent_messages([_sent(False)])
    assert kind == "warning"
    assert "cut into 5 segments for 6 characters" in text
    [(kind, text)] = ev.sent_messages([_sent(True)])
    assert (kind, text) == ("success", "us/a.jpg is plate #1 in the relabel queue: 6 characters labeled from its truth")


def test_many_plates_sent_at_once_are_said_in_one_line_and_every_error_is_kept():
    few = ev.sent_messages([_sent(True), _sent(False)])
    assert ev.fold_messages(few) == few
    many = ev.sent_messages([_sent(True, i) for i in range(3)] + [_sent(False, 9)]) + [("error", "disk full")]
    assert ev.fold_messages(many) == [
        ("success", "Sent 4 plates to the relabel queue (1 need their segmentation fixed)"),
        ("error", "disk full"),
    ]
