"""The ONE place the GUI meets the application: engine events become Qt signals, user actions
become `StewardService` calls scheduled on the loop. It decides nothing: defaults, validation,
keyring and settings all live in the service; widgets read snapshots and call here.

This is the core: the service's start and shutdown, the engine-event and snapshot signals, the
settings, and the scheduling helpers (`spawn`, `then`, `run_blocking`). Each area of the
application has its sub-bridge (steward.gui.bridges), held here as an attribute: `chat`,
`models`, `servers`, `gateway`, `history`, `hardware`, `lab`. Pages call `bridge.<area>.<method>`.

Everything here runs on the Qt thread, which is also the asyncio loop (qasync), so engine
listeners can emit signals directly. Slow work (start-up, settings save) runs as asyncio
tasks; nothing blocks the GUI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from steward.config import Settings
from steward.engine.events import EngineEvent
from steward.engine.snapshot import EngineSnapshot
from steward.gui.bridges.base import NOT_READY
from steward.gui.bridges.chat import ChatBridge
from steward.gui.bridges.gateway import GatewayBridge
from steward.gui.bridges.hardware import HardwareBridge
from steward.gui.bridges.history import HistoryBridge
from steward.gui.bridges.lab import LabBridge
from steward.gui.bridges.models import ModelsBridge
from steward.gui.bridges.servers import ServersBridge
from steward.runtime import Runtime, RuntimeOptions
from steward.service import Applied, Problems, StewardService
from steward.store import Store

log = logging.getLogger(__name__)
OBJECTIVE_EVENTS = frozenset({"SloAlertChanged", "DriftDetected"})
"""Engine events that change a model's objectives view (the Lab's Objectives tab listens)."""

ServiceFactory = Callable[[], Awaitable[StewardService]]
T = TypeVar("T")


def default_factory(options: RuntimeOptions | None = None) -> ServiceFactory:
    async def build() -> StewardService:
        return await StewardService.start(options)

    return build


class Bridge(QObject):
    """Signals for everything the engine does; the user's requests go through the area attributes."""

    runtime_starting = Signal(str)
    runtime_ready = Signal(object)  # list[str] warnings
    runtime_failed = Signal(str)
    engine_event = Signal(object)  # every EngineEvent
    snapshot_changed = Signal(object)  # EngineSnapshot
    settings_changed = Signal(object)  # Settings
    notice = Signal(str, str)  # level, text

    def __init__(self, factory: ServiceFactory, snapshot_interval_ms: int = 500) -> None:
        super().__init__()
        self._factory = factory
        self.service: StewardService | None = None
        self._snapshot: EngineSnapshot | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(snapshot_interval_ms)
        self._timer.timeout.connect(self.refresh_snapshot)
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(100)
        self._soon.timeout.connect(self.refresh_snapshot)
        # The areas (steward.gui.bridges): each schedules its service calls through this core.
        self.chat = ChatBridge(self)
        self.models = ModelsBridge(self)
        self.servers = ServersBridge(self)
        self.gateway = GatewayBridge(self)
        self.history = HistoryBridge(self)
        self.hardware = HardwareBridge(self)
        self.lab = LabBridge(self)

    @property
    def runtime(self) -> Runtime | None:
        """The running runtime (read-only views: pages and tests inspect it, never act on it)."""
        return self.service.runtime if self.service is not None else None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the service in the background; `runtime_ready` or `runtime_failed` follows."""
        self.runtime_starting.emit("starting model servers and the engine…")
        self.spawn(self._start())

    async def _start(self) -> None:
        try:
            service = await self._factory()
        except Exception as exc:
            log.exception("runtime failed to start")
            self.runtime_failed.emit(str(exc))
            return
        self.service = service
        self._unsubscribe = service.subscribe(self._on_engine_event)
        self._timer.start()
        self.refresh_snapshot()
        self.settings_changed.emit(service.settings)
        self.runtime_ready.emit(list(service.warnings))

    def _on_engine_event(self, event: EngineEvent) -> None:
        self.engine_event.emit(event)
        if event.type == "SettingsChangedOnDisk" and self.service is not None:
            self.settings_changed.emit(self.service.settings)  # an outside edit applied (or refused)
        elif event.type in OBJECTIVE_EVENTS:
            self.lab.objectives_changed.emit()  # one signal for the few, not a slot call per token

    def keep_settings_over_disk(self) -> None:
        """The user keeps Steward's settings over a refused outside edit of settings.toml."""
        if self.service is not None:
            self.then(
                self.service.settings_drift.keep_ours(), lambda _: self.refresh_snapshot(), "saving settings"
            )

    async def shutdown(self) -> None:
        self._timer.stop()
        self.chat.stop_all()
        # Background actions (server start, endpoint add, ...) must not outlive the runtime.
        pending = [t for t in self._tasks if not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.service is not None:
            await self.service.stop()
            self.service = None

    # --- scheduling (the sub-bridges schedule through these too) -----------------------------
    # Service calls run as asyncio tasks (`spawn`, `then`); store reads and writes that may block
    # run in a worker thread (`run_blocking`); results come back on the GUI thread.

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run `coro` as a task that shutdown cancels (it must not outlive the runtime)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def then(self, coro: Awaitable[T], done: Callable[[T], None], what: str) -> None:
        """Run a service call; `done(result)` on success, a notice on failure; then a fresh snapshot."""

        async def go() -> None:
            try:
                result = await coro
            except Exception as exc:
                log.warning("%s failed: %s", what, exc)
                self.notice.emit("error", f"{what} failed: {exc}")
            else:
                done(result)
            self.refresh_snapshot()

        self.spawn(go())

    def run_blocking(
        self, fn: Callable[[], T], done: Callable[[T], None] | None = None, what: str = ""
    ) -> None:
        """Run `fn` in a thread; then `done(result)` on the GUI thread. Failures become a notice."""

        async def go() -> None:
            try:
                result = await asyncio.to_thread(fn)
            except Exception as exc:
                log.warning("%s failed: %s", what or "background work", exc)
                self.notice.emit("error", f"{what or 'background work'} failed: {exc}")
                return
            if done is not None:
                with contextlib.suppress(RuntimeError):  # the widget was deleted meanwhile
                    done(result)

        self.spawn(go())

    # --- reading ---------------------------------------------------------------------------

    @property
    def snapshot(self) -> EngineSnapshot | None:
        return self._snapshot

    @property
    def settings(self) -> Settings | None:
        return self.service.settings if self.service else None

    @property
    def store(self) -> Store | None:
        return self.runtime.store if self.runtime else None

    def refresh_snapshot(self) -> None:
        if self.service is None:
            return
        self._snapshot = self.service.snapshot()
        self.snapshot_changed.emit(self._snapshot)

    def request_snapshot(self) -> None:
        """A fresh snapshot soon: coalesced, so many chats finishing at once cost one refresh."""
        if not self._soon.isActive():
            self._soon.start()

    # --- settings --------------------------------------------------------------------------

    def validate_settings(self, changes: Mapping[str, object]) -> tuple[Settings | None, Problems]:
        """Validate a patch without applying it: (new settings, []) or (None, problems)."""
        return self.service.validate(changes) if self.service else (None, NOT_READY)

    def apply_settings(self, changes: Mapping[str, object]) -> Problems:
        """Validate and apply live; problems are returned (and nothing applied) when invalid."""
        new, problems = self.validate_settings(changes)
        if new is None or self.service is None:
            return problems
        # The changes, not `new`: merged into the settings as they are when this apply's turn comes
        # (an earlier edit may still be on its way), so quick successive edits all land.
        self.then(self.service.apply(dict(changes)), self._applied, "applying settings")
        return []

    def _applied(self, applied: Applied) -> None:
        if applied.problems:
            self.notice.emit("error", "Settings not applied: " + "; ".join(r for _, r in applied.problems))
        if applied.save_error:
            self.notice.emit("error", f"Settings {applied.save_error}")
        if applied.settings is not None:
            self.settings_changed.emit(applied.settings)
