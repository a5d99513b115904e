"""Chaos soak (`make chaos`): thousands of requests through the real engine while the primary breaks.

The primary is a REAL llama-server (SmolLM2) run by Steward's own `Supervisor` behind a `FaultProxy`; the
fallback is a second real llama-server that stays healthy. A schedule (tests/chaos/faults.py) switches faults
on and off: refused, hung, cut mid-stream, TCP reset, garbage instead of HTTP, a 200 carrying an error body,
an SSE error event after a partial answer, an endless SSE loop, a SIGKILL of the primary process followed by
the supervisor's restart, and 503 "Loading model" (a big model loading). Several clients send requests pinned
to the primary with the fallback as its chain, each with a deadline. The engine is composed as
`Runtime.start` composes it (ContextManager fitter, health monitor running, backends from `make_backend` with
the probe timeout as `aux_s` and the httpx read timeout as a safety net above the engine's own timeouts).

Targets: >= 99.9 % answered, no request past its deadline, nothing leaked (sockets, llama-server processes,
tasks), and no poisoned answer (a loop or a pre-error partial from the broken server returned as the answer).
The table is printed and written to tests/chaos/results/soak.json.

Knobs (environment): STEWARD_CHAOS_REQUESTS (10000), STEWARD_CHAOS_CLIENTS (4), STEWARD_CHAOS_MAX_TOKENS (8),
STEWARD_CHAOS_SEED (7), STEWARD_CHAOS_FAULTS (comma-separated kinds, default all ten), STEWARD_CHAOS_HOLD_S
("3,8": how long each fault lasts), STEWARD_CHAOS_CALM_S ("10,16": the calm between faults),
STEWARD_CHAOS_TIMEOUT (pytest timeout, s). Replay one kind, e.g.:
`STEWARD_CHAOS_FAULTS=degenerate_loop STEWARD_CHAOS_REQUESTS=800 make chaos`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from steward.backends.factory import make_backend
from steward.engine.context import ContextManager, engine_summarizer
from steward.engine.core import Engine
from steward.engine.events import AttemptFailed, Completed, EngineEvent, RequestFailed
from steward.engine.request import ChatRequest
from steward.engine.settings import BreakerSettings, EngineSettings, HealthSettings, TimeoutSettings
from steward.engine.types import ChatMessage, GenerationParams
from steward.servers import embedded
from steward.servers.events import ServerState
from steward.servers.policy import SupervisorPolicy
from steward.servers.profiles import LlamaServerProfile
from steward.servers.supervisor import Supervisor
from tests.chaos import leaks
from tests.chaos.faults import DEFAULT_KINDS, FAULTS, Chaos, poisoned
from tests.chaos.tally import Outcome, Tally, code_version, render, write
from tests.support.fault_proxy import FaultProxy
from tests.support.llama import free_port

pytestmark = pytest.mark.chaos


def _env_pair(name: str, default: str) -> tuple[float, float]:
    low, high = (float(x) for x in os.environ.get(name, default).split(","))
    return low, high


REQUESTS = int(os.environ.get("STEWARD_CHAOS_REQUESTS", "10000"))
CLIENTS = int(os.environ.get("STEWARD_CHAOS_CLIENTS", "4"))
MAX_TOKENS = int(os.environ.get("STEWARD_CHAOS_MAX_TOKENS", "8"))
SEED = int(os.environ.get("STEWARD_CHAOS_SEED", "7"))
HOLD_S = _env_pair("STEWARD_CHAOS_HOLD_S", "3,8")
CALM_S = _env_pair("STEWARD_CHAOS_CALM_S", "10,16")
KINDS = tuple(k for k in os.environ.get("STEWARD_CHAOS_FAULTS", ",".join(DEFAULT_KINDS)).split(",") if k)
assert set(KINDS) <= set(FAULTS), f"STEWARD_CHAOS_FAULTS: known kinds are {', '.join(FAULTS)}"
# A question SmolLM2 answers in three tokens ("Yes."): each request is cheap, and max_tokens still caps it.
PROMPT = "Reply with one word: yes or no?"

# The product's defaults except where a soak needs shorter clocks: a tiny model answers in well under a
# second, so 6 s without a first token is a hang; breakers re-probe after 2 s (at most 8 s) so recovery
# can be measured between faults; the request deadline is tightened from 600 s to 30 s.
SETTINGS = replace(
    EngineSettings(),
    timeouts=replace(
        TimeoutSettings(),
        connect_s=2.0,
        probe_s=2.0,
        first_token_s=6.0,
        stall_s=4.0,
        total_s=20.0,
        request_deadline_s=30.0,
    ),
    breaker=replace(BreakerSettings(), reset_timeout_s=2.0, max_reset_timeout_s=8.0),
    health=replace(HealthSettings(), probe_interval_s=2.0),
)
# The supervisor's own defaults: a kill every few minutes is well inside its crash-loop limit.
POLICY = SupervisorPolicy()


def _engine(primary_url: str, fallback_url: str) -> Engine:
    """The engine as `Runtime.start` and `Runtime._add_backend` compose it."""
    engine = Engine(SETTINGS)
    engine.fitter = ContextManager(lambda: engine.settings.context, summarize=engine_summarizer(engine.chat))
    t = SETTINGS.timeouts
    read_safety_net = max(t.first_token_s, t.stall_s) + 5.0  # = steward.runtime.http_read_timeout
    for server_id, url in (("primary", primary_url), ("fallback", fallback_url)):
        engine.add_backend(
            make_backend(
                "llamacpp",
                server_id,
                url,
                api_key=None,
                connect_s=t.connect_s,
                stall_s=read_safety_net,
                aux_s=t.probe_s,
            )
        )
    return engine


@contextlib.asynccontextmanager
async def _closing(events: AsyncIterator[EngineEvent]) -> AsyncGenerator[AsyncIterator[EngineEvent], None]:
    """Close the engine's event stream however the caller leaves it (the engine then cancels the request)."""
    try:
        yield events
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


