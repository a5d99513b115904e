"""Cross-field rules speak in labels and are reported together with per-field problems."""

from __future__ import annotations

import pytest

from steward.config import Settings, SettingsError, validate_settings
from steward.config.labels import label, with_value
from steward.config.rules import RULES, fields_of


def problems(data: dict[str, object]) -> list[tuple[str, str]]:
    with pytest.raises(SettingsError) as info:
        validate_settings(data)
    return [(p.path, p.reason) for p in info.value.problems]


def test_a_broken_rule_names_its_fields_by_label_with_value_and_unit() -> None:
    assert problems({"breaker": {"reset_timeout_s": 500.0, "max_reset_timeout_s": 300.0}}) == [
        (
            "breaker",
            "Max reset timeout (300 s) must not be smaller than Reset timeout (500 s): the cap would "
            "shrink the timeout",
        )
    ]


def test_field_problems_do_not_hide_broken_rules_every_problem_is_reported() -> None:
    found = problems(
        {
            "breaker": {"failure_threshold": 0, "reset_timeout_s": 500.0, "max_reset_timeout_s": 300.0},
            "context": {"default_num_ctx": 100},
            "timeouts": {"connect_s": -1.0},
        }
    )
    assert [path for path, _ in found] == [
        "breaker.failure_threshold",
        "timeouts.connect_s",
        "context",
        "breaker",
    ]
    assert found[2][1].startswith(
        "Default window (100 tokens) must be larger than Reply reserve minimum (256 tokens)"
    )


def test_a_rule_whose_own_field_is_unreadable_is_not_reported_twice() -> None:
    found = problems({"breaker": {"reset_timeout_s": "soon", "max_reset_timeout_s": 300.0}})
    assert [path for path, _ in found] == ["breaker.reset_timeout_s"]


def test_every_rule_names_real_settings_and_the_page_can_mark_them() -> None:
    for rule in RULES:
        group = Settings.model_fields[rule.group].annotation
        assert group is not None
        assert set(rule.fields) <= set(group.model_fields), rule  # type: ignore[union-attr]
        assert fields_of(rule.group) == rule.paths
    assert fields_of("breaker.failure_threshold") == ()


def test_labels_and_values_read_as_people_write_them() -> None:
    assert label("breaker.max_reset_timeout_s") == "Max reset timeout"
    assert label("ui.last_page") == "Start page"
    assert with_value("breaker.reset_timeout_s", 500.0) == "Reset timeout (500 s)"
    assert with_value("health.degraded_error_rate", 0.25) == "Degraded error rate (0.25)"


def test_the_start_page_is_a_choice_not_free_text() -> None:
    assert problems({"ui": {"last_page": "foo"}})[0][0] == "ui.last_page"
    assert validate_settings({"ui": {"last_page": "chat"}}).ui.last_page == "chat"
