"""A managed llama-server profile can be a router: its argv, and the checks with clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from steward.config.app_groups import ServerProfileConfig
from steward.servers.profiles import LlamaServerProfile, ProfileError, profile_from_config


def test_router_argv_names_the_folder_preset_and_limit_and_no_model() -> None:
    profile = LlamaServerProfile(
        "r",
        Path("/b/llama-server"),
        None,
        ctx_size=512,
        threads=2,
        models_dir=Path("/models"),
        models_preset=Path("/p.ini"),
        models_max=1,
        sleep_idle_s=30,
    )
    argv = profile.argv(9000)
    assert argv[:7] == [
        "/b/llama-server",
        "--models-dir",
        "/models",
        "--models-preset",
        "/p.ini",
        "--models-max",
        "1",
    ]
    assert "-m" not in argv and profile.router
    assert argv[argv.index("--sleep-idle-seconds") + 1] == "30"
    assert argv[argv.index("--port") + 1] == "9000" and argv[argv.index("-c") + 1] == "512"
    one = LlamaServerProfile("o", Path("/b"), Path("/m.gguf")).argv(1)
    assert one[1:3] == ["-m", "/m.gguf"] and "--models-max" not in one and "--sleep-idle-seconds" not in one


def test_model_file_and_models_folder_are_exclusive() -> None:
    with pytest.raises(ValidationError, match="model_path and models_dir/models_preset are exclusive"):
        ServerProfileConfig(name="x", model_path="/m.gguf", models_dir="/models")
    with pytest.raises(ValidationError, match="for llamacpp servers"):
        ServerProfileConfig(name="x", kind="ollama", models_dir="/models")


def test_a_router_folder_must_exist_and_hold_gguf_files(tmp_path: Path) -> None:
    binary = tmp_path / "llama-server"
    binary.write_text("")
    missing = ServerProfileConfig(name="r", binary_path=str(binary), models_dir=str(tmp_path / "nope"))
    with pytest.raises(ProfileError, match=r"models folder .*nope does not exist"):
        profile_from_config(missing)
    empty = ServerProfileConfig(name="r", binary_path=str(binary), models_dir=str(tmp_path))
    with pytest.raises(ProfileError, match=r"holds no \.gguf file"):
        profile_from_config(empty)
    (tmp_path / "a.gguf").write_bytes(b"GGUF")
    profile = profile_from_config(empty.model_copy(update={"models_max": 2}))
    assert isinstance(profile, LlamaServerProfile) and profile.router
    assert profile.models_dir == tmp_path and profile.models_max == 2
