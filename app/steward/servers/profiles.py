"""What a managed server is: a profile that turns into an argument list and an environment.

Two kinds: llama.cpp's `llama-server` (the model IS the process: one model file, one window; or
a ROUTER over a folder of GGUF files and/or a preset INI, which runs each model in a child
process, at most `models_max` at once) and `ollama serve` (configured through OLLAMA_* environment variables). Profiles are frozen;
OOM recovery and model swaps make changed copies with `dataclasses.replace`.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from steward.config.app_groups import ServerProfileConfig
from steward.servers import embedded

LOOPBACK = "127.0.0.1"


class ServerProfile(Protocol):
    """What the supervisor needs from a profile."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int:
        """The port to bind; 0 = pick a free one at first start (then kept across restarts)."""
        ...

    @property
    def health_path(self) -> str: ...
    def argv(self, port: int) -> list[str]:
        """The command line, binding `port`."""
        ...

    def environment(self, port: int) -> dict[str, str]:
        """Variables added to (overriding) Steward's own environment."""
        ...


@dataclass(frozen=True)
class LlamaServerProfile:
    """One llama-server process serving one GGUF model file, or a router over `models_dir`
    (and/or `models_preset`) when `model` is None. Router children inherit the arguments
    (context, threads, GPU layers, parallel)."""

    name: str
    binary: Path
    model: Path | None
    ctx_size: int = 4096  # 0 = the model's trained window
    host: str = LOOPBACK
    port: int = 0
    threads: int = 0  # 0 = llama-server decides
    gpu_layers: int = -1  # -1 = llama-server's default
    parallel: int = 1
    extra_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    models_dir: Path | None = None
    models_preset: Path | None = None
    models_max: int = 4  # router: models loaded at once; 0 = no limit
    sleep_idle_s: int = 0  # 0 = never sleep

    @property
    def kind(self) -> str:
        return "llamacpp"

    @property
    def router(self) -> bool:
        return self.model is None

    @property
    def health_path(self) -> str:
        return "/health"

    def argv(self, port: int) -> list[str]:
        args = [str(self.binary)]
        if self.model is not None:
            args += ["-m", str(self.model)]
        else:
            if self.models_dir is not None:
                args += ["--models-dir", str(self.models_dir)]
            if self.models_preset is not None:
                args += ["--models-preset", str(self.models_preset)]
            args += ["--models-max", str(self.models_max)]
        args += ["--host", self.host, "--port", str(port)]
        args += ["-c", str(self.ctx_size), "--parallel", str(self.parallel)]
        if self.threads > 0:
            args += ["-t", str(self.threads)]
        if self.gpu_layers >= 0:
            args += ["-ngl", str(self.gpu_layers)]
        if self.sleep_idle_s > 0:
            args += ["--sleep-idle-seconds", str(self.sleep_idle_s)]
        return args + list(self.extra_args)

    def environment(self, port: int) -> dict[str, str]:
        return dict(self.env)


@dataclass(frozen=True)
class OllamaServeProfile:
    """`ollama serve`, bound through OLLAMA_HOST; keep-alive and parallelism through its env."""

    name: str
    binary: Path
    host: str = LOOPBACK
    port: int = 11434
    keep_alive: str | None = None  # OLLAMA_KEEP_ALIVE, e.g. "5m", "-1"
    num_parallel: int | None = None  # OLLAMA_NUM_PARALLEL
    max_loaded_models: int | None = None  # OLLAMA_MAX_LOADED_MODELS
    extra_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "ollama"

    @property
    def health_path(self) -> str:
        return "/api/version"

    def argv(self, port: int) -> list[str]:
        return [str(self.binary), "serve", *self.extra_args]

    def environment(self, port: int) -> dict[str, str]:
        values = dict(self.env)
        values["OLLAMA_HOST"] = f"{self.host}:{port}"
        if self.keep_alive is not None:
            values["OLLAMA_KEEP_ALIVE"] = self.keep_alive
        if self.num_parallel is not None:
            values["OLLAMA_NUM_PARALLEL"] = str(self.num_parallel)
        if self.max_loaded_models is not None:
            values["OLLAMA_MAX_LOADED_MODELS"] = str(self.max_loaded_models)
        return values


class ProfileError(ValueError):
    """A profile cannot be built (a binary or model is missing); the message says which and how."""


def profile_from_config(config: ServerProfileConfig) -> LlamaServerProfile | OllamaServeProfile:
    """A runnable profile from a settings entry; empty paths mean the embedded runtime / PATH."""
    if config.kind == "ollama":
        binary = config.binary_path or shutil.which("ollama")
        if not binary:
            raise ProfileError(f"server {config.name!r}: ollama not found on PATH; set its binary_path")
        env = dict(config.env)
        return OllamaServeProfile(
            name=config.name,
            binary=Path(binary),
            host=config.host,
            port=config.port or 11434,
            keep_alive=env.pop("OLLAMA_KEEP_ALIVE", None),
            num_parallel=config.parallel,
            extra_args=tuple(config.extra_args),
            env=env,
        )
    llama = Path(config.binary_path) if config.binary_path else embedded.find_llama_server()
    if llama is None:
        raise ProfileError(f"server {config.name!r}: llama-server not found: {embedded.HOW_TO_GET_BINARY}")
    if config.router:
        problems = router_path_problems(config)
        if problems:
            raise ProfileError(f"server {config.name!r}: " + "; ".join(problems))
        model = None
    else:
        model = Path(config.model_path) if config.model_path else embedded.find_model()
        if model is None:
            raise ProfileError(f"server {config.name!r}: no model file: {embedded.HOW_TO_GET_MODEL}")
    return LlamaServerProfile(
        name=config.name,
        binary=llama,
        model=model,
        ctx_size=config.ctx_size,
        host=config.host,
        port=config.port,
        threads=config.threads,
        gpu_layers=config.gpu_layers,
        parallel=config.parallel,
        extra_args=tuple(config.extra_args),
        env=dict(config.env),
        models_dir=Path(config.models_dir).expanduser() if config.models_dir else None,
        models_preset=Path(config.models_preset).expanduser() if config.models_preset else None,
        models_max=config.models_max,
        sleep_idle_s=config.sleep_idle_s,
    )


def router_path_problems(config: ServerProfileConfig) -> list[str]:
    """What is wrong with a router profile's folder and preset file on this machine (checked when
    the profile is added or started, not when settings load: a missing folder must not make the
    whole settings file invalid)."""
    problems: list[str] = []
    if config.models_dir:
        folder = Path(config.models_dir).expanduser()
        if not folder.is_dir():
            problems.append(f"models folder {folder} does not exist")
        elif not any(folder.glob("*.gguf")) and not any(folder.glob("*/*.gguf")):
            problems.append(f"models folder {folder} holds no .gguf file")
    if config.models_preset and not Path(config.models_preset).expanduser().is_file():
        problems.append(f"preset file {config.models_preset} does not exist")
    return problems
