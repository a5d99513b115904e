"""Where GGUF model files already live on this machine: one `ModelRoot` per known location.

Each location was checked against its owner's documentation or source (2026-11):

- Steward: ``models/`` in its data dir (where the README tells bundle users to put a model,
  `steward.paths.data_dir`) and in its cache dir (where the second test model is assembled),
  and the bundled SmolLM2 file (`steward.servers.embedded.find_model`).
- llama.cpp cache: ``$LLAMA_CACHE``, else ``$XDG_CACHE_HOME/llama.cpp`` or
  ``~/.cache/llama.cpp`` (``~/Library/Caches/llama.cpp`` on macOS, ``%LOCALAPPDATA%/llama.cpp`` on
  Windows): ``fs_get_cache_directory`` in llama.cpp's ``common/common.cpp`` (the pinned sdist).
  Older builds wrote flat ``<org>_<repo>_<file>.gguf`` files there; newer ones
  (``common/hf-cache.cpp``, llama.cpp PR #20775) use the Hugging Face cache layout, which the
  walker also reads.
- LM Studio: ``~/.lmstudio/models/<publisher>/<model>/<file>.gguf`` ("LM Studio's expected models
  directory structure", https://lmstudio.ai/docs/advanced/sideload); older releases used
  ``~/.cache/lm-studio/models``.
- Jan: ``<Jan data folder>/models`` (https://jan.ai/docs/data-folder: ``~/.config/Jan/data`` or
  ``$XDG_CONFIG_HOME/Jan/data`` on Linux, ``~/Library/Application Support/Jan/data`` on macOS;
  legacy root ``~/jan``); the llama.cpp extension keeps ``llamacpp/models/<id>/model.gguf``
  beside an ``mmproj.gguf`` for vision models (``~/.local/share/Jan/data/llamacpp/models``).
- Hugging Face hub cache: ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
  ``~/.cache/huggingface/hub`` (https://huggingface.co/docs/hub/local-cache):
  ``models--<org>--<repo>/snapshots/<commit>/<file>`` are symlinks to ``../../blobs/<hash>``, so
  symlinks are followed only while they stay inside the cache root.
- Ollama: ``$OLLAMA_MODELS``, else ``~/.ollama/models`` (and ``/usr/share/ollama/.ollama/models``
  for the Linux service): ``manifests/<registry>/<namespace>/<model>/<tag>`` JSON whose layer of
  media type ``application/vnd.ollama.image.model`` names the blob ``blobs/sha256-<hex>``
  (ollama/ollama ``server/internal/manifest/manifest.go``; blobs have no ``.gguf`` name).
- Folders the user adds (``discovery.model_folders``).

Roots are listed whether or not they exist (the scan says "not present"); duplicates (the same
real directory under two names, e.g. ``LLAMA_CACHE`` pointing at the HF cache) are kept once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Source(StrEnum):
    """Where a model file was found, as the Models page names it."""

    STEWARD = "Steward"
    LLAMA_CPP = "llama.cpp cache"
    LM_STUDIO = "LM Studio"
    JAN = "Jan"
    HUGGING_FACE = "Hugging Face"
    OLLAMA = "Ollama"
    USER = "your folder"


@dataclass(frozen=True)
class ModelRoot:
    """One folder to scan; `ollama` roots are read through their manifests, the rest walked.

    `max_depth` bounds how deep the walk goes below the root (0: the root's own files only).
    """

    source: Source
    path: Path
    max_depth: int = 6
    ollama: bool = False


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def _xdg(env: Mapping[str, str], var: str, default: str) -> Path:
    value = env.get(var)
    return Path(value) if value else _home(env) / default


def llama_cpp_cache(env: Mapping[str, str], platform: str = sys.platform) -> Path:
    """llama.cpp's cache dir as ``fs_get_cache_directory`` computes it."""
    if env.get("LLAMA_CACHE"):
        return Path(env["LLAMA_CACHE"])
    if platform == "darwin":
        return _home(env) / "Library" / "Caches" / "llama.cpp"
    if platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "llama.cpp"
    return _xdg(env, "XDG_CACHE_HOME", ".cache") / "llama.cpp"


def hf_hub_caches(env: Mapping[str, str]) -> list[Path]:
    """The hub cache the environment selects first, then the default one (both may hold models)."""
    paths = []
    if env.get("HF_HUB_CACHE"):
        paths.append(Path(env["HF_HUB_CACHE"]))
    if env.get("HF_HOME"):
        paths.append(Path(env["HF_HOME"]) / "hub")
    paths.append(_xdg(env, "XDG_CACHE_HOME", ".cache") / "huggingface" / "hub")
    return paths


def jan_model_dirs(env: Mapping[str, str]) -> list[Path]:
    home = _home(env)
    config = _xdg(env, "XDG_CONFIG_HOME", ".config")
    share = _xdg(env, "XDG_DATA_HOME", ".local/share")
    data_dirs = [config / "Jan" / "data", share / "Jan" / "data"]
    data_dirs.append(home / "Library" / "Application Support" / "Jan" / "data")
    dirs = [home / "jan" / "models"]
    for data in data_dirs:
        dirs += [data / "llamacpp" / "models", data / "models"]
    return dirs


def ollama_dirs(env: Mapping[str, str]) -> list[Path]:
    if env.get("OLLAMA_MODELS"):
        return [Path(env["OLLAMA_MODELS"])]
    return [_home(env) / ".ollama" / "models", Path("/usr/share/ollama/.ollama/models")]


def known_roots(
    steward_models: Sequence[Path],
    embedded_model: Path | None,
    user_folders: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
) -> list[ModelRoot]:
    """Every location to scan, most specific first; each real directory once."""
    e = os.environ if env is None else env
    home = _home(e)
    roots = [ModelRoot(Source.STEWARD, path) for path in steward_models]
    if embedded_model is not None:
        roots.append(ModelRoot(Source.STEWARD, embedded_model.parent, max_depth=0))
    roots += [ModelRoot(Source.OLLAMA, p, ollama=True) for p in ollama_dirs(e)]
    roots += [ModelRoot(Source.HUGGING_FACE, p) for p in hf_hub_caches(e)]
    roots.append(ModelRoot(Source.LLAMA_CPP, llama_cpp_cache(e)))
    roots += [
        ModelRoot(Source.LM_STUDIO, home / ".lmstudio" / "models"),
        ModelRoot(Source.LM_STUDIO, home / ".cache" / "lm-studio" / "models"),
    ]
    roots += [ModelRoot(Source.JAN, p) for p in jan_model_dirs(e)]
    roots += [ModelRoot(Source.USER, Path(folder).expanduser()) for folder in user_folders]
    unique: list[ModelRoot] = []
    seen: set[str] = set()
    for root in roots:
        key = os.path.realpath(root.path)
        if key not in seen:
            seen.add(key)
            unique.append(root)
    return unique
