"""Steward's routing as a LiteLLM proxy config, for a team that moves it onto a LiteLLM proxy.

One `model_list` deployment per model Steward knows (api_base per endpoint, OpenAI-compatible
servers as `openai/<model>`, Ollama as `ollama_chat/<model>`), the fallback chain as LiteLLM
`fallbacks`, the breaker as `allowed_fails`/`cooldown_time`, the timeouts as `timeout` and
`stream_timeout`. API keys are never written: a keyed endpoint reads `os.environ/STEWARD_<ID>_API_KEY`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from steward.config import Settings
from steward.servers.discovery import KnownServer

HEADER = (
    "# LiteLLM proxy config written by `steward export litellm-config`.\n"
    "# Run it with `litellm --config <this file>`; set the STEWARD_*_API_KEY variables it names first.\n"
)


def env_key(server_id: str) -> str:
    return "STEWARD_" + re.sub(r"[^A-Za-z0-9]", "_", server_id).upper() + "_API_KEY"


def deployment(key: str, server: KnownServer, settings: Settings, keyed: bool) -> dict[str, Any]:
    """One `model_list` entry: the Steward key as model_name, the real server behind it."""
    _, _, model = key.partition("/")
    base = server.base_url.rstrip("/")
    if server.kind == "ollama":
        params: dict[str, Any] = {"model": f"ollama_chat/{model}", "api_base": base}
    else:
        params = {"model": f"openai/{model}", "api_base": f"{base}/v1", "api_key": "none"}
    if keyed:
        params["api_key"] = f"os.environ/{env_key(server.id)}"
    params["timeout"] = settings.timeouts.total_s
    params["stream_timeout"] = settings.timeouts.first_token_s
    return {"model_name": key, "litellm_params": params}


def litellm_config(
    settings: Settings, known: Sequence[KnownServer], model_keys: Sequence[str]
) -> dict[str, Any]:
    """The config as plain data (dump it as YAML)."""
    servers = {s.id: s for s in known if s.enabled}
    keyed = {e.id for e in settings.endpoints if e.api_key_ref}
    model_list = [
        deployment(key, servers[key.partition("/")[0]], settings, key.partition("/")[0] in keyed)
        for key in model_keys
        if key.partition("/")[0] in servers
    ]
    names = [d["model_name"] for d in model_list]
    chain = [k for k in settings.routing.fallback_chain if k in names]
    fallbacks = [{key: chain[i + 1 :]} for i, key in enumerate(chain[:-1])]
    router: dict[str, Any] = {
        "num_retries": settings.retry.max_retries_same_model,
        "allowed_fails": settings.breaker.failure_threshold,
        "cooldown_time": settings.breaker.reset_timeout_s,
        "timeout": settings.timeouts.request_deadline_s,
    }
    if fallbacks:
        router["fallbacks"] = fallbacks
    return {"model_list": model_list, "router_settings": router}
