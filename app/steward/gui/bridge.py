"""The ONE place the GUI meets the runtime: engine events become Qt signals, user actions
become façade calls. Widgets never touch engine internals; they read snapshots and call here.

Everything here runs on the Qt thread, which is also the asyncio loop (qasync), so engine
listeners can emit signals directly. Slow work (start-up, settings save) runs as asyncio
tasks; nothing blocks the GUI.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from steward.config import Settings, SettingsError
from steward.engine.request import ChatRequest
from steward.engine.settings import Strategy
from steward.engine.snapshot import EngineSnapshot
from steward.engine.types import ChatMessage, GenerationParams
from steward.runtime import Runtime, RuntimeOptions

log = logging.getLogger(__name__)

RuntimeFactory = Callable[[], Awaitable[Runtime]]


def default_factory(options: RuntimeOptions | None = None) -> RuntimeFactory:
    async def build() -> Runtime:
        return await Runtime.start(options)

    return build


class Bridge(QObject):
    """Signals for everything the engine does; slots for everything the user asks."""

    runtime_starting = Signal(str)
    runtime_ready = Signal(object)  # list[str] warnings
    runtime_failed = Signal(str)
    engine_event = Signal(object)  # every EngineEvent
    chat_event = Signal(str, object)  # request id, EngineEvent of that request
    chat_finished = Signal(str)
    snapshot_changed = Signal(object)  # EngineSnapshot
    settings_changed = Signal(object)  # Settings
    notice = Signal(str, str)  # level, text

    def __init__(self, factory: RuntimeFactory, snapshot_interval_ms: int = 500) -> None:
        super().__init__()
        self._factory = factory
        self.runtime: Runtime | None = None
        self._snapshot: EngineSnapshot | None = None
        self._chats: dict[str, asyncio.Task[None]] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(snapshot_interval_ms)
        self._timer.timeout.connect(self.refresh_snapshot)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the runtime in the background; `runtime_ready` or `runtime_failed` follows."""
        self.runtime_starting.emit("starting model servers and the engine…")
        self._spawn(self._start())

    async def _start(self) -> None:
        try:
            runtime = await self._factory()
        except Exception as exc:
            log.exception("runtime failed to start")
            self.runtime_failed.emit(str(exc))
            return
        self.runtime = runtime
        self._unsubscribe = runtime.subscribe(self.engine_event.emit)
        self._timer.start()
        self.refresh_snapshot()
        self.settings_changed.emit(runtime.settings)
        self.runtime_ready.emit(list(runtime.warnings))

    async def shutdown(self) -> None:
        self._timer.stop()
        for task in list(self._chats.values()):
            task.cancel()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- reading ---------------------------------------------------------------------------

    @property
    def snapshot(self) -> EngineSnapshot | None:
        return self._snapshot

    @property
    def settings(self) -> Settings | None:
        return self.runtime.settings if self.runtime else None

    def refresh_snapshot(self) -> None:
        if self.runtime is None:
            return
        self._snapshot = self.runtime.engine.snapshot()
        self.snapshot_changed.emit(self._snapshot)

    # --- chat ------------------------------------------------------------------------------

    def send_chat(
        self,
        messages: list[tuple[str, str]],
        model: str = "auto",
        strategy: str | None = None,
        max_tokens: int | None = None,
    ) -> str | None:
        """Start a chat request; its events arrive on `chat_event`. Returns the request id."""
        if self.runtime is None:
            self.notice.emit("warning", "The engine is still starting; try again in a moment.")
            return None
        rid = f"chat{next(self._ids)}"
        request = ChatRequest(
            messages=tuple(ChatMessage(role, text) for role, text in messages),  # type: ignore[arg-type]
            model=model,
            strategy=Strategy(strategy) if strategy else None,
            params=GenerationParams(max_tokens=max_tokens),
            request_id=rid,
        )
        self._chats[rid] = self._spawn(self._run_chat(rid, request))
        return rid

    async def _run_chat(self, rid: str, request: ChatRequest) -> None:
        assert self.runtime is not None
        try:
            async for event in self.runtime.engine.chat(request):
                self.chat_event.emit(rid, event)
        finally:
            self._chats.pop(rid, None)
            self.chat_finished.emit(rid)
            self.refresh_snapshot()

    def stop_chat(self, rid: str) -> None:
        task = self._chats.get(rid)
        if task is not None:
            task.cancel()

    # --- model actions ---------------------------------------------------------------------

    def quarantine(self, key: str, reason: str, duration_s: float | None) -> None:
        if self.runtime is None:
            return
        self.runtime.engine.quarantine(key, reason or "quarantined by user", duration_s)
        self.refresh_snapshot()

    def release(self, key: str) -> None:
        if self.runtime is None:
            return
        self.runtime.engine.release(key)
        self.refresh_snapshot()

    def reset(self, key: str) -> None:
        if self.runtime is None:
            return
        self.runtime.engine.reset(key)
        self.refresh_snapshot()

    # --- settings --------------------------------------------------------------------------

    def validate_settings(self, changes: dict[str, object]) -> tuple[Settings | None, list[tuple[str, str]]]:
        """Validate a patch without applying it: (new settings, []) or (None, problems)."""
        if self.runtime is None:
            return None, [("", "the engine is still starting")]
        try:
            return self.runtime.settings.with_changes(changes), []
        except SettingsError as exc:
            return None, [(p.path, p.reason) for p in exc.problems]

    def apply_settings(self, changes: dict[str, object]) -> list[tuple[str, str]]:
        """Validate and apply live; problems are returned (and nothing applied) when invalid."""
        new, problems = self.validate_settings(changes)
        if new is None:
            return problems
        assert self.runtime is not None
        self._spawn(self._apply(new))
        return []

    async def _apply(self, settings: Settings) -> None:
        assert self.runtime is not None
        try:
            await self.runtime.apply_settings(settings)
        except OSError as exc:
            self.notice.emit("error", f"Settings applied but not saved: {exc}")
        self.settings_changed.emit(settings)
        self.refresh_snapshot()
