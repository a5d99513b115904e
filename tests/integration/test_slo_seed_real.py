"""The SLO/drift watch after a restart, on a REAL llama-server (SmolLM2) with the app's real history
database: the answers of the last run are in the error budget and the drift baseline, so a slowdown
right after a restart is told as drift (without the history those slow answers would only be the
new warm-up, and nothing would ever be told)."""

from __future__ import annotations

from dataclasses import replace
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


async def ask(service: StewardService) -> None:
    request = service.build_request(
        [("user", "Say hi.")], model=MODEL, max_tokens=4, temperature=0, fallback=False
    )
    events = [e async for e in service.ask(request)]
    assert isinstance(events[-1], Completed), events[-1]


@pytest.mark.timeout(240)
async def test_after_a_restart_the_budget_and_the_usual_speed_come_from_the_last_run(
    tmp_path: Path, llama_small: LlamaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEWARD_DATA_DIR", str(tmp_path / "data"))
    with FaultProxy("127.0.0.1", llama_small.port) as proxy:
        settings = Settings.model_validate(
            {
                "endpoints": [{"id": "slow", "kind": "llamacpp", "base_url": proxy.url}],
                "routing": {"default_model": MODEL},
                "timeouts": {"first_token_s": 30, "stall_s": 30},
            }
        )
        options = replace(quiet_options(settings, tmp_path), store=True)
        first = await StewardService.start(options)
        try:
            assert await first.watch_seeded() == 0, "a new database has no history"
            for _ in range(WARMUP + 5):
                await ask(first)
        finally:
            await first.stop()

        second = await StewardService.start(options)
        try:
            assert await second.watch_seeded() == WARMUP + 5
            success = next(s for s in second.model_watch.slo(MODEL) if s.objective == "success")
            assert (success.good, success.total) == (WARMUP + 5, WARMUP + 5)
            seen: list[EngineEvent] = []
            second.subscribe(seen.append)
            proxy.set_fault(Latency(ms=150))
            after, drifts = 0, []
            while not drifts and after < 20:
                await ask(second)
                after += 1
                drifts = [e for e in seen if isinstance(e, DriftDetected)]
            assert drifts, "the slowdown after the restart was not told within 20 answers"
            assert drifts[0].model == MODEL and drifts[0].metric == "ttft"
            print(f"drift after the restart found after {after} slow answers: {drifts[0].detail}")
        finally:
            await second.stop()
