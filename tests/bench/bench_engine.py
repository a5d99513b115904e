"""Engine benchmarks (`make bench`): overhead vs direct httpx, failover, hedging, many endpoints.

Every figure is a ratio against a baseline measured in the same run. The FAKE mini server
(tests/bench/mini_server.py) runs in its own process; the real llama-server comes from the
session fixture. Results are printed and written to tests/bench/results/engine.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from steward.backends.factory import make_backend
from steward.engine.core import Engine
from steward.engine.events import AttemptStarted, Completed, EngineEvent, HedgeStarted, RequestFailed
from steward.engine.metrics import percentile
from steward.engine.request import ChatRequest
from steward.engine.settings import BreakerSettings, EngineSettings, HedgeSettings, Strategy, TimeoutSettings
from steward.engine.types import ChatMessage, GenerationParams, ModelInfo
from tests.support.fault_proxy import FaultProxy, Timeout
from tests.support.llama import LlamaServer

pytestmark = pytest.mark.bench
RESULTS = Path(__file__).parent / "results"
HI = (ChatMessage("user", "hi"),)
ROOT = Path(__file__).resolve().parents[2]


class Mini:
    """The mini server process and its ports."""

    def __init__(self, ports: int = 1, **options: object) -> None:
        args = [sys.executable, "-m", "tests.bench.mini_server", "--ports", *(["0"] * ports)]
        for key, value in options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        self.proc = subprocess.Popen(args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "PORTS", line
        self.ports = [int(p) for p in line[1:]]

    def url(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    def count(self, index: int = 0) -> int:
        return int(httpx.get(self.url(index) + "/admin/count", timeout=5).text)

    def kill(self, index: int) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the port closes as it answers
            httpx.post(self.url(index) + "/admin/die", timeout=5)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def mini() -> Iterator[Mini]:
    server = Mini(ports=2)
    yield server
    server.close()


def record(name: str, data: dict[str, object]) -> None:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "engine.json"
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing[name] = data
    path.write_text(json.dumps(existing, indent=2))
    print(f"\n[bench] {name}: " + ", ".join(f"{k}={v}" for k, v in data.items()))


def engine_for(urls: dict[str, str], settings: EngineSettings | None = None) -> Engine:
    engine = Engine(settings or EngineSettings())
    for sid, url in urls.items():
        engine.add_backend(make_backend("openai", sid, url, api_key=None, connect_s=1.0, stall_s=10.0))
    return engine


async def direct(client: httpx.AsyncClient, url: str, max_tokens: int = 8) -> float:
    """The baseline: one streamed completion with plain httpx, parsing each SSE line."""
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "max_tokens": max_tokens,
        "seed": 1,
        "temperature": 0,
    }
    started = time.perf_counter()
    async with client.stream("POST", url + "/v1/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                if line == "data: [DONE]":
                    break
                json.loads(line[6:])
    return time.perf_counter() - started


async def via_engine(
    engine: Engine, model: str, max_tokens: int = 8, **kw: object
) -> tuple[float, list[EngineEvent]]:
    request = ChatRequest(
        HI, model=model, params=GenerationParams(max_tokens=max_tokens, seed=1, temperature=0), **kw
    )  # type: ignore[arg-type]
    started = time.perf_counter()
    events = [e async for e in engine.chat(request)]
    elapsed = time.perf_counter() - started
    assert any(isinstance(e, Completed) for e in events), [e.type for e in events]
    return elapsed, events


def stats(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(1000 * (percentile(values, 50) or 0), 2),
        "p99_ms": round(1000 * (percentile(values, 99) or 0), 2),
    }


async def overhead(url: str, model_key: str, engine: Engine, n: int, max_tokens: int) -> dict[str, object]:
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(5):  # warm both paths
            await direct(client, url, max_tokens)
            await via_engine(engine, model_key, max_tokens)
        base, eng = [], []
        for i in range(n):  # interleaved, alternating which goes first, so drift hits both alike
            if i % 2:
                eng.append((await via_engine(engine, model_key, max_tokens))[0])
            base.append(await direct(client, url, max_tokens))
            if not i % 2:
                eng.append((await via_engine(engine, model_key, max_tokens))[0])
    b, e = stats(base), stats(eng)
    return {
        "n": n,
        "direct": b,
        "engine": e,
        "p50_ratio": round(e["p50_ms"] / b["p50_ms"], 3),
        "p99_ratio": round(e["p99_ms"] / b["p99_ms"], 3),
        "added_p50_ms": round(e["p50_ms"] - b["p50_ms"], 2),
    }


async def test_engine_overhead_vs_direct_httpx_on_a_minimal_server(mini: Mini) -> None:
    engine = engine_for({"mini": mini.url(0)})
    await engine.refresh_models()
    result = await overhead(mini.url(0), "mini/mini", engine, n=400, max_tokens=8)
    record("overhead_mini", result)
    await engine.aclose()


async def test_engine_overhead_vs_direct_httpx_on_the_real_llama_server(llama_small: LlamaServer) -> None:
    engine = Engine(EngineSettings())
    engine.add_backend(
        make_backend("llamacpp", "llama", llama_small.url, api_key=None, connect_s=1.0, stall_s=10.0)
    )
    await engine.refresh_models()
    key = engine.models()[0].key
    result = await overhead(llama_small.url, key, engine, n=120, max_tokens=8)
    record("overhead_llama", result)
    await engine.aclose()


async def test_failover_refused_and_hung_primary(mini: Mini) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        baseline = [await direct(client, mini.url(1)) for _ in range(50)]
    # refused: nothing listens on the primary
    mini_dead = Mini(ports=1)
    dead_url = mini_dead.url(0)
    mini_dead.close()
    engine = engine_for({"dead": dead_url, "backup": mini.url(1)})
    engine.add_model("dead", ModelInfo("mini"))
    engine.add_model("backup", ModelInfo("mini"))
    engine.set_fallback_chain(["dead/mini", "backup/mini"])
    refused = [(await via_engine(engine, "dead/mini"))[0] for _ in range(50)]
    await engine.aclose()
    # hung: the primary accepts and never answers; first-token timeout 0.5 s
    with FaultProxy("127.0.0.1", mini.ports[0]) as hung:
        hung.set_fault(Timeout())
        settings = EngineSettings(timeouts=TimeoutSettings(first_token_s=0.5, connect_s=1.0))
        engine = engine_for({"hung": hung.url, "backup": mini.url(1)}, settings)
        engine.add_model("hung", ModelInfo("mini"))
        engine.add_model("backup", ModelInfo("mini"))
        engine.set_fallback_chain(["hung/mini", "backup/mini"])
        hung_times = [(await via_engine(engine, "hung/mini"))[0] for _ in range(20)]
        await engine.aclose()
    base = percentile(baseline, 50) or 0
    record(
        "failover",
        {
            "direct_to_fallback_p50_ms": round(base * 1000, 2),
            "refused_first_ms": round(refused[0] * 1000, 2),
            "refused_first_extra_ms": round((refused[0] - base) * 1000, 2),
            "refused_after_open_p50_extra_ms": round(((percentile(refused[1:], 50) or 0) - base) * 1000, 2),
            "hung_first_ms": round(hung_times[0] * 1000, 1),
            "hung_after_open_p50_extra_ms": round(((percentile(hung_times[3:], 50) or 0) - base) * 1000, 2),
        },
    )
    assert refused[0] - base < 0.050
    assert hung_times[0] < 0.5 + 0.2 and (percentile(hung_times[3:], 50) or 0) - base < 0.050


async def test_hedging_cuts_the_tail_for_few_extra_requests() -> None:
    slow = Mini(ports=1, slow_every=20, slow_ms=1000)  # 5% of primary answers delayed by 1 s
    fast = Mini(ports=1)
    try:
        results = {}
        for label, strategy in (("unhedged", Strategy.SEQUENTIAL), ("hedged", Strategy.HEDGED)):
            settings = EngineSettings(
                strategy=strategy, hedge=HedgeSettings(delay_s=0.05, use_measured_p95=False)
            )
            engine = engine_for({"primary": slow.url(), "backup": fast.url()}, settings)
            engine.add_model("primary", ModelInfo("mini"))
            engine.add_model("backup", ModelInfo("mini"))
            engine.set_fallback_chain(["primary/mini", "backup/mini"])
            before = fast.count()
            times, hedges = [], 0
            for _ in range(200):
                elapsed, events = await via_engine(engine, "primary/mini")
                times.append(elapsed)
                hedges += sum(isinstance(e, HedgeStarted) for e in events)
            results[label] = {**stats(times), "extra_upstream": fast.count() - before, "hedges": hedges}
            await engine.aclose()
    finally:
        slow.close()
        fast.close()
    ratio = results["hedged"]["p99_ms"] / results["unhedged"]["p99_ms"]
    extra = results["hedged"]["extra_upstream"] / 200
    record(
        "hedging",
        {
            **{f"{k}_{m}": v for k, d in results.items() for m, v in d.items()},
            "p99_ratio": round(ratio, 3),
            "extra_request_share": round(extra, 3),
        },
    )
    assert ratio <= 0.5 and extra <= 0.10


async def run_farm(n: int, duration: float, kill: bool) -> dict[str, float | int]:
    """n endpoints, n concurrent clients for `duration` s; optionally endpoint 0 dies halfway."""
    farm = Mini(ports=n)
    settings = EngineSettings(
        strategy=Strategy.WEIGHTED,
        breaker=BreakerSettings(failure_threshold=3, reset_timeout_s=30.0),
        timeouts=TimeoutSettings(connect_s=1.0, first_token_s=5.0),
    )
    engine = engine_for({f"s{i}": farm.url(i) for i in range(n)}, settings)
    for i in range(n):
        engine.add_model(f"s{i}", ModelInfo("mini"))
    state = {"dead_attempts": 0, "failed": 0, "done": 0}
    killed = asyncio.Event()

    def watch(event: EngineEvent) -> None:
        if killed.is_set() and isinstance(event, AttemptStarted) and event.model == "s0/mini":
            state["dead_attempts"] += 1

    engine.subscribe(watch)
    stop_at = time.perf_counter() + duration

    async def client() -> None:
        while time.perf_counter() < stop_at:
            events = [e async for e in engine.chat(ChatRequest(HI, params=GenerationParams(max_tokens=8)))]
            state["failed" if any(isinstance(e, RequestFailed) for e in events) else "done"] += 1

    async def killer() -> None:
        await asyncio.sleep(duration / 2)
        await asyncio.to_thread(farm.kill, 0)
        killed.set()

    tasks = [asyncio.create_task(client()) for _ in range(n)]
    if kill:
        tasks.append(asyncio.create_task(killer()))
    await asyncio.gather(*tasks)
    await engine.aclose()
    farm.close()
    return {
        "requests": state["done"],
        "failed": state["failed"],
        "rps": round(state["done"] / duration, 1),
        "dead_attempts_after_kill": state["dead_attempts"],
    }


async def test_fifty_endpoints_fifty_clients_one_killed() -> None:
    n, duration = 50, 8.0
    outcomes = {
        "healthy": await run_farm(n, duration, kill=False),
        "one_killed": await run_farm(n, duration, kill=True),
    }
    ratio = outcomes["one_killed"]["rps"] / outcomes["healthy"]["rps"]
    record(
        "fifty_endpoints",
        {
            **{f"{k}_{m}": v for k, d in outcomes.items() for m, v in d.items()},
            "throughput_ratio": round(ratio, 3),
            "target_ratio": round(0.9 * (n - 1) / n, 3),
        },
    )
    assert outcomes["one_killed"]["failed"] == 0
    assert outcomes["one_killed"]["dead_attempts_after_kill"] <= 3 + 1  # failure threshold + one probe
    assert ratio >= 0.9 * (n - 1) / n


async def test_store_on_barely_moves_the_engine_overhead(mini: Mini, tmp_path: Path) -> None:
    """Two engines on the same server, one recording into the store, requests interleaved."""
    from steward.recorder import Recorder
    from steward.store import open_store

    plain = engine_for({"mini": mini.url(0)})
    recorded = engine_for({"mini": mini.url(0)})
    await plain.refresh_models()
    await recorded.refresh_models()
    store, _ = open_store(tmp_path / "bench.db", commit_interval_s=0.25)  # as the runtime opens it
    recorded.subscribe(Recorder(store.writer.put))
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(5):
            await via_engine(plain, "mini/mini")
            await via_engine(recorded, "mini/mini")
        off: list[float] = []
        on: list[float] = []
        base: list[float] = []

        async def run_direct() -> None:
            base.append(await direct(client, mini.url(0)))

        async def run_off() -> None:
            off.append((await via_engine(plain, "mini/mini"))[0])

        async def run_on() -> None:
            on.append((await via_engine(recorded, "mini/mini"))[0])

        order = [run_direct, run_off, run_on]
        for i in range(600):  # rotate the order so no path always runs first or last
            for step in order[i % 3 :] + order[: i % 3]:
                await step()
    store.close()
    await plain.aclose()
    await recorded.aclose()
    b, f, n = (percentile(v, 50) or 1.0 for v in (base, off, on))
    record(
        "store_on_overhead",
        {
            "p50_ratio_store_off": round(f / b, 3),
            "p50_ratio_store_on": round(n / b, 3),
            "relative_change": round(n / f - 1, 4),
        },
    )
