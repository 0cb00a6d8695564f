"""scripts/ablation.py, the command behind docs/accuracy.md's ablation tables: which config a
reading uses, and how a group of rules switched off together is counted."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from alpr.config import DEFAULT

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ablation.py"
spec = importlib.util.spec_from_file_location("ablation", SCRIPT)
ablation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ablation)


def test_rules_switched_off_together_are_all_off_and_nothing_else_moves():
    config = ablation.off_config((ablation.rule("segment.split_wide"), ablation.rule("read.stray_end_doubt")))
    assert config.segment.split_wide == 0.0 and config.read.stray_end_doubt == 0.0
    assert config.detect == DEFAULT.detect and config.verify == DEFAULT.verify
    assert config.segment.max_char_extent == DEFAULT.segment.max_char_extent
    assert ablation.off_config(()) is None  # the reference reading: the shipped config


def test_every_rule_names_a_field_the_config_has():
    for section, field, _, _ in ablation.RULES:
        assert hasattr(getattr(DEFAULT, section), field), f"{section}.{field} is not in the config"


def test_an_unknown_rule_is_refused_with_the_form_it_expects():
    with pytest.raises(SystemExit, match="section.field"):
        ablation.rule("segment.max_row_ink")  # removed: docs/accuracy.md says why


def test_a_group_row_counts_reads_lost_won_and_extra_plates_against_all_rules_on():
    on = {"a": {"top1": True, "extra": 0}, "b": {"top1": False, "extra": 1}, "c": {"top1": True, "extra": 0}}
    off = {"a": {"top1": False, "extra": 2}, "b": {"top1": True, "extra": 0}, "c": {"top1": True, "extra": 0}}
    table = ablation.together_table({"all rules on": on, "together: x.y + z.w": off})
    assert "| none (all rules on) | 2 of 3 | | | 1 |" in table
    assert "| x.y + z.w | 2 | 1 | 1 | 2 |" in table
