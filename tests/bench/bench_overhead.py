"""What Steward adds to one streamed chat, against plain httpx and LiteLLM's Router in the same run.

Three clients ask the same server for the same streamed completion, round-robin per request (the
order cycles through all six permutations), so drift and noise hit all three alike:
  - direct: plain httpx, parsing each SSE event (the baseline);
  - LiteLLM: `litellm.Router` with one deployment (its defaults), streamed (`make bench` installs it);
  - Steward: the engine exactly as `Runtime.start` builds it (context manager on, default settings;
    the history store is off here: its cost is bench_engine's store-on/off benchmark).
Servers: the mini server (a FAKE model, tests/bench/mini_server.py) once reporting its context window
in /v1/models and once reporting none, and the REAL llama-server (SmolLM2-135M, 8 tokens).
Targets: Steward adds <= 0.5 ms p50 on the mini server in both cases, <= 1.10x p50 (and <= 1.25x p99)
on llama-server. LiteLLM's figures are reported, not asserted (without LiteLLM installed, Steward is
still measured against direct httpx).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from steward.config import Settings
from steward.runtime import Runtime, RuntimeOptions
from tests.bench.common import PARAMS, Mini, cpu_us, direct, interleaved, record, stats, via_engine
from tests.support.llama import LlamaServer

pytestmark = [pytest.mark.bench, pytest.mark.timeout(1200)]  # the suite default (120 s) is too short

STUB_N = 1000
LLAMA_N = 150
TARGET_STUB_ADDED_P50_MS = 0.5
TARGET_LLAMA_P50_RATIO = 1.10
TARGET_LLAMA_P99_RATIO = 1.25


def litellm_router(base_url: str, model: str) -> Any:
    """A LiteLLM Router with one OpenAI-compatible deployment (no network: the local cost map);
    None without LiteLLM (Steward is still measured against direct httpx)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before the import: no fetch
    try:
        import litellm
    except ImportError:
        print("\n[bench] LiteLLM is not installed (`make bench` installs the bench extra): not compared")
        return None
    litellm.telemetry = False
    logging.getLogger("LiteLLM").setLevel(logging.ERROR)
    deployment = {"model": f"openai/{model}", "api_base": base_url + "/v1", "api_key": "none"}
    return litellm.Router(model_list=[{"model_name": "bench", "litellm_params": deployment}])


async def via_litellm(router: Any) -> float:
    """One streamed completion through the Router, reading every chunk."""
    started = time.perf_counter()
    stream = await router.acompletion(
        model="bench",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
        **PARAMS,
    )
    async for chunk in stream:
        _ = chunk.choices[0].delta.content if chunk.choices else None
    return time.perf_counter() - started


@asynccontextmanager
async def steward(kind: str, url: str) -> AsyncIterator[Runtime]:
    """Steward's runtime on one configured endpoint: no discovery, no embedded server, no store."""
    settings = Settings.model_validate(
        {"endpoints": [{"id": "bench", "kind": kind, "base_url": url}], "embedded": {"enabled": False}}
    )
    runtime = await Runtime.start(
        RuntimeOptions(settings=settings, store=False, discover=False, embedded=False, health_monitor=False)
    )
    try:
        yield runtime
    finally:
        await runtime.stop()


async def three_way(
    url: str, model: str, kind: str, n: int, upstream: Callable[[], dict[str, int]] | None = None
) -> dict[str, Any]:
    """Direct, LiteLLM and Steward interleaved per request; p50/p99 of each and Steward's ratios.
    `upstream` (the mini server's request counts by path) counts what else reached the server."""
    router = litellm_router(url, model)
    async with httpx.AsyncClient(timeout=30) as client, steward(kind, url) as runtime:
        (state,) = runtime.engine.models()
        key = state.key

        async def steward_once() -> float:
            return (await via_engine(runtime.engine, key))[0]

        paths: dict[str, Callable[[], Any]] = {
            "direct": lambda: direct(client, url, model),
            "litellm": lambda: via_litellm(router),
            "steward": steward_once,
        }
        if router is None:
            del paths["litellm"]
        before = upstream() if upstream else {}
        cpu: dict[str, list[float]] = {}
        times = await interleaved(paths, n, cpu=cpu)
        after = upstream() if upstream else {}
        window = state.window
    d, lite, s = (stats(times.get(k, [])) for k in ("direct", "litellm", "steward"))
    extra = {path: after[path] - before.get(path, 0) for path in after if path != "/v1/chat/completions"}
    return {
        "n": n,
        "window_known_to_steward": window,
        "upstream_besides_chats": {path: count for path, count in extra.items() if count},
        "direct": d,
        "litellm": lite,
        "steward": s,
        "steward_added_p50_ms": round(s["p50_ms"] - d["p50_ms"], 3),
        "litellm_added_p50_ms": round(lite["p50_ms"] - d["p50_ms"], 3) if router else None,
        "steward_p50_ratio": round(s["p50_ms"] / d["p50_ms"], 3),
        "steward_p99_ratio": round(s["p99_ms"] / d["p99_ms"], 3),
        "litellm_p50_ratio": round(lite["p50_ms"] / d["p50_ms"], 3) if router else None,
        "litellm_p99_ratio": round(lite["p99_ms"] / d["p99_ms"], 3) if router else None,
        # Client CPU per request (mean, this process only): less sensitive to the machine's load.
        "client_cpu_us": {k: cpu_us(v) for k, v in cpu.items()},
    }


@pytest.fixture(params=[4096, 0], ids=["window-reported", "no-window"])
def stub(request: pytest.FixtureRequest) -> Iterator[tuple[Mini, int]]:
    server = Mini(ports=1, window=request.param)
    yield server, request.param
    server.close()


async def test_overhead_on_the_minimal_server(stub: tuple[Mini, int]) -> None:
    mini, window = stub
    result = await three_way(mini.url(), "mini", "openai", STUB_N, upstream=mini.requests)
    result["target_added_p50_ms"] = TARGET_STUB_ADDED_P50_MS
    record("overhead", f"mini_{'window' if window else 'no_window'}", result)
    if window:
        assert result["window_known_to_steward"] == window, "Steward saw the window the server reports"
    assert result["steward_added_p50_ms"] <= TARGET_STUB_ADDED_P50_MS, (
        f"Steward adds {result['steward_added_p50_ms']} ms p50 over direct httpx "
        f"({result['steward']} vs {result['direct']}); target <= {TARGET_STUB_ADDED_P50_MS} ms"
    )
    # Direct httpx and LiteLLM only ever POST the chat: anything else came from Steward. The window
    # (or its absence) is learned once, so a request costs one upstream request, as direct.
    assert sum(result["upstream_besides_chats"].values()) <= 0.01 * STUB_N, result["upstream_besides_chats"]


async def test_overhead_on_the_real_llama_server(llama_small: LlamaServer) -> None:
    async with httpx.AsyncClient() as client:
        model = (await client.get(llama_small.url + "/v1/models")).json()["data"][0]["id"]
    result = await three_way(llama_small.url, model, "llamacpp", LLAMA_N)
    result["target_p50_ratio"] = TARGET_LLAMA_P50_RATIO
    result["target_p99_ratio"] = TARGET_LLAMA_P99_RATIO
    record("overhead", "llama_server", result)
    assert result["steward_p50_ratio"] <= TARGET_LLAMA_P50_RATIO, result
    assert result["steward_p99_ratio"] <= TARGET_LLAMA_P99_RATIO, result
