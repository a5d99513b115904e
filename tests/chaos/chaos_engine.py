"""Chaos soak (`make chaos`): random faults on the primary's link for a while; every request must
end in an answer or one clearly classified failure, and no connection may leak."""

from __future__ import annotations

import asyncio
import os
import random
import time

import pytest

from steward.backends.factory import make_backend
from steward.engine.core import Engine
from steward.engine.events import Completed, RequestFailed
from steward.engine.request import ChatRequest
from steward.engine.settings import BreakerSettings, EngineSettings, Strategy, TimeoutSettings
from steward.engine.types import ChatMessage, GenerationParams
from tests.support.fault_proxy import (
    Bandwidth,
    Down,
    FaultProxy,
    Latency,
    LimitData,
    ResetPeer,
    Slicer,
    Timeout,
)
from tests.support.llama import LlamaServer

pytestmark = pytest.mark.chaos
FAULTS = [
    lambda: Latency(ms=random.uniform(50, 3000), jitter_ms=100),
    lambda: Down(),
    lambda: Timeout(),
    lambda: ResetPeer(after_ms=random.uniform(0, 300)),
    lambda: Slicer(avg_size=16, delay_ms=20),
    lambda: LimitData(n_bytes=random.randint(200, 3000)),
    lambda: Bandwidth(bytes_per_s=2000),
]


async def test_random_faults_never_hang_or_crash_the_engine(
    llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    duration = float(os.environ.get("STEWARD_CHAOS_SECONDS", "120"))
    random.seed(7)
    with FaultProxy("127.0.0.1", llama_small.port) as proxy:
        settings = EngineSettings(
            strategy=Strategy.HEDGED,
            timeouts=TimeoutSettings(connect_s=1.0, first_token_s=8.0, stall_s=5.0, total_s=30.0),
            breaker=BreakerSettings(failure_threshold=2, reset_timeout_s=2.0, max_reset_timeout_s=8.0),
        )
        engine = Engine(settings)
        for sid, url in (("primary", proxy.url), ("backup", llama_large.url)):
            engine.add_backend(make_backend("llamacpp", sid, url, api_key=None, connect_s=1.0, stall_s=10.0))
        await engine.refresh_models()
        answered = failed = 0
        reasons: dict[str, int] = {}
        stop_at = time.monotonic() + duration

        async def flip() -> None:
            while time.monotonic() < stop_at:
                proxy.set_fault(random.choice(FAULTS)()) if random.random() < 0.7 else proxy.clear()
                await asyncio.sleep(random.uniform(0.5, 3.0))
            proxy.clear()

        async def client() -> None:
            nonlocal answered, failed
            while time.monotonic() < stop_at:
                request = ChatRequest(
                    (ChatMessage("user", "Say hi"),), params=GenerationParams(max_tokens=12)
                )
                async with asyncio.timeout(60):  # a hang is the one outcome that is never acceptable
                    events = [e async for e in engine.chat(request)]
                assert isinstance(events[-1], Completed | RequestFailed)
                answered += isinstance(events[-1], Completed)
                if isinstance(events[-1], RequestFailed):
                    failed += 1
                    reasons[events[-1].detail[:160]] = reasons.get(events[-1].detail[:160], 0) + 1
                    await asyncio.sleep(0.2)  # a person reads the error before asking again

        await asyncio.gather(flip(), *(client() for _ in range(3)))
        await engine.aclose()
        await asyncio.sleep(0.5)
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])[:6]:
            print(f"[chaos] {count} x {reason}")
        print(
            f"\n[chaos] {answered} answered, {failed} failed in {duration:.0f} s; open proxy links {proxy.active_connections}"
        )
        assert answered > 0 and failed <= answered // 10, "the healthy backup answers nearly everything"
        assert proxy.active_connections == 0, "no connection leaked through the faults"
