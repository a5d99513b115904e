"""Engine benchmarks (`make bench`): failover, hedging, many endpoints, the store's cost per request.

Every target is a ratio or margin against a baseline measured in the same run (interleaved where
the two can alternate). Steward's engine is composed as the runtime composes it (context manager
on). The FAKE mini server (tests/bench/mini_server.py) runs in its own process. Results are
printed and written to tests/bench/results/engine.json. The overhead against plain httpx and
LiteLLM's Router is bench_overhead.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from steward.backends.factory import make_backend
from steward.engine.core import Engine
from steward.engine.events import AttemptStarted, EngineEvent, HedgeStarted, RequestFailed
from steward.engine.metrics import percentile
from steward.engine.request import ChatRequest
from steward.engine.settings import BreakerSettings, EngineSettings, HedgeSettings, Strategy, TimeoutSettings
from steward.engine.types import GenerationParams, ModelInfo
from tests.bench.common import (
    HI,
    Mini,
    cpu_us,
    direct,
    interleaved,
    ms,
    record,
    stats,
    steward_engine,
    via_engine,
)
from tests.support.fault_proxy import FaultProxy, Timeout

pytestmark = [pytest.mark.bench, pytest.mark.timeout(1200)]  # the suite default (120 s) is too short
WINDOW = 4096
# Once a circuit is open, failing over costs what any request costs: Steward's overhead target.
TARGET_AFTER_OPEN_ADDED_P50_MS = 0.5
TARGET_FIRST_FAILOVER_ADDED_MS = 50.0
TARGET_STORE_ON_SLOWER = 0.02


@pytest.fixture
def mini() -> Iterator[Mini]:
    server = Mini(ports=2, window=WINDOW)
    yield server
    server.close()


def engine_for(urls: dict[str, str], settings: EngineSettings | None = None) -> Engine:
    engine = steward_engine(settings)
    for sid, url in urls.items():
        engine.add_backend(make_backend("openai", sid, url, api_key=None, connect_s=1.0, stall_s=10.0))
    return engine


def chain(engine: Engine, primary: str, backup: str) -> None:
    """`primary/mini` falls back to `backup/mini`; both registered as listed (window known)."""
    for sid in (primary, backup):
        engine.add_model(sid, ModelInfo("mini", loaded_context=WINDOW))
    engine.set_fallback_chain([f"{primary}/mini", f"{backup}/mini"])


async def failover(engine: Engine, primary: str, backup: str, backup_url: str, n: int) -> dict[str, object]:
    """Steward asked for `primary` while it fails, against direct httpx to the fallback, same run:
    the first request (the primary fails once), until its circuit opens, then `n` interleaved pairs."""
    on_primary: list[int] = []
    engine.subscribe(
        lambda e: on_primary.append(1) if isinstance(e, AttemptStarted) and e.model == primary else None
    )
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(20):  # a warm engine and client, as when a primary dies in a running app
            await via_engine(engine, backup)
            await direct(client, backup_url)
        opening: list[float] = []
        while len(opening) < 10:
            before = len(on_primary)
            elapsed = (await via_engine(engine, primary))[0]
            if len(on_primary) == before:  # the circuit is open: this request went straight on
                break
            opening.append(elapsed)
        before = len(on_primary)

        async def steward_once() -> float:
            return (await via_engine(engine, primary))[0]

        times = await interleaved(
            {"direct": lambda: direct(client, backup_url), "steward": steward_once}, n, warmup=0
        )
    await engine.aclose()
    base = percentile(times["direct"], 50) or 0.0
    after = stats(times["steward"])
    return {
        "direct_to_fallback": stats(times["direct"]),
        "first_ms": ms(opening[0]),
        "first_added_ms": ms(opening[0] - base),
        "requests_until_open": len(opening),
        "after_open": after,
        "after_open_added_p50_ms": round(after["p50_ms"] - ms(base), 3),
        "primary_attempts_after_open": len(on_primary) - before,
        "n": n,
    }


async def test_failover_from_a_refused_primary(mini: Mini) -> None:
    nobody = Mini(ports=1)  # a port nothing listens on any more
    dead_url = nobody.url()
    nobody.close()
    engine = engine_for({"dead": dead_url, "backup": mini.url(1)})
    chain(engine, "dead", "backup")
    result = await failover(engine, "dead/mini", "backup/mini", mini.url(1), n=300)
    record("engine", "failover_refused", result)
    assert result["first_added_ms"] <= TARGET_FIRST_FAILOVER_ADDED_MS, result  # type: ignore[operator]
    assert result["primary_attempts_after_open"] == 0, result
    assert result["after_open_added_p50_ms"] <= TARGET_AFTER_OPEN_ADDED_P50_MS, result  # type: ignore[operator]


async def test_failover_from_a_hung_primary(mini: Mini) -> None:
    """The primary accepts and never answers: one first-token timeout per request until it opens."""
    first_token_s = 0.5
    with FaultProxy("127.0.0.1", mini.ports[0]) as hung:
        hung.set_fault(Timeout())
        settings = EngineSettings(timeouts=TimeoutSettings(first_token_s=first_token_s, connect_s=1.0))
        engine = engine_for({"hung": hung.url, "backup": mini.url(1)}, settings)
        chain(engine, "hung", "backup")
        result = await failover(engine, "hung/mini", "backup/mini", mini.url(1), n=300)
    result["first_beyond_timeout_ms"] = round(result["first_added_ms"] - 1000 * first_token_s, 3)  # type: ignore[operator]
    record("engine", "failover_hung", result)
    assert result["first_beyond_timeout_ms"] <= TARGET_FIRST_FAILOVER_ADDED_MS, result
    assert result["requests_until_open"] == BreakerSettings().failure_threshold, result
    assert result["primary_attempts_after_open"] == 0, result
    assert result["after_open_added_p50_ms"] <= TARGET_AFTER_OPEN_ADDED_P50_MS, result  # type: ignore[operator]


async def test_hedging_cuts_the_tail_for_few_extra_requests() -> None:
    """Same-run baseline: the same 200 requests without hedging (sequential strategy)."""
    slow = Mini(ports=1, slow_every=20, slow_ms=1000, window=WINDOW)  # 5% of primary answers 1 s late
    fast = Mini(ports=1, window=WINDOW)
    try:
        results = {}
        for label, strategy in (("unhedged", Strategy.SEQUENTIAL), ("hedged", Strategy.HEDGED)):
            settings = EngineSettings(
                strategy=strategy, hedge=HedgeSettings(delay_s=0.05, use_measured_p95=False)
            )
            engine = engine_for({"primary": slow.url(), "backup": fast.url()}, settings)
            chain(engine, "primary", "backup")
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
        "engine",
        "hedging",
        {
            **{f"{k}_{m}": v for k, d in results.items() for m, v in d.items()},
            "p99_ratio": round(ratio, 3),
            "extra_request_share": round(extra, 3),
            "target_p99_ratio": 0.5,
            "target_extra_request_share": 0.10,
        },
    )
    assert ratio <= 0.5, results
    assert extra <= 0.10, results


async def run_farm(n: int, duration: float, kill: bool) -> dict[str, float | int]:
    """n endpoints, n concurrent clients for `duration` s; optionally endpoint 0 dies halfway."""
    farm = Mini(ports=n, window=WINDOW)
    settings = EngineSettings(
        strategy=Strategy.WEIGHTED,
        breaker=BreakerSettings(failure_threshold=3, reset_timeout_s=30.0),
        timeouts=TimeoutSettings(connect_s=1.0, first_token_s=5.0),
    )
    engine = engine_for({f"s{i}": farm.url(i) for i in range(n)}, settings)
    for i in range(n):
        engine.add_model(f"s{i}", ModelInfo("mini", loaded_context=WINDOW))
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
        "engine",
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
    """Two engines on the same server, one recording into the store as the runtime wires it;
    direct httpx, store off and store on interleaved per request. Target: < 2% slower p50."""
    from steward.recorder import Recorder
    from steward.store import open_store

    plain = engine_for({"mini": mini.url(0)})
    recorded = engine_for({"mini": mini.url(0)})
    await plain.refresh_models()
    await recorded.refresh_models()
    store, _ = open_store(tmp_path / "bench.db", commit_interval_s=0.25)  # as the runtime opens it
    recorded.subscribe(Recorder(store.writer.put))
    async with httpx.AsyncClient(timeout=30) as client:

        async def off() -> float:
            return (await via_engine(plain, "mini/mini"))[0]

        async def on() -> float:
            return (await via_engine(recorded, "mini/mini"))[0]

        cpu: dict[str, list[float]] = {}
        paths = {"direct": lambda: direct(client, mini.url(0)), "off": off, "on": on}
        times = await interleaved(paths, 1000, cpu=cpu)
    store.close()
    await plain.aclose()
    await recorded.aclose()
    b, f, n = (stats(times[k]) for k in ("direct", "off", "on"))
    slower = n["p50_ms"] / f["p50_ms"] - 1
    record(
        "engine",
        "store_on_overhead",
        {
            "direct": b,
            "store_off": f,
            "store_on": n,
            "p50_ratio_store_off": round(f["p50_ms"] / b["p50_ms"], 3),
            "p50_ratio_store_on": round(n["p50_ms"] / b["p50_ms"], 3),
            "store_on_slower_p50": round(slower, 4),
            "client_cpu_us": {k: cpu_us(v) for k, v in cpu.items()},  # the writer thread's included
            "target_store_on_slower_p50": TARGET_STORE_ON_SLOWER,
        },
    )
    assert slower < TARGET_STORE_ON_SLOWER, (b, f, n)
