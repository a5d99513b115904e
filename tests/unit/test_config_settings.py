"""Settings model: defaults, validation messages with field paths, patches, unknown keys, example file."""

from __future__ import annotations

import importlib.resources
import tomllib
from typing import Any

import pytest
from pydantic import ValidationError

from steward.config import Settings, SettingsError, apply_patch, validate_settings
from steward.config.app_groups import EndpointConfig
from steward.config.settings_file import to_toml_data
from steward.config.validation import unknown_keys


def _problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(SettingsError) as info:
        validate_settings(data)
    return [(p.path, p.reason) for p in info.value.problems]


def test_failure_threshold_zero_is_rejected_with_path_and_reason() -> None:
    with pytest.raises(SettingsError) as info:
        validate_settings({"breaker": {"failure_threshold": 0}})
    assert info.value.problems == [("breaker.failure_threshold", "must be at least 1 (got 0)")]
    assert "breaker.failure_threshold: must be at least 1 (got 0)" in str(info.value)


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        ({"timeouts": {"connect_s": 0.0}}, "timeouts.connect_s", "must be greater than 0"),
        ({"timeouts": {"connect_s": "3"}}, "timeouts.connect_s", "must be a number (got '3')"),
        ({"timeouts": {"stall_s": float("inf")}}, "timeouts.stall_s", "finite"),
        ({"breaker": {"failure_threshold": True}}, "breaker.failure_threshold", "whole number"),
        ({"breaker": {"failure_threshold": 3.0}}, "breaker.failure_threshold", "whole number"),
        ({"health": {"degraded_error_rate": 1.5}}, "health.degraded_error_rate", "at most 1"),
        ({"context": {"reply_reserve_fraction": 1.0}}, "context.reply_reserve_fraction", "less than 1"),
        ({"context": {"policy": "forget"}}, "context.policy", "must be one of"),
        ({"strategy": "yolo"}, "strategy", "must be one of"),
        ({"weights": {"capability": -0.1}}, "weights.capability", "at least 0"),
        (
            {"weights": {"capability": 0.0, "performance": 0.0, "health": 0.0}},
            "weights",
            "must not all be 0",
        ),
        (
            {"breaker": {"reset_timeout_s": 60.0, "max_reset_timeout_s": 30.0}},
            "breaker",
            "Max reset timeout (30 s) must not be smaller than Reset timeout (60 s)",
        ),
        ({"discovery": {"ports": [11434, 0]}}, "discovery.ports[1]", "at least 1"),
        ({"discovery": {"ports": [70000]}}, "discovery.ports[0]", "at most 65535"),
        ({"discovery": {"ports": [8080, 8080]}}, "discovery.ports", "more than once"),
        ({"retention": {"raw_samples_days": 0}}, "retention.raw_samples_days", "at least 1"),
        ({"ui": {"theme": "pink"}}, "ui.theme", "'system', 'light' or 'dark'"),
        ({"logging": {"level": "verbose"}}, "logging.level", "must be one of"),
        ({"routing": {"default_model": "llama"}}, "routing.default_model", "'server/model'"),
        ({"routing": {"fallback_chain": ["a/b", "nope"]}}, "routing.fallback_chain[1]", "(got 'nope')"),
        ({"routing": {"capabilities": {"a/b": ["Code"]}}}, "routing.capabilities.a/b[0]", "lower-case"),
        ({"routing": {"capabilities": {"ab": ["code"]}}}, "routing.capabilities.ab (key)", "'server/model'"),
        (
            {"embedded": {"small_ctx": 4096, "large_ctx": 1024}},
            "embedded",
            "Large server window (1024 tokens) must not be smaller than Small server window (4096 tokens)",
        ),
        ({"breaker": 5}, "breaker", "must be a table"),
        ({"schema_version": 0}, "schema_version", "at least 1"),
    ],
)
def test_invalid_values_name_the_field(data: dict[str, Any], path: str, fragment: str) -> None:
    problems = _problems(data)
    assert any(p == path and fragment in reason for p, reason in problems), problems


def _endpoint(**overrides: Any) -> dict[str, Any]:
    return {"id": "lms", "kind": "openai", "base_url": "http://127.0.0.1:1234", **overrides}


@pytest.mark.parametrize(
    ("endpoint", "field", "fragment"),
    [
        (_endpoint(base_url="ftp://127.0.0.1/"), "base_url", "http:// or https://"),
        (_endpoint(base_url="127.0.0.1:11434"), "base_url", "http:// or https://"),
        (_endpoint(base_url="http://user:pw@host/"), "base_url", "credentials"),
        (_endpoint(kind="vllm"), "kind", "must be one of"),
        (_endpoint(id="a/b"), "id", "no '/'"),
        (_endpoint(api_key_ref="sk-abcdef0123456789"), "api_key_ref", "looks like an API key"),
        ({"id": "x", "kind": "ollama"}, "base_url", "is required"),
    ],
)
def test_invalid_endpoint_names_item_and_field(endpoint: dict[str, Any], field: str, fragment: str) -> None:
    problems = _problems({"endpoints": [_endpoint(id="ok"), endpoint]})
    assert any(p == f"endpoints[1].{field}" and fragment in r for p, r in problems), problems