async def _one(engine: Engine, request: ChatRequest, chaos: Chaos, deadline_s: float) -> Outcome:
    at_start, window = chaos.current, chaos.active
    cleared_kind, cleared_at = chaos.last_cleared
    started = time.monotonic()
    failures: list[tuple[str, str, str]] = []
    last = None
    hung = False
    try:
        async with asyncio.timeout(deadline_s + 30), _closing(engine.chat(request)) as events:
            async for event in events:
                if isinstance(event, AttemptFailed):
                    failures.append((event.model.split("/")[0], event.kind.value, event.detail))
                last = event
    except TimeoutError:
        hung = True
    ended = time.monotonic()
    fault = at_start if at_start != "none" else chaos.current  # a fault that began mid-request counts
    window = window or chaos.active
    if window is not None:
        window.requests += 1
    after = (cleared_kind, started - cleared_at)
    if isinstance(last, Completed):
        server = last.model.split("/")[0]
        if server == "primary":
            chaos.primary_answered(started, ended)
        bad = poisoned(last.text)
        if window is not None:
            window.poisoned += bad
        return Outcome(started, ended - started, fault, server, (), "", tuple(failures), bad, after=after)
    if isinstance(last, RequestFailed):
        kinds = tuple(k.value for k in last.kinds)
        return Outcome(
            started, ended - started, fault, None, kinds, last.detail, tuple(failures), after=after
        )
    detail = "hung: the engine never ended the request" if hung else f"no final event, last {last!r}"
    return Outcome(
        started, ended - started, fault, None, ("hung",), detail, tuple(failures), hung=hung, after=after
    )


def _profile(name: str, port: int) -> LlamaServerProfile:
    """A managed llama-server on the embedded SmolLM2: one thread (two servers share two cores, and
    llama.cpp's threads spin; two threads each ran ~10x slower here under load), two slots."""
    runtime = embedded.require()
    return LlamaServerProfile(
        name,
        runtime.llama_server,
        runtime.model,
        ctx_size=1024,
        port=port,
        threads=1,
        parallel=2,
        extra_args=("--no-webui",),
    )


async def _drive(
    engine: Engine,
    supervisor: Supervisor,
    proxy: FaultProxy,
    rng: random.Random,
    sockets_back: Callable[[], bool],
    wall_started: float,
) -> tuple[Tally, Chaos, int]:
    """Start the servers, run the clients and the fault schedule, close the engine; (tally, schedule,
    proxy links still open once everything closed)."""
    for status in await supervisor.start_all():
        assert status.state is ServerState.READY, status
    problems = await engine.refresh_models()
    assert not problems, problems
    keys = {m.ref.server_id: m.key for m in engine.models()}
    engine.set_fallback_chain([keys["fallback"]])
    monitor = asyncio.ensure_future(engine.run_health_monitor())  # as the runtime runs it
    deadline_s = SETTINGS.timeouts.request_deadline_s
    tally = Tally(deadline_s)
    hang_s = SETTINGS.timeouts.first_token_s + 2.0  # a hang outlasts the first-token timeout
    chaos = Chaos(proxy, supervisor.server("primary"), rng, HOLD_S, CALM_S, KINDS, {"hang": hang_s})
    stop = asyncio.Event()
    issued = 0

    async def client() -> None:
        nonlocal issued
        while issued < REQUESTS and not stop.is_set():
            issued += 1
            params = GenerationParams(max_tokens=MAX_TOKENS, temperature=0.0, seed=issued)
            request = ChatRequest((ChatMessage("user", PROMPT),), model=keys["primary"], params=params)
            tally.add(await _one(engine, request, chaos, deadline_s))
            if len(tally.outcomes) % 500 == 0:
                print(
                    f"[chaos] {tally.progress(REQUESTS)}, {len(chaos.windows)} faults, "
                    f"now {chaos.current}, {time.monotonic() - wall_started:.0f} s",
                    flush=True,
                )

    schedule = asyncio.ensure_future(chaos.run(stop))
    schedule.add_done_callback(lambda _t: stop.set())  # a broken schedule ends the run (and raises below)
    try:
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
    finally:
        stop.set()
        monitor.cancel()
        await asyncio.gather(monitor, return_exceptions=True)
        await engine.aclose()
        await schedule
    await leaks.settle(lambda: sockets_back() and proxy.active_connections == 0, 10)
    return tally, chaos, proxy.active_connections


