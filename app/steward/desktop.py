"""The desktop app's composition: the application service with the gateway hosted in it.

The GUI and the gateway never import each other (an import contract); this entry-level module
hands the service a way to run the gateway, and the GUI only sees the service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from steward.runtime import RuntimeOptions
from steward.service import StewardService


def desktop_factory(
    options: RuntimeOptions | None = None, *, gateway: bool = True
) -> Callable[[], Awaitable[StewardService]]:
    """Builds the service the window runs on; with `gateway`, the gateway starts with it (if enabled)."""

    async def build() -> StewardService:
        service = await StewardService.start(options)
        service.watch_settings_file()
        if gateway:
            from steward.gateway import Gateway

            service.host_gateway(Gateway)
            await service.start_gateway()
        return service

    return build
