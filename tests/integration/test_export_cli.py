"""`steward export`: `-` is standard output, and the LiteLLM proxy config it writes is loaded by
LiteLLM's own Router and answers through it from the REAL llama-servers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import litellm
import yaml
from tests.support.cli import run_steward
from tests.support.llama import LlamaServer

MODEL = "SmolLM2-135M-Instruct.Q4_1"


def steward(*args: str, env_dirs: Path) -> subprocess.CompletedProcess[str]:
    return run_steward(*args, dirs=env_dirs, text=True, cwd=env_dirs)


def test_dash_means_standard_output(tmp_path: Path) -> None:
    done = steward("export", "events", "-", env_dirs=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "-").exists(), "no file named '-'"
    assert json.loads(done.stderr.strip().splitlines()[-1])["path"] == "-"


async def test_litellm_config_is_loaded_by_litellm_and_routes_to_the_real_servers(
    tmp_path: Path, llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    small, large = f"small/{MODEL}", f"large/{MODEL}"
    (config_dir / "settings.toml").write_text(
        f"""
[[endpoints]]
id = "small"
kind = "llamacpp"
base_url = "{llama_small.url}"

[[endpoints]]
id = "large"
kind = "llamacpp"
base_url = "{llama_large.url}"

[discovery]
ports = [9]

[routing]
fallback_chain = ["{small}", "{large}"]

[breaker]
failure_threshold = 4
"""
    )
    out = tmp_path / "litellm.yaml"
    done = steward("export", "litellm-config", str(out), env_dirs=tmp_path)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(out.read_text())
    names = [d["model_name"] for d in config["model_list"]]
    assert sorted(names) == sorted([small, large])
    deployment = next(d for d in config["model_list"] if d["model_name"] == small)
    assert deployment["litellm_params"]["api_base"] == f"{llama_small.url}/v1"
    router_settings = config["router_settings"]
    assert router_settings["fallbacks"] == [{small: [large]}] and router_settings["allowed_fails"] == 4

    router = litellm.Router(model_list=config["model_list"], **router_settings)
    assert sorted(router.get_model_names()) == sorted(names)
    reply = await router.acompletion(
        model=small, messages=[{"role": "user", "content": "Say hi."}], max_tokens=8
    )
    assert reply.choices[0].message.content
