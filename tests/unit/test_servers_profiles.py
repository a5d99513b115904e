"""Profiles → command lines and environments; settings → profiles; the embedded default plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from steward.config.app_groups import EmbeddedConfig, ServerProfileConfig
from steward.config.settings import Settings
from steward.servers import embedded
from steward.servers.defaults import (
    EMBEDDED_LARGE,
    EMBEDDED_SMALL,
    embedded_plan,
    embedded_profiles,
    wants_embedded,
)
from steward.servers.profiles import LlamaServerProfile, OllamaServeProfile, ProfileError, profile_from_config

RUNTIME = embedded.EmbeddedRuntime(Path("/opt/llama-server"), Path("/models/smol.gguf"))


def test_llama_server_argv_has_every_setting_and_binds_the_given_port() -> None:
    profile = LlamaServerProfile(
        "big",
        Path("/bin/llama-server"),
        Path("/m/q.gguf"),
        ctx_size=8192,
        threads=4,
        gpu_layers=20,
        parallel=2,
        extra_args=("--flash-attn", "on"),
    )
    assert profile.argv(8081) == [
        "/bin/llama-server",
        "-m",
        "/m/q.gguf",
        "--host",
        "127.0.0.1",
        "--port",
        "8081",
        "-c",
        "8192",
        "--parallel",
        "2",
        "-t",
        "4",
        "-ngl",
        "20",
        "--flash-attn",
        "on",
    ]


def test_llama_server_defaults_leave_threads_and_gpu_layers_to_the_server() -> None:
    argv = LlamaServerProfile("d", Path("/b"), Path("/m.gguf")).argv(9000)
    assert "-t" not in argv and "-ngl" not in argv


def test_ollama_serve_is_configured_through_its_environment() -> None:
    profile = OllamaServeProfile(
        "ol", Path("/usr/bin/ollama"), port=11500, keep_alive="10m", num_parallel=2, env={"OLLAMA_DEBUG": "1"}
    )
    assert profile.argv(11500) == ["/usr/bin/ollama", "serve"]
    assert profile.environment(11500) == {
        "OLLAMA_DEBUG": "1",
        "OLLAMA_HOST": "127.0.0.1:11500",
        "OLLAMA_KEEP_ALIVE": "10m",
        "OLLAMA_NUM_PARALLEL": "2",
    }


def test_settings_entry_becomes_a_llama_profile_with_explicit_paths() -> None:
    config = ServerProfileConfig(
        name="coder",
        binary_path="/b/llama-server",
        model_path="/m/coder.gguf",
        ctx_size=16384,
        port=8099,
        gpu_layers=-1,
        extra_args=["--jinja"],
    )
    profile = profile_from_config(config)
    assert isinstance(profile, LlamaServerProfile)
    assert (profile.binary, profile.model, profile.ctx_size, profile.port) == (
        Path("/b/llama-server"),
        Path("/m/coder.gguf"),
        16384,
        8099,
    )
    assert profile.extra_args == ("--jinja",)


def test_settings_ollama_entry_takes_keep_alive_from_env_and_parallel_slots() -> None:
    config = ServerProfileConfig(
        name="ol", kind="ollama", binary_path="/usr/bin/ollama", parallel=3, env={"OLLAMA_KEEP_ALIVE": "-1"}
    )
    profile = profile_from_config(config)
    assert isinstance(profile, OllamaServeProfile)
    assert (profile.port, profile.keep_alive, profile.num_parallel) == (11434, "-1", 3)


def test_missing_llama_server_is_a_profile_error_saying_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STEWARD_LLAMA_SERVER", "/nonexistent/llama-server")
    with pytest.raises(ProfileError, match="make runtime"):
        profile_from_config(ServerProfileConfig(name="x"))


def test_embedded_profiles_are_a_small_and_a_large_window_on_the_bundled_model() -> None:
    small, large = embedded_profiles(EmbeddedConfig(small_ctx=1024, large_ctx=4096), RUNTIME)
    assert (small.name, small.ctx_size, large.name, large.ctx_size) == (
        EMBEDDED_SMALL,
        1024,
        EMBEDDED_LARGE,
        4096,
    )
    assert {p.model for p in (small, large)} == {RUNTIME.model}
    assert {p.port for p in (small, large)} == {0}  # free ports picked at start


def test_embedded_servers_run_alongside_others_unless_set_to_run_only_when_nothing_answers() -> None:
    alongside = Settings()
    assert alongside.embedded.run == "alongside_other_servers", "the default: they run whenever enabled"
    assert wants_embedded(alongside, []) and wants_embedded(alongside, ["ollama on port 11434"])
    alone = Settings(embedded=EmbeddedConfig(run="when_nothing_else_answers"))
    assert wants_embedded(alone, []), "a configured endpoint that did not answer does not count"
    assert not wants_embedded(alone, ["home"])
    assert not wants_embedded(Settings(embedded=EmbeddedConfig(enabled=False)), [])


def test_embedded_plan_names_what_answered_when_it_keeps_them_off() -> None:
    alone = Settings(embedded=EmbeddedConfig(run="when_nothing_else_answers"))
    profiles, reason = embedded_plan(alone, ["home", "Ollama on port 11434"])
    assert profiles == []
    assert reason == "not started because home, Ollama on port 11434 answered"
    profiles, reason = embedded_plan(Settings(), [])
    assert len(profiles) == 2 and "alongside" in reason


def test_embedded_plan_says_why_nothing_runs_when_turned_off() -> None:
    profiles, reason = embedded_plan(Settings(embedded=EmbeddedConfig(enabled=False)), [])
    assert profiles == [] and "turned off" in reason


def test_embedded_plan_names_the_missing_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_EMBEDDED_MODEL", "/nonexistent/model.gguf")
    profiles, reason = embedded_plan(Settings(), [])
    assert profiles == [] and "not installed" in reason and embedded.MODEL_FILENAME in reason
