"""The ONE place the GUI meets the runtime: engine events become Qt signals, user actions
become façade calls. Widgets never touch engine internals; they read snapshots and call here.

Everything here runs on the Qt thread, which is also the asyncio loop (qasync), so engine
listeners can emit signals directly. Slow work (start-up, settings save) runs as asyncio
tasks; nothing blocks the GUI.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from steward.config import SecretsUnavailable, Settings, SettingsError
from steward.engine.request import ChatRequest
from steward.engine.settings import Strategy
from steward.engine.snapshot import EngineSnapshot
from steward.engine.types import ChatMessage, GenerationParams
from steward.gui.hardware_report import build_hardware_report
from steward.gui.server_rows import ServerRow, server_rows
from steward.hardware.sampler import ResourceSampler
from steward.runtime import Runtime, RuntimeOptions
from steward.servers.models import ModelOperationError, OllamaModelOps
from steward.store import ChatMessage as StoredMessage
from steward.store import ChatSession, ChatSessionInfo, EventRecord, SamplesWindow, Store, export_events

log = logging.getLogger(__name__)

RuntimeFactory = Callable[[], Awaitable[Runtime]]
T = TypeVar("T")


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
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(100)
        self._soon.timeout.connect(self.refresh_snapshot)

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
        # Background actions (server start, endpoint add, ...) must not outlive the runtime.
        pending = [t for t in self._tasks if not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
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
            self.request_snapshot()

    def request_snapshot(self) -> None:
        """A fresh snapshot soon: coalesced, so many chats finishing at once cost one refresh."""
        if not self._soon.isActive():
            self._soon.start()

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

    # --- chat sessions, events, tray -------------------------------------------------------
    # Store reads and writes that may block run in a worker thread (`run_blocking`); their
    # results come back on the GUI thread through the `done` callback.

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

        self._spawn(go())

    @property
    def store(self) -> Store | None:
        return self.runtime.store if self.runtime else None

    def list_sessions(self, done: Callable[[list[ChatSessionInfo]], None]) -> None:
        store = self.store
        if store is not None:
            self.run_blocking(store.list_sessions, done, "reading chat sessions")

    def load_session(self, session_id: str, done: Callable[[ChatSession | None], None]) -> None:
        store = self.store
        if store is not None:
            self.run_blocking(lambda: store.load_session(session_id), done, "opening the chat")

    def create_session(self, title: str) -> str | None:
        """A new stored session (written in the background); None without a store."""
        return self.store.create_session(title, time.time()) if self.store else None

    def save_message(self, message: StoredMessage) -> None:
        if self.store is not None:
            self.store.append_message(message)

    def rename_session(self, session_id: str, title: str) -> None:
        if self.store is not None:
            self.store.rename_session(session_id, title, time.time())

    def delete_session(self, session_id: str, done: Callable[[bool], None]) -> None:
        store = self.store
        if store is not None:
            self.run_blocking(lambda: store.delete_session(session_id), done, "deleting the chat")

    def load_events(self, done: Callable[[list[EventRecord]], None], limit: int = 2000) -> None:
        """The newest `limit` audit-trail events, oldest first."""
        store = self.store
        if store is not None:
            self.run_blocking(lambda: store.events(limit=limit)[::-1], done, "reading the audit trail")

    def export_events(self, path: str, fmt: str, done: Callable[[int], None]) -> None:
        store = self.store
        if store is None:
            self.notice.emit("warning", "No history database: nothing to export.")
            return
        self.run_blocking(lambda: export_events(store, path, fmt), done, "exporting events")  # type: ignore[arg-type]

    def load_history(self, since: float, done: Callable[[SamplesWindow, list[EventRecord]], None]) -> None:
        """Latency samples and health changes since `since`, for the dashboard charts."""
        store = self.store
        if store is None:
            return

        def read() -> tuple[SamplesWindow, list[EventRecord]]:
            now = time.time()
            window = store.samples_window(None, since, now + 1)
            health = store.events(since=since, types=["HealthChanged"], limit=20000, newest_first=False)
            return window, health

        self.run_blocking(read, lambda result: done(*result), "reading chart history")

    def context_meter(self, key: str, messages: list[tuple[str, str]]) -> tuple[int, int | None] | None:
        """(tokens used, window) of `messages` on model `key` from the engine's fitter; no I/O."""
        if self.runtime is None:
            return None
        state = self.runtime.engine.model(key)
        meter = getattr(self.runtime.engine.fitter, "meter", None)
        if state is None or meter is None:
            return None
        chat = [ChatMessage(role, text) for role, text in messages]  # type: ignore[arg-type]
        used, window = meter(state, chat)
        return int(used), window

    def set_capabilities(self, key: str, tags: list[str]) -> list[tuple[str, str]]:
        """Save the model's capability tags (routing.capabilities) and apply them at once."""
        if self.runtime is None:
            return [("", "the engine is still starting")]
        capabilities = dict(self.runtime.settings.routing.capabilities)
        capabilities[key] = list(tags)
        problems = self.apply_settings({"routing.capabilities": capabilities})
        if not problems and self.runtime.engine.model(key) is not None:
            self.runtime.engine.set_capabilities(key, tags)
            self.refresh_snapshot()
        return problems

    def set_fallback_chain(self, keys: list[str]) -> list[tuple[str, str]]:
        """Save the fallback order (routing.fallback_chain); the engine routes by it at once."""
        if self.runtime is None:
            return [("", "the engine is still starting")]
        problems = self.apply_settings({"routing.fallback_chain": list(keys)})
        if not problems:
            self.runtime.engine.set_fallback_chain(keys)
        return problems

    def fallback_chain(self) -> list[str]:
        return list(self.runtime.settings.routing.fallback_chain) if self.runtime else []

    def _ollama_ops(self, key: str) -> tuple[OllamaModelOps | None, str, str]:
        """(operations, model name, why not) for the model's server."""
        if self.runtime is None:
            return None, "", "the engine is still starting"
        server_id, _, model = key.partition("/")
        server = next((s for s in self.runtime.known if s.id == server_id), None)
        if server is None:
            return None, model, "the server of this model is not known"
        if server.kind != "ollama":
            return None, model, f"{server.kind} servers load one model at start; restart them from Servers"
        return OllamaModelOps(server.id, server.base_url, on_event=self.runtime.engine.publish), model, ""

    def model_ops_unsupported(self, key: str) -> str | None:
        """Why load/unload is impossible for `key`, or None when its server supports it."""
        return self._ollama_ops(key)[2] or None

    def load_model(self, key: str, load: bool = True) -> None:
        """Load (or unload) a model on a server that supports it; the outcome arrives as a notice."""
        ops, model, why = self._ollama_ops(key)
        if ops is None:
            self.notice.emit("warning", why)
            return
        operations = ops

        async def go() -> None:
            try:
                await (operations.load(model) if load else operations.unload(model))
            except ModelOperationError as exc:
                self.notice.emit("error", str(exc))
                return
            self.notice.emit("info", f"{key} {'loaded' if load else 'unloaded'}")
            if self.runtime is not None:
                await self.runtime.engine.refresh_models()
            self.refresh_snapshot()

        self._spawn(go())

    # --- settings, servers, hardware -------------------------------------------------------
    # The Servers and Hardware pages read plain rows/reports built here and ask for actions
    # that run as asyncio tasks; outcomes arrive as `servers_changed`, `server_problem`,
    # `hardware_ready` and notices. Secrets go straight to the keyring, never to settings.

    servers_changed = Signal()
    server_problem = Signal(str)  # a message for the Servers page (keyring, start failures)
    hardware_ready = Signal(object)  # HardwareReport

    def server_rows(self) -> list[ServerRow]:
        """Managed, configured and discovered servers with their current status."""
        if self.runtime is None:
            return []
        supervisor = self.runtime.supervisor
        snapshot = self._snapshot
        engine, models = (snapshot.servers, snapshot.models) if snapshot is not None else ((), ())
        return server_rows(self.runtime.known, supervisor.snapshot() if supervisor else [], engine, models)

    def server_log(self, name: str, count: int = 300) -> list[str]:
        """The newest `count` log lines of managed server `name` ([] when it is not managed)."""
        supervisor = self.runtime.supervisor if self.runtime else None
        if supervisor is None or name not in supervisor.names():
            return []
        return [line.text for line in supervisor.log_tail(name, count)]

    def server_action(self, name: str, action: str) -> None:
        """ "start", "stop" or "restart" managed server `name` in the background."""
        supervisor = self.runtime.supervisor if self.runtime else None
        if supervisor is None or action not in ("start", "stop", "restart"):
            return
        sup = supervisor

        async def go() -> None:
            try:
                status = await getattr(sup, action)(name)
            except Exception as exc:
                self.server_problem.emit(f"Could not {action} {name}: {exc}")
            else:
                if action != "stop" and str(status.state) != "ready":
                    self.server_problem.emit(f"{name} is {status.state}: {status.detail}")
                else:
                    self.notice.emit("info", f"{name}: {status.state}")
            self.servers_changed.emit()
            self.refresh_snapshot()

        self._spawn(go())

    def rediscover(self) -> None:
        """Probe the discovery ports again; new servers are routed to."""
        runtime = self.runtime
        if runtime is None:
            return

        async def go() -> None:
            found = await runtime.rediscover()
            self.notice.emit("info", f"discovery found {len(found)} server(s) on loopback ports")
            self.servers_changed.emit()
            self.refresh_snapshot()

        self._spawn(go())

    def add_endpoint(self, endpoint_id: str, kind: str, url: str, api_key: str = "") -> list[tuple[str, str]]:
        """Check and add a remote endpoint: key to the keyring, entry to the settings, backend live.

        Returns problems as (field, reason) without doing anything when the entry is invalid.
        """
        if self.runtime is None:
            return [("", "the engine is still starting")]
        entry: dict[str, object] = {"id": endpoint_id, "kind": kind, "base_url": url}
        if api_key:
            entry["api_key_ref"] = f"endpoint-{endpoint_id}"
        index = len(self.runtime.settings.endpoints)
        new, problems = self._with_item("endpoints", entry)
        if new is None:
            return problems
        config = new.endpoints[index]
        runtime = self.runtime

        async def go() -> None:
            if api_key and config.api_key_ref:
                try:
                    await asyncio.to_thread(runtime.secrets.set, config.api_key_ref, api_key)
                except (SecretsUnavailable, ValueError) as exc:
                    self.server_problem.emit(
                        f"Endpoint {endpoint_id} not added: the API key was not stored: {exc}"
                    )
                    return
            await self._apply(new)
            try:
                await runtime.add_endpoint(config, api_key or None)
            except Exception as exc:
                self.server_problem.emit(f"Endpoint {endpoint_id} saved but not reachable yet: {exc}")
            else:
                self.notice.emit("info", f"endpoint {endpoint_id} added")
            self.servers_changed.emit()
            self.refresh_snapshot()

        self._spawn(go())
        return []

    def add_managed(self, profile: dict[str, object]) -> list[tuple[str, str]]:
        """Check and add a managed llama-server profile: saved in the settings, then started.

        `profile` holds ServerProfileConfig fields (name, model_path, ctx_size, port, threads,
        gpu_layers). Returns problems as (field, reason) without doing anything when invalid.
        """
        if self.runtime is None:
            return [("", "the engine is still starting")]
        index = len(self.runtime.settings.servers)
        new, problems = self._with_item("servers", {"kind": "llamacpp", "autostart": True, **profile})
        if new is None:
            return problems
        config = new.servers[index]
        runtime = self.runtime

        async def go() -> None:
            await self._apply(new)
            try:
                status = await runtime.add_managed(config)
            except Exception as exc:  # ProfileError (binary/model missing), name taken, ...
                self.server_problem.emit(f"{config.name} saved but not started: {exc}")
            else:
                if str(status.state) != "ready":
                    self.server_problem.emit(f"{config.name} is {status.state}: {status.detail}")
                else:
                    self.notice.emit("info", f"{config.name} started on port {status.port}")
            self.servers_changed.emit()
            self.refresh_snapshot()

        self._spawn(go())
        return []

    def _with_item(
        self, field: str, item: dict[str, object]
    ) -> tuple[Settings | None, list[tuple[str, str]]]:
        """Settings with `item` appended to list `field`; problems of the new item as (its field, reason)."""
        assert self.runtime is not None
        current = getattr(self.runtime.settings, field)
        items = [entry.model_dump(mode="python") for entry in current] + [item]
        new, problems = self.validate_settings({field: items})
        prefix = f"{field}[{len(current)}]"
        return new, [(p.removeprefix(prefix).lstrip("."), r) for p, r in problems]

    def load_hardware(self) -> None:
        """Detect the hardware and rank models for it in a thread; `hardware_ready` follows."""
        installed = [m.model for m in self._snapshot.models] if self._snapshot is not None else []

        async def go() -> None:
            try:
                report = await asyncio.to_thread(build_hardware_report, installed)
            except Exception as exc:
                self.notice.emit("error", f"hardware detection failed: {exc}")
                return
            self.hardware_ready.emit(report)

        self._spawn(go())

    def resource_sampler(self) -> ResourceSampler | None:
        """The runtime's live CPU/RAM/GPU sampler (started on first use), None before start-up."""
        return self.runtime.start_resource_sampler() if self.runtime is not None else None
