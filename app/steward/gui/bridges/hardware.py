"""The hardware area of the bridge: the hardware report (Hardware page) and the live resource sampler.

Detection and model ranking run in a worker thread; the report arrives as `hardware_ready`.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Signal

from steward.gui.bridges.base import SubBridge
from steward.hardware.sampler import ResourceSampler
from steward.service.hardware_report import build_hardware_report


class HardwareBridge(SubBridge):
    """What this machine has, what fits on it, and how busy it is."""

    hardware_ready = Signal(object)  # HardwareReport

    def load_hardware(self) -> None:
        """Detect the hardware and rank models for it in a thread; `hardware_ready` follows."""
        snapshot = self._core.snapshot
        installed = [m.model for m in snapshot.models] if snapshot is not None else []

        async def go() -> None:
            try:
                report = await asyncio.to_thread(build_hardware_report, installed)
            except Exception as exc:
                self._core.notice.emit("error", f"hardware detection failed: {exc}")
                return
            self.hardware_ready.emit(report)

        self._core.spawn(go())

    def resource_sampler(self) -> ResourceSampler | None:
        """The runtime's live CPU/RAM/GPU sampler (started on first use), None before start-up."""
        runtime = self._core.runtime
        return runtime.start_resource_sampler() if runtime is not None else None
