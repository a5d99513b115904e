"""The runtime keeps history across restarts: quarantines come back with their remaining time,
events land in the audit trail, capabilities come from the catalog."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.llama import LlamaServer, make_llama_server

from steward.config import Settings
from steward.runtime import Runtime, RuntimeOptions

MODEL = "small/SmolLM2-135M-Instruct.Q4_1"


def settings_for(url: str) -> Settings:
    return Settings.model_validate(
        {"endpoints": [{"id": "small", "kind": "llamacpp", "base_url": url}], "embedded": {"enabled": False}}
    )


async def start(url: str) -> Runtime:
    return await Runtime.start(
        RuntimeOptions(settings=settings_for(url), discover=False, health_monitor=False)
    )


async def test_a_quarantine_with_time_left_survives_a_restart_and_an_expired_one_does_not(
    llama_small: LlamaServer,
) -> None:
    runtime = await start(llama_small.url)
    runtime.engine.quarantine(MODEL, "flaky after upgrade", duration_s=600)
    await runtime.stop()

    runtime = await start(llama_small.url)
    snap = runtime.engine.snapshot().model(MODEL)
    assert snap is not None and snap.quarantine is not None
    assert snap.quarantine.reason == "flaky after upgrade"
    assert snap.quarantine.remaining_s is not None and 590 < snap.quarantine.remaining_s <= 600
    runtime.engine.release(MODEL)
    runtime.engine.quarantine(MODEL, "short", duration_s=1.0)
    await runtime.stop()
    await asyncio.sleep(1.2)

    runtime = await start(llama_small.url)
    snap = runtime.engine.snapshot().model(MODEL)
    assert snap is not None and snap.quarantine is None, "an expired quarantine is not restored"
    await runtime.stop()


async def test_engine_events_reach_the_audit_trail(llama_small: LlamaServer) -> None:
    runtime = await start(llama_small.url)
    runtime.engine.quarantine(MODEL, "audit me", duration_s=None)
    runtime.engine.release(MODEL)
    store = runtime.store
    assert store is not None
    await asyncio.to_thread(store.flush)
    events = await asyncio.to_thread(store.events, None, None, None, MODEL, None)
    assert {"Quarantined", "Released"} <= {e.type for e in events}
    await runtime.stop()


async def test_catalog_capabilities_tag_a_model_the_catalog_knows(llama_small: LlamaServer) -> None:
    runtime = await start(llama_small.url)
    snap = runtime.engine.snapshot().model(MODEL)
    assert snap is not None and "fast" in snap.capabilities
    await runtime.stop()


async def test_a_server_started_later_is_discovered_and_routed_to(llama_logs: Path) -> None:
    server = make_llama_server(llama_logs, ctx=1024)  # not started yet
    settings = Settings.model_validate(
        {
            "embedded": {"enabled": False},
            "discovery": {"ports": [server.port], "interval_s": 0.3, "timeout_s": 1.0},
        }
    )
    runtime = await Runtime.start(RuntimeOptions(settings=settings, store=False))
    seen: list[str] = []
    runtime.subscribe(lambda e: seen.append(e.type))
    try:
        assert runtime.engine.models() == []
        await asyncio.to_thread(server.start)
        for _ in range(100):
            if runtime.engine.models():
                break
            await asyncio.sleep(0.1)
        assert [m.ref.server_id for m in runtime.engine.models()] == [f"llamacpp-{server.port}"], (
            seen,
            runtime.discovered,
        )
        assert "ServerAppeared" in seen
        server.stop()
        for _ in range(100):
            if "ServerDisappeared" in seen:
                break
            await asyncio.sleep(0.1)
        assert "ServerDisappeared" in seen
    finally:
        server.stop()
        await runtime.stop()
