"""The embedded servers next to other endpoints, through the service with REAL llama-servers: a dead
endpoint never keeps them off; set to run "only when nothing else answers", what ANSWERS decides."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from tests.support.llama import LlamaServer
from tests.support.service import quiet_options

from steward.config import Settings
from steward.servers.defaults import EMBEDDED_LARGE, EMBEDDED_SMALL
from steward.servers.events import ServerState
from steward.service import StewardService

DEAD = "http://127.0.0.1:9"  # nothing listens on the discard port


def settings_with(*endpoints: tuple[str, str], run: str = "alongside_other_servers") -> Settings:
    return Settings.model_validate(
        {
            "endpoints": [{"id": sid, "kind": "llamacpp", "base_url": url} for sid, url in endpoints],
            "embedded": {"enabled": True, "run": run, "small_ctx": 512, "large_ctx": 1024},
            "timeouts": {"connect_s": 1.0},
        }
    )


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Callable[[Settings], object]]:
    made: list[StewardService] = []

    async def go(settings: Settings) -> StewardService:
        # As the app starts: embedded servers as the settings say (the quiet options turn them off).
        options = dataclasses.replace(quiet_options(settings, tmp_path), embedded=None)
        service = await StewardService.start(options)
        made.append(service)
        return service

    yield go  # type: ignore[misc]
    for service in made:
        await service.stop()


def managed_states(service: StewardService) -> dict[str, ServerState]:
    supervisor = service.runtime.supervisor
    assert supervisor is not None
    return {s.name: s.state for s in supervisor.snapshot()}


async def test_a_dead_endpoint_does_not_keep_the_embedded_servers_off(start: Callable[..., object]) -> None:
    service: StewardService = await start(settings_with(("dead", DEAD)))  # type: ignore[misc]
    assert managed_states(service) == {EMBEDDED_SMALL: ServerState.READY, EMBEDDED_LARGE: ServerState.READY}
    servers = {m.ref.server_id for m in service.runtime.engine.models()}
    assert {EMBEDDED_SMALL, EMBEDDED_LARGE} <= servers, "the built-in models stay"
    assert service.embedded_summary() == (
        "Embedded servers: running alongside any other servers. Setting: run alongside other servers."
    )
    assert (await service.apply({"embedded.run": "when_nothing_else_answers"})).ok
    assert service.embedded_summary() == (
        "Embedded servers: running alongside any other servers. Setting: run only when nothing else answers "
        "(from the next start; this run: run alongside other servers)."
    )
    await service.runtime.engine.probe_all()
    dead = next(r for r in service.server_rows() if r.name == "dead")
    assert (dead.status, dead.status_text) == ("down", "unreachable: connection refused")


async def test_only_when_nothing_answers_ignores_endpoints_that_do_not_answer(
    start: Callable[..., object],
) -> None:
    settings = settings_with(("dead", DEAD), run="when_nothing_else_answers")
    service: StewardService = await start(settings)  # type: ignore[misc]
    assert managed_states(service) == {EMBEDDED_SMALL: ServerState.READY, EMBEDDED_LARGE: ServerState.READY}
    assert service.embedded_summary() == (
        "Embedded servers: running because no other server answered. "
        "Setting: run only when nothing else answers."
    )


async def test_only_when_nothing_answers_stays_off_when_an_endpoint_answers(
    start: Callable[..., object], llama_small: LlamaServer
) -> None:
    settings = settings_with(("dead", DEAD), ("small", llama_small.url), run="when_nothing_else_answers")
    service: StewardService = await start(settings)  # type: ignore[misc]
    assert managed_states(service) == {}
    assert service.embedded_summary() == (
        "Embedded servers: not started because small answered. Setting: run only when nothing else answers."
    )
    assert {m.ref.server_id for m in service.runtime.engine.models()} == {"small"}