@pytest.mark.timeout(int(os.environ.get("STEWARD_CHAOS_TIMEOUT", "3600")))
async def test_soak_with_faults_on_the_primary(tmp_path: Path) -> None:
    wall_started = time.monotonic()
    rng = random.Random(SEED)
    primary_port, fallback_port = free_port(), free_port()  # fixed up front: restarts keep them
    fixtures = leaks.llama_servers()  # llama-servers of the session's fixtures, if any ran before
    tasks_before = asyncio.all_tasks()
    with FaultProxy("127.0.0.1", primary_port, seed=SEED) as proxy:
        ports = {proxy.port, primary_port, fallback_port}
        sockets_before = leaks.sockets_to(ports)
        engine = _engine(proxy.url, f"http://127.0.0.1:{fallback_port}")
        # As the runtime wires it: the supervisor's server events go out through the engine.
        supervisor = Supervisor(
            [_profile("primary", primary_port), _profile("fallback", fallback_port)],
            policy=POLICY,
            on_event=engine.publish,
            run_dir=tmp_path / "run",
            log_dir=tmp_path / "logs",
        )
        try:
            tally, chaos, proxy_active = await _drive(
                engine,
                supervisor,
                proxy,
                rng,
                lambda: leaks.sockets_to(ports) == sockets_before,
                wall_started,
            )
            sockets_after = leaks.sockets_to(ports)
            restarts = supervisor.server("primary").restarts
        finally:
            await engine.aclose()
            await supervisor.stop_all()
    await leaks.settle(lambda: set(leaks.llama_servers()) <= set(fixtures), 10)
    left = {pid: st for pid, st in leaks.llama_servers().items() if pid not in fixtures}
    left_orphans = set(leaks.orphans({primary_port, fallback_port}, exclude=fixtures)) - set(left)
    await asyncio.sleep(0)
    tasks_left = [
        t for t in asyncio.all_tasks() - tasks_before if not t.done() and t is not asyncio.current_task()
    ]
    leak_report: dict[str, object] = {
        "leaked_sockets": max(0, len(sockets_after) - len(sockets_before)) + proxy_active,
        "sockets_left": sockets_after,
        "proxy_active_connections": proxy_active,
        "leaked_processes": len(left) + len(left_orphans),
        "processes_left": {str(pid): st for pid, st in left.items()}
        | {str(p): "orphan" for p in left_orphans},
        "primary_restarts": restarts,
        "leaked_tasks": len(tasks_left),
        "tasks_left": [repr(t)[:160] for t in tasks_left],
    }
    config = {
        "requests": REQUESTS,
        "clients": CLIENTS,
        "max_tokens": MAX_TOKENS,
        "prompt": PROMPT,
        "seed": SEED,
        "faults": KINDS,
        "hold_s": HOLD_S,
        "calm_s": CALM_S,
        "strategy": SETTINGS.strategy.value,
        "timeouts": vars(SETTINGS.timeouts),
        "breaker": vars(SETTINGS.breaker),
        "servers": "2 x llama-server (SmolLM2-135M Q4_1, -c 1024, -t 1, --parallel 2) under Steward's Supervisor",
        "code": code_version(),
        "restart": "SIGKILL of the primary, restarted by steward.servers.supervisor.Supervisor on the same port",
    }
    summary = tally.summary(chaos.windows, leak_report, time.monotonic() - wall_started, config)
    print(render(summary))
    print(f"[chaos] written to {write(summary)}")

    assert summary["answered_pct"] >= 99.9, "the healthy fallback must answer (nearly) everything"  # type: ignore[operator]
    assert summary["past_deadline"] == 0, "every request ends within its deadline"
    assert summary["leaked_sockets"] == 0, sockets_after
    assert summary["leaked_processes"] == 0, left
    assert summary["leaked_tasks"] == 0, tasks_left
    if REQUESTS >= 10_000:
        assert {w.kind for w in chaos.windows} == set(KINDS), "a full run meets every kind of fault"
    assert summary["poisoned_answers"] == 0, "a broken server's text never becomes an answer"
