"""Partial recovery (`salvage`): only the smallest invalid part is left out, each one reported."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from steward.config import SettingsError, salvage, validate_settings
from steward.config.display import VALUE_CHARS


def _endpoint(name: str, **overrides: Any) -> dict[str, Any]:
    return {"id": name, "kind": "openai", "base_url": "http://127.0.0.1:1234/v1", **overrides}


def _report(data: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [(b.path, b.value, b.action) for b in salvage(data).invalid]


def test_valid_data_is_kept_whole_and_reports_nothing() -> None:
    data = {"endpoints": [_endpoint("a")], "breaker": {"failure_threshold": 5}}
    found = salvage(data)
    assert found.settings == validate_settings(data)
    assert found.invalid == [] and found.unknown == []


def test_a_bad_field_with_a_default_falls_back_to_it_alone() -> None:
    found = salvage(
        {"breaker": {"failure_threshold": 0, "success_threshold": 4}, "endpoints": [_endpoint("a")]}
    )
    assert found.settings.breaker.failure_threshold == 3
    assert found.settings.breaker.success_threshold == 4
    assert [e.id for e in found.settings.endpoints] == ["a"]
    (bad,) = found.invalid
    assert (bad.path, bad.value, bad.reason) == ("breaker.failure_threshold", "0", "must be at least 1")
    assert bad.action == "ignored, the default (3) is used"


def test_a_bad_required_field_drops_only_its_own_list_item() -> None:
    data = {"endpoints": [_endpoint("a"), _endpoint("b", base_url="ftp://x"), {"id": "c"}, _endpoint("d")]}
    found = salvage(data)
    assert [e.id for e in found.settings.endpoints] == ["a", "d"]
    assert _report(data) == [
        ("endpoints[1].base_url", "'ftp://x'", "endpoints[1] is ignored"),
        ("endpoints[2].kind", None, "endpoints[2] is ignored"),
        ("endpoints[2].base_url", None, "endpoints[2] is ignored"),
    ]


def test_an_optional_field_reported_with_a_doomed_item_says_the_item_goes() -> None:
    report = _report({"endpoints": [_endpoint("a/b", api_key_ref="has space")]})
    assert [action for _, _, action in report] == ["endpoints[0] is ignored", "endpoints[0] is ignored"]


@pytest.mark.parametrize(
    ("data", "path", "kept"),
    [
        ({"discovery": {"ports": [8080, 0, 1234]}}, "discovery.ports[1]", [8080, 1234]),
        ({"discovery": {"ports": [8080, 1234, 8080]}}, "discovery.ports[2]", [8080, 1234]),
        (
            {"routing": {"fallback_chain": ["a/b", "nope", "c/d"]}},
            "routing.fallback_chain[1]",
            ["a/b", "c/d"],
        ),
    ],
)
def test_one_bad_list_entry_is_left_out_and_the_rest_kept(
    data: dict[str, Any], path: str, kept: list[Any]
) -> None:
    found = salvage(data)
    assert [b.path for b in found.invalid] == [path]
    group, name = path.split("[")[0].split(".")
    assert getattr(getattr(found.settings, group), name) == kept


def test_bad_table_keys_and_bad_tags_drop_only_that_entry_or_tag() -> None:
    found = salvage(
        {"routing": {"capabilities": {"nokey": ["code"], "a/b": ["Code", "chat"], "c/d": ["code"]}}}
    )
    assert found.settings.routing.capabilities == {"a/b": ["chat"], "c/d": ["code"]}
    assert [(b.path, b.value) for b in found.invalid] == [
        ("routing.capabilities.nokey (key)", "'nokey'"),
        ("routing.capabilities.a/b[0]", "'Code'"),
    ]


def test_a_rule_about_a_group_is_pinned_to_one_member() -> None:
    found = salvage(
        {"breaker": {"reset_timeout_s": 60.0, "max_reset_timeout_s": 30.0, "failure_threshold": 7}}
    )
    assert found.settings.breaker.reset_timeout_s == 60.0
    assert found.settings.breaker.failure_threshold == 7
    (bad,) = found.invalid
    assert (bad.path, bad.value) == ("breaker.max_reset_timeout_s", "30.0")
    assert "must not be smaller than Reset timeout (60 s)" in bad.reason
    assert bad.action.startswith("ignored, the default (")


def test_duplicate_ids_drop_the_later_entry_numbered_as_in_the_file() -> None:
    data = {
        "endpoints": [_endpoint("a"), _endpoint("b", kind="vllm"), _endpoint("c"), _endpoint("a")],
        "servers": [{"name": "c"}, {"name": "big"}],
    }
    found = salvage(data)
    assert [e.id for e in found.settings.endpoints] == ["a", "c"]
    assert [s.name for s in found.settings.servers] == ["big"]
    # endpoints[1] went in the first round; the duplicate is still called endpoints[3], as in the file.
    assert [(b.path, b.reason) for b in found.invalid][1:] == [
        ("endpoints[3]", "endpoint id 'a' is used more than once (ids must be unique)"),
        ("servers[0]", "server name 'c' is already used by an endpoint (ids must be unique)"),
    ]


def test_wrong_types_of_whole_groups_fall_back_to_their_defaults() -> None:
    found = salvage({"breaker": 5, "endpoints": {"a": 1}, "ui": {"theme": "dark"}})
    assert found.settings.ui.theme == "dark"
    assert [(b.path, b.action) for b in found.invalid] == [
        ("breaker", "ignored, its defaults are used"),
        ("endpoints", "ignored, the default ([]) is used"),
    ]


def test_possible_secrets_are_never_echoed() -> None:
    key = "sk-live-0123456789abcdef"
    data = {
        "endpoints": [_endpoint("a", api_key_ref=key), _endpoint("b", base_url="http://me:hunter2@host/")]
    }
    report = [str(b) for b in salvage(data).invalid]
    assert len(report) == 2
    assert not any(key in line or "hunter2" in line for line in report)
    with pytest.raises(SettingsError) as info:
        validate_settings(data)
    assert key not in str(info.value) and "hunter2" not in str(info.value)


def test_huge_values_are_cut_in_every_message() -> None:
    huge = "x" * 10_000_000
    data = {"endpoints": [_endpoint(huge)], "ui": {"last_page": huge}, "routing": {"default_model": huge}}
    found = salvage(data)
    assert [b.path for b in found.invalid] == ["endpoints[0].id", "routing.default_model", "ui.last_page"]
    assert all(b.value is not None and len(b.value) <= VALUE_CHARS for b in found.invalid)
    assert all(len(str(b)) < 300 for b in found.invalid)
    with pytest.raises(SettingsError) as info:
        validate_settings({"endpoints": [_endpoint(huge)]})
    assert len(str(info.value)) < 300
    assert "at most 200 characters" in str(info.value)


def test_long_model_names_and_urls_are_bounded() -> None:
    name = "m" * 201
    assert [
        b.path for b in salvage({"routing": {"fallback_chain": [f"a/{name}", f"a/{name[:-1]}"]}}).invalid
    ] == ["routing.fallback_chain[0]"]
    url = "http://h/" + "p" * 2048
    assert [b.reason for b in salvage({"endpoints": [_endpoint("a", base_url=url)]}).invalid] == [
        "must be at most 2048 characters long"
    ]


def test_unknown_keys_get_suggestions_and_file_numbering() -> None:
    data = {
        "breakr": {},
        "endpoints": [_endpoint("a", kind="vllm"), {**_endpoint("b"), "bse_url": "x"}],
        "ui": {"zzz": 1},
    }
    found = salvage(data)
    assert [(u.path, u.suggestion) for u in found.unknown] == [
        ("breakr", "breaker"),
        ("endpoints[1].bse_url", "endpoints[1].base_url"),
        ("ui.zzz", None),
    ]
    assert found.settings.model_extra == {"breakr": {}}  # kept, written back on save


def test_input_data_is_not_changed() -> None:
    data = {"endpoints": [_endpoint("a"), _endpoint("b", base_url=5)], "discovery": {"ports": [0]}}
    before = copy.deepcopy(data)
    salvage(data)
    assert data == before


def test_every_clashing_member_is_left_out_with_its_own_reason() -> None:
    data = {
        "endpoints": [_endpoint("a"), _endpoint("a"), _endpoint("b"), _endpoint("a")],
        "servers": [{"name": "a"}, {"name": "c"}, {"name": "c"}],
    }
    found = salvage(data)
    assert [e.id for e in found.settings.endpoints] == ["a", "b"]
    assert [s.name for s in found.settings.servers] == ["c"]
    # The servers are checked against the endpoint ids once the endpoints are valid (a later round).
    assert sorted((b.path, b.reason) for b in found.invalid) == [
        ("endpoints[1]", "endpoint id 'a' is used more than once (ids must be unique)"),
        ("endpoints[3]", "endpoint id 'a' is used more than once (ids must be unique)"),
        ("servers[0]", "server name 'a' is already used by an endpoint (ids must be unique)"),
        ("servers[2]", "server name 'c' is used more than once (ids must be unique)"),
    ]


def test_many_clashing_ids_still_keep_the_first_of_each() -> None:
    found = salvage({"endpoints": [_endpoint("a")] * 60 + [_endpoint("b")]})
    assert [e.id for e in found.settings.endpoints] == ["a", "b"]
    assert len(found.invalid) == 59
