"""The failover drill on REAL llama-servers (SmolLM2 as "small" and "large"): each fault in turn on
small only, on the drill's own engine — and nothing of it reaches the live engine or other traffic."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.support.cli import run_steward
from tests.support.llama import LlamaServer
from tests.support.service import quiet_options

from steward.backends.faults import FaultKind
from steward.config import Settings
from steward.engine.events import Completed
from steward.lab.drill import run_drill
from steward.service import StewardService

MODEL = "SmolLM2-135M-Instruct.Q4_1"
SMALL, LARGE = f"small/{MODEL}", f"large/{MODEL}"
FAST = {"first_token_s": 5.0, "stall_s": 5.0, "connect_s": 1.0}  # short, yet roomy on 2 busy cores


def settings(small: LlamaServer, large: LlamaServer, chain: list[str], **routing: object) -> Settings:
    return Settings.model_validate(
        {
            "endpoints": [
                {"id": "small", "kind": "llamacpp", "base_url": small.url},
                {"id": "large", "kind": "llamacpp", "base_url": large.url},
            ],
            "routing": {"default_model": SMALL, "fallback_chain": chain, **routing},
            "timeouts": FAST,
        }
    )


@pytest.fixture
async def service(
    tmp_path: Path, llama_small: LlamaServer, llama_large: LlamaServer
) -> AsyncIterator[StewardService]:
    started = await StewardService.start(
        quiet_options(settings(llama_small, llama_large, [SMALL, LARGE]), tmp_path)
    )
    try:
        yield started
    finally:
        await started.stop()


@pytest.mark.timeout(300)
async def test_every_fault_on_small_is_answered_by_large_and_nothing_leaks(service: StewardService) -> None:
    before = service.snapshot()

    async def real_traffic() -> list[str]:
        """A user chatting with small all through the drill: never faulted, always small."""
        answered: list[str] = []
        for _ in range(4):
            request = service.build_request([("user", "Say hi.")], model=SMALL, max_tokens=4, fallback=False)
            events = [e async for e in service.ask(request)]
            last = events[-1]
            answered.append(last.model if isinstance(last, Completed) else f"failed: {last}")
            await asyncio.sleep(0.3)
        return answered

    async with service.drill_engine() as host:
        traffic = asyncio.ensure_future(real_traffic())
        report = await run_drill(host, [SMALL], list(FaultKind), recover_limit_s=20, trickle_s=0.1)
        assert await traffic == [SMALL] * 4, "the user's own requests to small never met a drill fault"

    by_fault = {s.fault: s for s in report.scenarios}
    assert set(by_fault) == {k.value for k in FaultKind}
    for fault in ("refused", "hang", "cut", "error_200", "garbage", "loop"):
        scenario = by_fault[fault]
        assert scenario.answered and scenario.answered_by == LARGE, scenario
        assert scenario.verdict.startswith(f"If {SMALL} ") and f"then {LARGE} answers" in scenario.verdict
        assert scenario.failures and scenario.failures[0].startswith(f"{SMALL}: ")
        assert any(line.startswith("✓ large/") for line in scenario.chain)
        assert scenario.recover_s is not None and scenario.recover_s < 10
    assert by_fault["refused"].failures[0] == f"{SMALL}: connection_refused"
    assert by_fault["hang"].failures[0] == f"{SMALL}: first_token_timeout"
    assert by_fault["hang"].total_s >= 5.0, "the first-token timeout (5 s) was really waited"
    assert by_fault["cut"].failures[0] == f"{SMALL}: connection_lost"
    assert by_fault["garbage"].failures[0] == f"{SMALL}: bad_response"
    assert by_fault["loop"].failures[0] == f"{SMALL}: degenerate_output"
    trickle = by_fault["trickle"]
    assert trickle.answered_by == SMALL and "it still answers itself" in trickle.verdict
    assert report.passed == len(report.scenarios) and report.summary().startswith(
        "Your setup kept answering in all 7"
    )

    after = service.snapshot()
    for key in (SMALL, LARGE):
        was, now = before.model(key), after.model(key)
        assert was is not None and now is not None
        assert now.breaker == "closed" and now.consecutive_failures == 0 and now.health != "unhealthy"
    live_small = after.model(SMALL)
    assert live_small is not None and live_small.metrics.requests == live_small.metrics.successes == 4, (
        "the live engine saw only the user's 4 requests, all answered: drill failures stayed in the drill"
    )


@pytest.mark.timeout(200)
def test_drill_cli_with_no_fallback_says_nothing_answers_and_what_to_do(
    tmp_path: Path, llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.toml").write_text(
        f"""
[[endpoints]]
id = "small"
kind = "llamacpp"
base_url = "{llama_small.url}"

[discovery]
ports = [9]

[routing]
default_model = "{SMALL}"
fallback_to_any = false

[timeouts]
first_token_s = 2.0
"""
    )
    done = run_steward(
        "drill",
        "--fault",
        "refused",
        "--fault",
        "hang",
        "--json",
        "--no-embedded",
        dirs=tmp_path,
        text=True,
        timeout=180,
    )
    assert done.returncode == 1, done.stderr  # the setup did not keep answering
    report = json.loads(done.stdout)
    assert report["targets"] == [SMALL] and [s["fault"] for s in report["scenarios"]] == ["refused", "hang"]
    for scenario in report["scenarios"]:
        assert not scenario["answered"] and "nothing answers" in scenario["verdict"]
        assert any("add a fallback chain" in advice for advice in scenario["advice"])
    assert Path(report["saved_to"]).parent == tmp_path / "data" / "lab"
    wrong = run_steward("drill", "--fault", "meteor", "--no-embedded", dirs=tmp_path, text=True)
    assert wrong.returncode == 2 and "unknown fault" in wrong.stderr and "trickle" in wrong.stderr
