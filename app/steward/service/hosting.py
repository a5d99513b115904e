"""The gateway as the service hosts it, without importing it (the gateway depends on the service,
not the other way round): the entry point hands the service a factory; the service starts, stops
and reports it, and turns it on or off when the user says so."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from steward.config import Settings
from steward.service.token import GatewayToken

if TYPE_CHECKING:
    from steward.service.service import Applied, StewardService

log = logging.getLogger(__name__)


class HostedGateway(Protocol):
    """What the service needs of a running gateway."""

    @property
    def url(self) -> str: ...

    async def start(self) -> None:
        """Listen; raises OSError when the address is taken (the message names it)."""
        ...

    async def stop(self) -> None: ...


GatewayFactory = Callable[["StewardService"], HostedGateway]


@dataclass(frozen=True)
class GatewayStatus:
    """What the app shows: on or off, where, and why not when it should run but does not."""

    enabled: bool
    running: bool
    url: str
    error: str | None = None
    token_where: str | None = None


class GatewayHosting:
    """The gateway part of `StewardService`: host, start, stop, switch and report the gateway."""

    gateway_token: GatewayToken
    _gateway_factory: GatewayFactory | None
    _gateway: HostedGateway | None
    _gateway_error: str | None

    if TYPE_CHECKING:  # provided by StewardService, which this class is a part of

        @property
        def settings(self) -> Settings: ...

        async def apply(self, changes: Mapping[str, object] | Settings) -> Applied: ...

    def host_gateway(self, factory: GatewayFactory) -> None:
        """Let this service run the gateway (the entry point passes `steward.gateway.Gateway`)."""
        self._gateway_factory = factory

    async def start_gateway(self) -> GatewayStatus:
        """Start the gateway if it is enabled and hosted; a taken port is reported, not raised."""
        if self._gateway is None and self._gateway_factory is not None and self.settings.gateway.enabled:
            gateway = self._gateway_factory(self)  # type: ignore[arg-type]  # always a StewardService
            try:
                await gateway.start()
            except OSError as exc:
                self._gateway_error = f"cannot listen on {gateway.url}: {exc.strerror or exc}"
                log.warning("gateway: %s", self._gateway_error)
            else:
                self._gateway, self._gateway_error = gateway, None
        return await self.gateway_status()

    async def stop_gateway(self) -> None:
        gateway, self._gateway = self._gateway, None
        if gateway is not None:
            await gateway.stop()

    async def set_gateway_enabled(self, enabled: bool) -> GatewayStatus:
        """Turn the gateway on or off now and remember the choice."""
        applied = await self.apply({"gateway.enabled": enabled})
        if not applied.ok:
            raise ValueError("; ".join(reason for _, reason in applied.problems))
        if enabled:
            return await self.start_gateway()
        await self.stop_gateway()
        self._gateway_error = None
        return await self.gateway_status()

    async def gateway_status(self) -> GatewayStatus:
        g = self.settings.gateway
        url = self._gateway.url if self._gateway is not None else f"http://{g.host}:{g.port}"
        token = await self.gateway_token.get() if g.require_token else None
        return GatewayStatus(
            enabled=g.enabled,
            running=self._gateway is not None,
            url=url,
            error=self._gateway_error,
            token_where=token.where if token is not None else None,
        )
