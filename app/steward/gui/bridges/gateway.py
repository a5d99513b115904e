"""The gateway area of the bridge: the service runs the gateway; the Gateway page shows it.

Status and token are read as an asyncio task (the token may come from the keyring) and arrive
as `gateway_changed`; the recent requests are an in-memory list read directly.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal

from steward.gui.bridges.base import SubBridge


class GatewayBridge(SubBridge):
    """Switch the gateway, renew its token, and report its status and recent requests."""

    gateway_changed = Signal(object, str)  # GatewayStatus, token ("" when none is required)

    def refresh_gateway(self) -> None:
        """Fetch the gateway's status and token (keyring in a thread); `gateway_changed` follows."""
        if self.service is not None:
            self._core.then(
                self._gateway_state(), lambda state: self.gateway_changed.emit(*state), "reading the gateway"
            )

    def set_gateway_enabled(self, enabled: bool) -> None:
        service = self.service
        if service is not None:
            self._core.then(
                service.set_gateway_enabled(enabled),
                lambda _: self.refresh_gateway(),
                "switching the gateway",
            )

    def regenerate_gateway_token(self) -> None:
        service = self.service
        if service is not None:
            self._core.then(
                service.gateway_token.regenerate(), lambda _: self.refresh_gateway(), "a new gateway token"
            )

    async def _gateway_state(self) -> tuple[Any, str]:
        assert self.service is not None
        status = await self.service.gateway_status()
        token = (
            await self.service.gateway_token.get() if self.service.settings.gateway.require_token else None
        )
        return status, token.value if token is not None else ""

    def recent_gateway_requests(self) -> list[Any]:
        """The latest gateway requests, newest first (no I/O)."""
        return self.service.recent_gateway.rows() if self.service is not None else []
