"""What the benchmarks share: the mini server process, the direct-httpx baseline, Steward built the
way the runtime builds it, interleaved timing and the results files.

Every benchmark compares against a baseline measured in the same run, on the same machine, at the
same time (interleaved where the two can run alternately), so the targets hold as ratios or margins
whatever the machine's speed or load.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import httpx

from steward.engine.context import ContextManager, engine_summarizer
from steward.engine.core import Engine
from steward.engine.events import Completed, EngineEvent
from steward.engine.metrics import percentile
from steward.engine.request import ChatRequest
from steward.engine.settings import EngineSettings
from steward.engine.types import ChatMessage, GenerationParams

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).parent / "results"
HI = (ChatMessage("user", "hi"),)
# One body for every path: the direct baseline asks for exactly what Steward's backend asks for.
PARAMS = {"max_tokens": 8, "seed": 1, "temperature": 0}


class Mini:
    """The mini server (tests/bench/mini_server.py) in its own process, and its ports."""

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
        """Chat requests the port has answered so far."""
        return int(httpx.get(self.url(index) + "/admin/count", timeout=5).text)

    def requests(self, index: int = 0) -> dict[str, int]:
        """Every request the port got so far, by path."""
        return dict(httpx.get(self.url(index) + "/admin/requests", timeout=5).json())

    def kill(self, index: int) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the port closes as it answers
            httpx.post(self.url(index) + "/admin/die", timeout=5)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.terminate()
        self.proc.wait(10)


def record(file: str, name: str, data: dict[str, object]) -> None:
    """Merge `data` under `name` into tests/bench/results/<file>.json and print it."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{file}.json"
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing[name] = data
    path.write_text(json.dumps(existing, indent=2) + "\n")
    print(f"\n[bench] {name}: " + ", ".join(f"{k}={v}" for k, v in data.items()))


def chat_body(model: str, max_tokens: int = 8) -> dict[str, object]:
    """The streamed completion every path sends (Steward's openai backend sends the same fields)."""
    return {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        **PARAMS,
        "max_tokens": max_tokens,
    }


async def direct(client: httpx.AsyncClient, url: str, model: str = "mini", max_tokens: int = 8) -> float:
    """The baseline: one streamed completion with plain httpx, parsing each SSE event."""
    started = time.perf_counter()
    async with client.stream("POST", url + "/v1/chat/completions", json=chat_body(model, max_tokens)) as r:
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                if line == "data: [DONE]":
                    break
                json.loads(line[6:])
    return time.perf_counter() - started


def steward_engine(settings: EngineSettings | None = None) -> Engine:
    """An engine composed as `Runtime.start` composes it: the context manager fits every attempt."""
    engine = Engine(settings or EngineSettings())
    engine.fitter = ContextManager(lambda: engine.settings.context, summarize=engine_summarizer(engine.chat))
    return engine


async def via_engine(
    engine: Engine, model: str, max_tokens: int = 8, **kw: object
) -> tuple[float, list[EngineEvent]]:
    """One chat through Steward's engine, timed from the call to the end of its event stream."""
    params = GenerationParams(max_tokens=max_tokens, seed=1, temperature=0)
    request = ChatRequest(HI, model=model, params=params, **kw)  # type: ignore[arg-type]
    started = time.perf_counter()
    events = [e async for e in engine.chat(request)]
    elapsed = time.perf_counter() - started
    assert any(isinstance(e, Completed) for e in events), [e.type for e in events]
    return elapsed, events


def ms(seconds: float | None) -> float:
    return round(1000 * (seconds or 0.0), 3)


def stats(values: Sequence[float]) -> dict[str, float]:
    """p50/p99 in ms (nearest rank, as the engine's own metrics)."""
    return {"p50_ms": ms(percentile(list(values), 50)), "p99_ms": ms(percentile(list(values), 99))}


async def interleaved(
    paths: dict[str, Callable[[], Awaitable[float]]],
    n: int,
    warmup: int = 20,
    gap_s: float = 0.001,
    cpu: dict[str, list[float]] | None = None,
) -> dict[str, list[float]]:
    """Time every path `n` times, round-robin per request, so drift and noise hit all paths alike.
    The order cycles through every permutation of the paths, so each path follows each other one
    equally often (a plain rotation always puts the same path after a given one, and that path
    would take the other's leftover background work). A short untimed gap after each request lets
    one path's background work (logging callbacks, queued writes) finish before the next path is
    timed. When `cpu` is given, it receives each request's process CPU time (this process: the
    client side only), including its gap, so background work is mostly charged to its path."""
    names = list(paths)
    for _ in range(warmup):
        for name in names:
            await paths[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        if cpu is not None:
            cpu[name] = []
    orders = list(itertools.permutations(names))
    for i in range(n):
        for name in orders[i % len(orders)]:
            cpu0 = time.process_time()
            times[name].append(await paths[name]())
            await asyncio.sleep(gap_s)
            if cpu is not None:
                cpu[name].append(time.process_time() - cpu0)
    return times


def cpu_us(values: Sequence[float]) -> float:
    """Mean client CPU per request, in microseconds."""
    return round(1e6 * sum(values) / max(1, len(values)), 1)