def test_managed_servers_must_bind_loopback_and_ports_are_bounded() -> None:
    problems = _problems({"servers": [{"name": "big", "host": "0.0.0.0", "port": -1}]})
    paths = {p for p, _ in problems}
    assert paths == {"servers[0].host", "servers[0].port"}


def test_server_ids_are_unique_across_endpoints_and_profiles() -> None:
    problems = _problems({"endpoints": [_endpoint(id="local")], "servers": [{"name": "local"}]})
    assert problems == [
        ("servers", "server name 'local' is already used by an endpoint (ids must be unique)")
    ]
    problems = _problems({"endpoints": [_endpoint(id="a"), _endpoint(id="a")]})
    assert problems == [("endpoints", "endpoint id 'a' is used more than once (ids must be unique)")]


def test_valid_full_document_is_accepted() -> None:
    settings = validate_settings(
        {
            "strategy": "hedged",
            "endpoints": [_endpoint(api_key_ref="lms-key")],
            "servers": [
                {"name": "big", "port": 0, "host": "::1", "extra_args": ["--mlock"], "env": {"A": "1"}}
            ],
            "routing": {"fallback_chain": ["ollama/hf.co/x/y:Q4"], "capabilities": {"lms/qwen2.5": ["code"]}},
            "logging": {"level": "debug"},
        }
    )
    assert settings.endpoints[0].api_key_ref == "lms-key"
    assert settings.servers[0].host == "::1"
    assert settings.logging.level == "DEBUG"
    assert settings.routing.fallback_chain == ["ollama/hf.co/x/y:Q4"]


def test_settings_are_immutable() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.breaker.failure_threshold = 5


def test_apply_patch_returns_new_validated_settings_and_leaves_original() -> None:
    original = Settings()
    patched = apply_patch(original, {"breaker.failure_threshold": 5, "strategy": "race"})
    assert patched.breaker.failure_threshold == 5
    assert patched.strategy == "race"
    assert original.breaker.failure_threshold == 3


def test_with_changes_accepts_path_and_value_or_mapping() -> None:
    assert Settings().with_changes("hedge.delay_s", 0.0).hedge.delay_s == 0.0
    assert Settings().with_changes({"ui.theme": "dark"}).ui.theme == "dark"


def test_patch_with_invalid_value_names_the_field() -> None:
    with pytest.raises(SettingsError) as info:
        Settings().with_changes("breaker.failure_threshold", 0)
    assert info.value.problems == [("breaker.failure_threshold", "must be at least 1 (got 0)")]


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("breaker.failur_threshold", "not a known setting"),
        ("nosuchgroup", "not a known setting"),
        ("endpoints[0].enabled", "no item endpoints[0]"),
        ("breaker.failure_threshold.x", "single value"),
        ("discovery.ports.x", "is a list"),
        ("", "a path is required"),
    ],
)
def test_patch_with_bad_path_names_the_path(path: str, fragment: str) -> None:
    with pytest.raises(SettingsError) as info:
        apply_patch(Settings(), {path: 1})
    assert info.value.problems[0].path == path
    assert fragment in info.value.problems[0].reason


def test_patch_addresses_list_items_and_free_table_keys_with_dots() -> None:
    base = Settings().with_changes(
        "endpoints", [EndpointConfig(id="o", kind="ollama", base_url="http://h:1")]
    )
    patched = base.with_changes(
        {"endpoints[0].enabled": False, "routing.capabilities.o/llama3.2:1b": ["code", "chat"]}
    )
    assert patched.endpoints[0].enabled is False
    assert patched.routing.capabilities == {"o/llama3.2:1b": ["code", "chat"]}
    removed = patched.with_changes("routing.capabilities.o/llama3.2:1b", None)
    assert removed.routing.capabilities == {}


def test_cross_field_rule_checked_on_patch() -> None:
    with pytest.raises(SettingsError) as info:
        Settings().with_changes("retry.backoff_max_s", 0.1)
    assert info.value.problems[0].path == "retry"
    assert "Longest backoff delay (0.1 s) must not be smaller than" in info.value.problems[0].reason


def test_unknown_keys_are_kept_and_listed() -> None:
    settings = validate_settings({"breaker": {"failure_threshold": 4, "flux": 1}, "future": {"x": [1, 2]}})
    assert sorted(unknown_keys(settings)) == ["breaker.flux", "future"]
    data = to_toml_data(settings)
    assert data["breaker"]["flux"] == 1
    assert data["future"] == {"x": [1, 2]}


def test_default_config_example_parses_to_exactly_the_defaults() -> None:
    example = importlib.resources.files("steward.resources").joinpath("default_config.toml")
    data = tomllib.loads(example.read_text(encoding="utf-8"))
    assert validate_settings(data) == Settings()
    # Every default is spelled out (nothing relies on an omitted key) and nothing unknown is present.
    assert data == to_toml_data(Settings())
