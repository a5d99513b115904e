"""What every sub-bridge shares: the core `Bridge` it schedules through, and its shortcuts.

A sub-bridge is a QObject child of the core so its area's signals live as long as the bridge;
it reaches the service, notices, snapshots and the scheduling helpers only through the core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from steward.service import Problems, StewardService

if TYPE_CHECKING:
    from steward.gui.bridge import Bridge

NOT_READY: Problems = [("", "the engine is still starting")]


class SubBridge(QObject):
    """One area of the bridge; `_core` schedules its work and carries the shared signals."""

    def __init__(self, core: Bridge) -> None:
        super().__init__(core)
        self._core = core

    @property
    def service(self) -> StewardService | None:
        """The core's service (None until start-up finished and after shutdown)."""
        return self._core.service
