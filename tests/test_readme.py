"""The README documents every page, CLI command and setting: adding one without a word there fails."""
import argparse
import re
from pathlib import Path

from alpr.cli import build_parser
from alpr.config import describe

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append(f"{prefix}{name}")
                out += _commands(sub, f"{prefix}{name} ")
    return out


def test_every_cli_command_is_in_the_readme():
    missing = [c for c in _commands(build_parser()) if f"python -m alpr {c}" not in README]
    assert missing == []


def test_every_setting_is_in_the_readme():
    missing = [name for name, _, _ in describe() if f"`{name}`" not in README]
    assert missing == []


def test_every_page_is_in_the_readme():
    titles = re.findall(r'title="([^"]+)"', (ROOT / "app.py").read_text())
    assert titles, "app.py lists no pages"
    missing = [t for t in titles if f"**{t}**" not in README]
    assert missing == []


def test_readme_names_the_two_commands_that_ci_runs():
    assert "make run" in README and "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()
