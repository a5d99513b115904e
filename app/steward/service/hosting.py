"""The gateway as the service hosts it, without importing it (the gateway depends on the service,
not the other way round): the entry point hands the service a factory; the service starts, stops
and reports it, and turns it on or off when the user says so."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from steward.service.service import StewardService


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
