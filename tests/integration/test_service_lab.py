"""`service.lab` on REAL llama-servers (SmolLM2 as "small" and "large"): one experiment at a time,
a cancelled drill leaves no fault behind, and the history lists saved results — an unreadable
file among them listed as such, never a crash."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from tests.support.llama import LlamaServer
from tests.support.service import quiet_options

from steward.backends.faults import Fault, FaultKind
from steward.config import Settings
from steward.engine.events import Completed
from steward.lab.compare import ComparisonResult
from steward.lab.drill import DrillReport
from steward.service import StewardService
from steward.service.drill_host import DrillEngine
from steward.service.lab import LabBusy

MODEL = "SmolLM2-135M-Instruct.Q4_1"
SMALL, LARGE = f"small/{MODEL}", f"large/{MODEL}"


@pytest.fixture
async def service(
    tmp_path: Path, llama_small: LlamaServer, llama_large: LlamaServer
) -> AsyncIterator[StewardService]:
    settings = Settings.model_validate(
        {
            "endpoints": [
                {"id": "small", "kind": "llamacpp", "base_url": llama_small.url},
                {"id": "large", "kind": "llamacpp", "base_url": llama_large.url},
            ],
            "routing": {"default_model": SMALL, "fallback_chain": [SMALL, LARGE]},
            "timeouts": {"first_token_s": 10.0, "stall_s": 6.0, "connect_s": 1.0},
        }
    )
    started = await StewardService.start(quiet_options(settings, tmp_path))
    try:
        yield started
    finally:
        await started.stop()


def record_drill_hosts(service: StewardService, injected: asyncio.Event) -> list[DrillEngine]:
    """Keep every drill engine the Lab opens, to look at its faults afterwards; `injected` is set
    when a fault is injected."""
    hosts: list[DrillEngine] = []
    original = service.drill_engine

    @asynccontextmanager
    async def recording() -> AsyncIterator[DrillEngine]:
        async with original() as host:
            hosts.append(host)
            inject = host.inject

            def noting(model_key: str, fault: Fault | None) -> None:
                inject(model_key, fault)
                if fault is not None:
                    injected.set()

            host.inject = noting  # type: ignore[method-assign]
            yield host

    service.drill_engine = recording  # type: ignore[method-assign]
    return hosts


@pytest.mark.timeout(240)
async def test_a_second_run_is_refused_and_a_cancelled_drill_leaves_no_fault(service: StewardService) -> None:
    injected = asyncio.Event()
    hosts = record_drill_hosts(service, injected)
    assert service.lab.default_targets() == [SMALL, LARGE]
    drill = asyncio.ensure_future(service.lab.run_drill([SMALL], [FaultKind.HANG]))
    await asyncio.wait_for(injected.wait(), 60)
    await asyncio.sleep(0.3)  # small's request is now hanging on the fault
    assert any(b.fault is not None for b in hosts[0].backends.values())
    assert service.lab.running == "drill"
    with pytest.raises(LabBusy, match="a drill is already running"):
        await service.lab.run_compare(SMALL, LARGE, ["Hi"], 1, 8)
    with pytest.raises(LabBusy):
        await service.lab.run_drill([LARGE], [FaultKind.REFUSED])

    drill.cancel()
    with pytest.raises(asyncio.CancelledError):
        await drill
    assert service.lab.running is None
    assert all(b.fault is None for b in hosts[0].backends.values()), "Stop lifted every fault"
    assert not service.lab.folder.exists() or not list(service.lab.folder.iterdir()), "nothing saved"
    request = service.build_request([("user", "Say hi.")], model=SMALL, max_tokens=8, fallback=False)
    events = [e async for e in service.ask(request)]
    assert isinstance(events[-1], Completed) and events[-1].model == SMALL, "small answers itself"
    small = service.snapshot().model(SMALL)
    assert small is not None and small.breaker == "closed" and small.consecutive_failures == 0

    result, _ = await service.lab.run_compare(SMALL, LARGE, ["Say hi."], 1, 8)
    assert len(result.runs) == 2, "once stopped, the next experiment starts at once"


@pytest.mark.timeout(240)
async def test_history_lists_saved_results_newest_first_and_an_unreadable_file(
    service: StewardService,
) -> None:
    report, drill_path = await service.lab.run_drill(
        [SMALL], [FaultKind.REFUSED], recover_limit_s=15, trickle_s=0.1
    )
    assert drill_path.parent == service.lab.folder and drill_path.name.startswith("drill-")
    assert report.scenarios[0].answered_by == LARGE, report.scenarios[0]
    await asyncio.sleep(1.1)  # the files are named by the second they started in
    result, compare_path = await service.lab.run_compare(
        SMALL, LARGE, ["Say hi.", "Name a colour."], 1, 8, temperatures=(0.0, None)
    )
    assert compare_path.name.startswith("compare-") and result.a.temperature == 0.0
    corrupt = service.lab.folder / "drill-20200101-000000.json"
    corrupt.write_text('{"targets": ["x"], "scenarios": [{"target": ', encoding="utf-8")
    wrong = service.lab.folder / "compare-20200101-000001.json"
    wrong.write_text(json.dumps({"a": {"label": "A"}, "runs": []}), encoding="utf-8")

    entries = await asyncio.to_thread(service.lab.history)
    assert [e.started_at for e in entries] == sorted((e.started_at for e in entries), reverse=True)
    by_path = {e.path: e for e in entries}
    assert set(by_path) == {drill_path, compare_path, corrupt, wrong}
    assert by_path[compare_path].kind == "compare" and by_path[compare_path].readable
    assert by_path[compare_path].title.startswith(f"{SMALL} vs {LARGE}: ")
    assert by_path[drill_path].title == report.summary()
    for bad in (corrupt, wrong):
        assert not by_path[bad].readable and by_path[bad].title.startswith("unreadable: ")
    assert entries.index(by_path[compare_path]) < entries.index(by_path[drill_path]), "newest first"

    reopened = service.lab.open(compare_path)
    assert isinstance(reopened, ComparisonResult)
    assert reopened.verdict == result.verdict and reopened.runs == result.runs
    assert reopened.metrics[0].metric == "ttft_s" and reopened.success == result.success
    again = service.lab.open(drill_path)
    assert isinstance(again, DrillReport) and again.summary() == report.summary()
    assert again.scenarios[0].added_s == report.scenarios[0].added_s
