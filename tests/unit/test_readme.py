"""The documentation covers every page, CLI command and setting: adding one without a word in
docs/ fails. The README stays a short front page; docs/settings.md is generated and kept current."""

import argparse
import re
import subprocess
import sys
from pathlib import Path

from alpr.cli import build_parser, settings_markdown
from alpr.config import describe

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS_FILES = sorted((ROOT / "docs").glob("*.md"))
DOCS = "\n".join(p.read_text() for p in DOCS_FILES)


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append(f"{prefix}{name}")
                out += _commands(sub, f"{prefix}{name} ")
    return out


def test_every_cli_command_is_in_the_docs():
    commands = _commands(build_parser())
    assert "labels import" in commands
    missing = [c for c in commands if f"python -m alpr {c}" not in DOCS]
    assert missing == []


def test_every_setting_is_in_the_docs():
    names = [name for name, _, _ in describe()]
    assert len(names) > 50
    missing = [name for name in names if f"`{name}`" not in DOCS]
    assert missing == []


def test_the_settings_reference_is_generated_from_config_and_current():
    assert (ROOT / "docs" / "settings.md").read_text() == settings_markdown(describe()), (
        "docs/settings.md is stale: run `python -m alpr settings --markdown > docs/settings.md`"
    )


def test_the_cli_writes_the_settings_reference():
    out = subprocess.run(
        [sys.executable, "-m", "alpr", "settings", "--markdown"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and out.stdout == settings_markdown(describe())


def test_every_page_is_in_the_docs():
    titles = re.findall(r'title="([^"]+)"', (ROOT / "app.py").read_text())
    assert titles, "app.py lists no pages"
    missing = [t for t in titles if f"**{t}**" not in DOCS]
    assert missing == []


def test_the_readme_is_a_short_front_page_that_links_every_doc():
    assert len(README.splitlines()) <= 200
    assert DOCS_FILES
    unlinked = [p.name for p in DOCS_FILES if f"docs/{p.name}" not in README]
    assert unlinked == []


def test_readme_names_the_two_commands_that_ci_runs():
    assert "make run" in README and "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_an_uncommented_setting_does_not_borrow_its_neighbour_s_reason():
    why = {name: text for name, _, text in describe()}
    # It sits right under a neighbour's comment and has one of its own; before the fix it was
    # documented with the neighbour's reason.
    assert why["segment.min_char_extent"].startswith("A thin ring")
    assert why["segment.min_char_extent"] != why["segment.max_char_aspect"]


def test_the_other_half_of_a_min_max_pair_shares_its_comment():
    why = {name: text for name, _, text in describe()}
    assert why["detect.max_char_extent"] == why["detect.min_char_extent"] != ""
    assert why["segment.row_center_tolerance"] == why["segment.row_height_ratio"] != ""


def test_the_readme_accuracy_tables_are_the_scorecards_output():
    """The README's accuracy tables are pasted from `alpr eval --holdout --markdown`: their header
    lines are the scorecard's own, so a change to the scorecard's columns shows up here."""
    from alpr import scorecard
    from alpr.evaluate import ERROR_KINDS

    assert "python -m alpr eval ../shared/datasets/openalpr-benchmarks --holdout --markdown" in README
    assert scorecard.markdown(scorecard.goal_table([], topn=10)).splitlines()[0] in README.splitlines()
    # Every kind of miss has its row (a file that could not be read has none: none is unreadable).
    missing = [words for kind, words in ERROR_KINDS.items() if kind != "unreadable" and f"| {words} |" not in README]
    assert missing == []
