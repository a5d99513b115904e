"""Servers on other machines get the longer connect limit (`timeouts.remote_connect_s`); servers on
this computer keep the short one — when added, and again when the timeouts are changed live.

Nothing here can make a real LAN connect slowly on purpose (this sandbox answers every address),
so the test reads the limit each server's HTTP client was given; the LAN address is never used
beyond its one bounded model-list call."""

from __future__ import annotations

from pathlib import Path

from tests.support.llama import LlamaServer
from tests.support.service import quiet_options

from steward.config import Settings
from steward.config.app_groups import EndpointConfig
from steward.engine.backend import Backend
from steward.service import StewardService


def connect_limit_of(backend: Backend) -> float:
    http = backend._http  # type: ignore[attr-defined]  # read the limit the client really has
    limit = http.client.timeout.connect
    assert isinstance(limit, float | int)
    return float(limit)


async def test_network_servers_get_the_longer_connect_limit(tmp_path: Path, llama_small: LlamaServer) -> None:
    settings = Settings.model_validate(
        {
            "endpoints": [{"id": "here", "kind": "llamacpp", "base_url": llama_small.url}],
            "timeouts": {"connect_s": 0.5, "remote_connect_s": 1.5, "probe_s": 0.5},
        }
    )
    service = await StewardService.start(quiet_options(settings, tmp_path))
    try:
        runtime = service.runtime
        lan = EndpointConfig(id="gpu-box", kind="openai", base_url="http://192.168.77.77:9")
        await runtime.add_endpoint(lan)
        limits = {b.server_id: connect_limit_of(b) for b in runtime.engine.backends()}
        assert limits == {"here": 0.5, "gpu-box": 1.5}
        rows = {row.name: row.reach for row in service.server_rows()}
        assert rows["gpu-box"] == "local network" and rows["here"] == "this computer"

        applied = await service.apply({"timeouts.connect_s": 0.4, "timeouts.remote_connect_s": 2.5})
        assert applied.ok
        limits = {b.server_id: connect_limit_of(b) for b in runtime.engine.backends()}
        assert limits == {"here": 0.4, "gpu-box": 2.5}
    finally:
        await service.stop()
