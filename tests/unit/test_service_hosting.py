"""The service hosts the gateway it is handed (a FAKE gateway here; the real one has its own
tests): started when enabled, a taken port reported in words, switched on and off live."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.support.service import quiet_options

from steward.config import Settings
from steward.service import StewardService


class FakeGateway:
    def __init__(self, service: StewardService, fail: bool = False) -> None:
        g = service.settings.gateway
        self.url = f"http://{g.host}:{g.port}"
        self.fail = fail
        self.events: list[str] = []

    async def start(self) -> None:
        if self.fail:
            raise OSError(98, "Address already in use")
        self.events.append("start")

    async def stop(self) -> None:
        self.events.append("stop")


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[StewardService]:
    options = quiet_options(Settings(), tmp_path)
    started = await StewardService.start(options)
    yield started
    await started.stop()


async def test_hosted_gateway_starts_reports_and_stops_with_the_service(service: StewardService) -> None:
    made: list[FakeGateway] = []
    service.host_gateway(lambda s: made.append(FakeGateway(s)) or made[-1])
    status = await service.start_gateway()
    assert status.running and status.url == "http://127.0.0.1:11480" and status.error is None
    assert status.token_where == "keyring"
    off = await service.set_gateway_enabled(False)
    assert not off.running and not service.settings.gateway.enabled
    assert made[0].events == ["start", "stop"]
    on = await service.set_gateway_enabled(True)
    assert on.running and len(made) == 2
    await service.stop_gateway()
    assert made[1].events == ["start", "stop"]


async def test_a_taken_port_is_reported_not_raised(service: StewardService) -> None:
    service.host_gateway(lambda s: FakeGateway(s, fail=True))
    status = await service.start_gateway()
    assert not status.running
    assert status.error == "cannot listen on http://127.0.0.1:11480: Address already in use"
