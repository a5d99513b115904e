"""A REAL llama-server in router mode over a folder holding both real models (SmolLM2 135M and
Gemma 3 270M, as symlinks) and, optionally, a broken GGUF (its load fails with exit code 1)."""

from __future__ import annotations

from pathlib import Path

from steward.servers import embedded
from tests.support.gemma import GEMMA_STEM, gemma_path
from tests.support.llama import LlamaServer, free_port

SMOL_ID = embedded.MODEL_FILENAME.removesuffix(".gguf")
GEMMA_ID = GEMMA_STEM
BROKEN_ID = "broken"


def models_dir(folder: Path, *, broken: bool = False) -> Path:
    """`folder` with both real models linked in (and a broken file when asked)."""
    runtime = embedded.require()
    folder.mkdir(parents=True, exist_ok=True)
    for model in (runtime.model, gemma_path()):
        link = folder / model.name
        if not link.exists():
            link.symlink_to(model)
    if broken:
        (folder / f"{BROKEN_ID}.gguf").write_bytes(b"GGUF" + bytes(996))
    return folder


def make_router_server(
    log_dir: Path, folder: Path, *, models_max: int = 1, extra: list[str] | None = None
) -> LlamaServer:
    """A not-yet-started router: `--models-max` models loaded at once (1: loading one evicts the
    other), 512-token windows and 2 threads for every child."""
    runtime = embedded.require()
    port = free_port()
    args = [
        str(runtime.llama_server),
        "--models-dir",
        str(folder),
        "--models-max",
        str(models_max),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-c",
        "512",
        "-t",
        "2",
        "--no-webui",
        *(extra or []),
    ]
    return LlamaServer(ctx=512, port=port, log_path=log_dir / f"llama-router-{port}.log", args=args)
