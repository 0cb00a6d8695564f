"""The README's accuracy table: how far each region is from issue 11's goal, and the kinds of miss."""

from alpr import scorecard
from alpr.evaluate import PhotoResult, error_kind, summarize


def result(
    group: str, truth: str, read: str, candidates=None, crop=False, error="", extra=0, confidence=0.0
) -> PhotoResult:
    return PhotoResult(
        path=f"{group}/{truth}.jpg",
        group=group,
        truth=truth,
        read=read,
        candidates=tuple(candidates if candidates is not None else ([read] if read else [])),
        detected=bool(read),
        char_correct=0,
        ms=100.0,
        error=error,
        extra=extra,
        crop=crop,
        confidence=confidence,
    )


def test_each_file_has_one_kind_in_the_order_they_are_tested():
    assert error_kind(result("us", "ABC123", "ABC123")) == "right"
    assert error_kind(result("us", "ABC123", "A8C123", ["A8C123", "ABC123"])) == "in_top"
    assert error_kind(result("us", "ABC123", "")) == "missed"
    assert error_kind(result("us", "ABC123", "ABC1234")) == "length"
    assert error_kind(result("us", "ABC123", "ABC128")) == "chars"
    assert error_kind(result("us", "ABC123", "", error="cannot open")) == "unreadable"


def test_summarize_counts_every_kind_per_folder():
    rows = summarize([result("us", "ABC123", "ABC123"), result("us", "XYZ789", ""), result("eu", "AB12CD", "AB12C")])
    by_group = {r["group"]: r["kinds"] for r in rows}
    assert by_group["us"] == {"right": 1, "in_top": 0, "length": 0, "chars": 0, "missed": 1, "unreadable": 0}
    assert by_group["all"]["length"] == 1


def test_the_goal_is_looked_up_by_the_folders_country_and_whether_it_holds_crops():
    rows = {
        r["group"]: r for r in summarize([result("endtoend/us", "A", "A"), result("plates/us", "B", "B", crop=True)])
    }
    assert scorecard.goal_for(rows["endtoend/us"]).top1 == 0.85
    assert scorecard.goal_for(rows["plates/us"]).top1 == 0.95
    assert scorecard.goal_for(rows["all"]) is None


def test_a_folder_of_no_known_country_has_no_goal():
    row = summarize([result("endtoend/xx", "A", "A")])[0]
    assert scorecard.goal_for(row) is None
    assert scorecard.short_of(row, None) == "-"


def test_short_of_says_how_many_more_files_must_read_right():
    # 18 of 27 US photos: 85% of 27 is 22.95, so 23 must read right: 5 more.
    row = summarize([result("us", "A", "A")] * 18 + [result("us", "A", "")] * 9)[0]
    assert scorecard.short_of(row, scorecard.Goal(0.85)) == "5 more"
    # 9 of 9 EU photos meets 95%; so does exactly 95 of 100 (no rounding up past the goal).
    assert scorecard.short_of(summarize([result("eu", "A", "A")] * 9)[0], scorecard.Goal(0.95)) == "met"
    exact = summarize([result("eu", "A", "A")] * 95 + [result("eu", "A", "")] * 5)[0]
    assert scorecard.short_of(exact, scorecard.Goal(0.95)) == "met"


def test_goal_table_has_a_line_per_folder_and_none_for_all():
    rows = summarize([result("endtoend/br", "ABC1234", "ABC1234", extra=1), result("plates/us", "B", "", crop=True)])
    table = scorecard.goal_table(rows, topn=10)
    assert table[0][5] == "top-10"
    assert [line[0] for line in table[1:]] == ["endtoend/br", "plates/us (crops)"]
    assert table[1][2:5] == ["1 (100.0%)", "≥ 95%", "met"]
    assert table[1][7] == "1.00"  # one plate reported away from the labeled one
    assert table[2][2:5] == ["0 (0.0%)", "≥ 95%", "1 more"]
    assert table[2][7] == "-"  # a crop holds one plate: no junk budget


def test_kinds_table_leaves_out_kinds_no_file_has_but_always_shows_read_right():
    rows = summarize([result("us", "ABC123", ""), result("eu", "AB12CD", "AB12C")])
    table = scorecard.kinds_table(rows)
    assert table[0] == ["kind", "eu (1)", "us (1)"]
    assert [line[0] for line in table[1:]] == [
        "read right",
        "plate read, another number of characters",
        "nothing reported at the plate",
    ]
    assert table[1][1:] == ["0", "0"]


def test_markdown_and_plain_render_the_same_cells():
    table = [["kind", "us (2)"], ["read right", "1"]]
    assert scorecard.markdown(table) == "| kind | us (2) |\n|---|---|\n| read right | 1 |"
    assert scorecard.plain(table) == "kind        us (2)\nread right  1"


def test_confidence_table_counts_the_right_reads_in_each_band_shown():
    def read(confidence: float, right: bool) -> PhotoResult:
        return result("us", "ABC123", "ABC123" if right else "ABC128", confidence=confidence)

    results = [read(100.0, True), read(95.0, False), read(90.0, True), read(65.0, False), read(12.0, True)]
    results.append(result("us", "ABC123", ""))  # nothing read: not a shown confidence
    table = scorecard.confidence_table(results)
    assert table[1:] == [
        ["90-100%", "3", "2", "67%"],
        ["80-89%", "0", "0", "-"],
        ["70-79%", "0", "0", "-"],
        ["60-69%", "1", "0", "0%"],
        ["under 60%", "1", "1", "100%"],
    ]


def test_the_evaluate_pages_figures_show_each_model_and_only_the_kinds_some_model_has():
    from alpr import review_figures
    from alpr.evaluate import ERROR_KINDS

    kinds = {
        "v1": {"right": 8, "in_top": 0, "length": 2, "chars": 0, "missed": 0, "unreadable": 0},
        "v2": {"right": 9, "in_top": 0, "length": 0, "chars": 0, "missed": 1, "unreadable": 0},
    }
    fig = review_figures.miss_kinds_figure(kinds, ERROR_KINDS)
    assert [t.name for t in fig.data] == ["v1", "v2"]
    assert list(fig.data[0].y) == [
        "read right",
        "plate read, another number of characters",
        "nothing reported at the plate",
    ]
    assert list(fig.data[1].x) == [9, 0, 1]

    bands = {
        "v1": scorecard.confidence_bands(
            [result("us", "A1", "A1", confidence=95.0), result("us", "A1", "A7", confidence=65.0)]
        )
    }
    fig = review_figures.confidence_figure(bands)
    assert list(fig.data[0].x) == ["under 60%", "60-69%", "70-79%", "80-89%", "90-100%"]  # low to high
    assert list(fig.data[0].y) == [None, 0.0, None, None, 1.0]
    assert list(fig.data[0].text) == ["none", "0 of 1", "none", "none", "1 of 1"]
    assert list(fig.data[-1].y) == [None, 0.65, 0.75, 0.85, 0.95]  # what each band promises


def test_the_figures_say_so_when_nothing_was_read():
    from alpr import review_figures

    assert review_figures.confidence_figure({"v1": scorecard.confidence_bands([])}).layout.annotations
    assert review_figures.miss_kinds_figure({"v1": {}}, {"right": "read right"}).layout.annotations
