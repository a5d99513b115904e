"""Drift on a REAL llama-server (SmolLM2): after its usual first-token time is learnt (30 answers),
a latency injected between Steward and the server (FaultProxy, 150 ms per chunk) is told as
"slower than usual" within 20 answers and the model's health says so; normal answers before it
raise nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.support.fault_proxy import FaultProxy, Latency
from tests.support.llama import LlamaServer
from tests.support.service import quiet_options

from steward.config import Settings
from steward.engine.events import Completed, EngineEvent
from steward.lab.drift import WARMUP
from steward.service import StewardService
from steward.service.model_watch import DriftDetected

MODEL = "slow/SmolLM2-135M-Instruct.Q4_1"


@pytest.fixture
async def proxied(
    tmp_path: Path, llama_small: LlamaServer
) -> AsyncIterator[tuple[StewardService, FaultProxy]]:
    with FaultProxy("127.0.0.1", llama_small.port) as proxy:
        settings = Settings.model_validate(
            {
                "endpoints": [{"id": "slow", "kind": "llamacpp", "base_url": proxy.url}],
                "routing": {"default_model": MODEL},
                "timeouts": {"first_token_s": 30, "stall_s": 30},
            }
        )
        service = await StewardService.start(quiet_options(settings, tmp_path))
        try:
            yield service, proxy
        finally:
            await service.stop()


async def ask(service: StewardService) -> None:
    request = service.build_request(
        [("user", "Say hi.")], model=MODEL, max_tokens=4, temperature=0, fallback=False
    )
    events = [e async for e in service.ask(request)]
    assert isinstance(events[-1], Completed), events[-1]


@pytest.mark.timeout(240)
async def test_an_injected_slowdown_is_found_as_drift_and_degrades_health(
    proxied: tuple[StewardService, FaultProxy],
) -> None:
    service, proxy = proxied
    seen: list[EngineEvent] = []
    service.subscribe(seen.append)
    for _ in range(WARMUP + 10):
        await ask(service)
    assert not [e for e in seen if isinstance(e, DriftDetected)], "normal answers raise nothing"

    proxy.set_fault(Latency(ms=150))
    after, drifts = 0, []
    while not drifts and after < 20:
        await ask(service)
        after += 1
        drifts = [e for e in seen if isinstance(e, DriftDetected)]
    assert drifts, "no drift within 20 answers of the slowdown"
    # A 13x slowdown may be told after only a few slow answers (normal ones near the threshold count
    # towards "most of the latest"); short spikes are the unit tests' business (tests/unit/test_lab_drift.py).
    assert after <= 20
    drift = drifts[0]
    assert drift.model == MODEL and drift.metric == "ttft" and drift.change >= 0.25  # the minimum effect
    assert drift.detail.startswith("slower than usual since ")
    state = service.snapshot().model(MODEL)
    assert state is not None and state.health == "degraded" and state.health_reason == drift.detail
    print(f"drift found after {after} slow answers: {drift.detail}")
