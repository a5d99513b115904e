"""The ONE place the GUI meets the application: engine events become Qt signals, user actions
become `StewardService` calls scheduled on the loop. It decides nothing: defaults, validation,
keyring and settings all live in the service; widgets read snapshots and call here.

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
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from steward.config import Settings
from steward.engine.events import EngineEvent
from steward.engine.snapshot import EngineSnapshot
from steward.hardware.disk_models import DiskModel
from steward.hardware.sampler import ResourceSampler
from steward.runtime import Runtime, RuntimeOptions
from steward.servers.models import ModelOperationError
from steward.service import Applied, StewardService
from steward.service.endpoints import EndpointCheck
from steward.service.hardware_report import build_hardware_report
from steward.service.server_rows import ServerRow
from steward.store import ChatMessage as StoredMessage
from steward.store import ChatSession, ChatSessionInfo, EventRecord, SamplesWindow, Store, export_events
from steward.store.export import write_events

log = logging.getLogger(__name__)

ServiceFactory = Callable[[], Awaitable[StewardService]]
T = TypeVar("T")
Problems = list[tuple[str, str]]
NOT_READY: Problems = [("", "the engine is still starting")]


def default_factory(options: RuntimeOptions | None = None) -> ServiceFactory:
    async def build() -> StewardService:
        return await StewardService.start(options)

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

    def __init__(self, factory: ServiceFactory, snapshot_interval_ms: int = 500) -> None:
        super().__init__()
        self._factory = factory
        self.service: StewardService | None = None
        self._snapshot: EngineSnapshot | None = None
        self._chats: dict[str, asyncio.Task[None]] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lab_task: asyncio.Task[Any] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(snapshot_interval_ms)
        self._timer.timeout.connect(self.refresh_snapshot)
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(100)
        self._soon.timeout.connect(self.refresh_snapshot)

    @property
    def runtime(self) -> Runtime | None:
        """The running runtime (read-only views: pages and tests inspect it, never act on it)."""
        return self.service.runtime if self.service is not None else None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the service in the background; `runtime_ready` or `runtime_failed` follows."""
        self.runtime_starting.emit("starting model servers and the engine…")
        self._spawn(self._start())

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

    def keep_settings_over_disk(self) -> None:
        """The user keeps Steward's settings over a refused outside edit of settings.toml."""
        if self.service is not None:
            self._then(
                self.service.settings_drift.keep_ours(), lambda _: self.refresh_snapshot(), "saving settings"
            )

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
        if self.service is not None:
            await self.service.stop()
            self.service = None

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _then(self, coro: Awaitable[T], done: Callable[[T], None], what: str) -> None:
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

        self._spawn(go())

    # --- reading ---------------------------------------------------------------------------

    @property
    def snapshot(self) -> EngineSnapshot | None:
        return self._snapshot

    @property
    def settings(self) -> Settings | None:
        return self.service.settings if self.service else None

    def refresh_snapshot(self) -> None:
        if self.service is None:
            return
        self._snapshot = self.service.snapshot()
        self.snapshot_changed.emit(self._snapshot)

    def request_snapshot(self) -> None:
        """A fresh snapshot soon: coalesced, so many chats finishing at once cost one refresh."""
        if not self._soon.isActive():
            self._soon.start()

    # --- chat ------------------------------------------------------------------------------

    def send_chat(
        self,
        messages: list[tuple[str, str]],
        model: str = "auto",
        strategy: str | None = None,
        max_tokens: int | None = None,
    ) -> str | None:
        """Start a chat request; its events arrive on `chat_event`. Returns the request id."""
        if self.service is None:
            self.notice.emit("warning", "The engine is still starting; try again in a moment.")
            return None
        rid = f"chat{next(self._ids)}"
        try:
            request = self.service.build_request(
                messages, model=model, strategy=strategy, max_tokens=max_tokens, request_id=rid
            )
        except ValueError as exc:
            self.notice.emit("error", str(exc))
            return None
        self._chats[rid] = self._spawn(self._run_chat(rid, self.service, request))
        return rid

    async def _run_chat(self, rid: str, service: StewardService, request: Any) -> None:
        try:
            async for event in service.ask(request):
                self.chat_event.emit(rid, event)
        finally:
            self._chats.pop(rid, None)
            self.chat_finished.emit(rid)
            self.request_snapshot()

    def stop_chat(self, rid: str) -> None:
        task = self._chats.get(rid)
        if task is not None:
            task.cancel()

    def context_meter(self, key: str, messages: list[tuple[str, str]]) -> tuple[int, int | None] | None:
        """(tokens used, window) of `messages` on model `key`; no I/O."""
        return self.service.context_meter(key, messages) if self.service else None

    # --- model actions ---------------------------------------------------------------------

    def quarantine(self, key: str, reason: str, duration_s: float | None) -> None:
        if self.service is not None:
            self.service.quarantine(key, reason, duration_s)
            self.refresh_snapshot()

    def release(self, key: str) -> None:
        if self.service is not None:
            self.service.release(key)
            self.refresh_snapshot()

    def reset(self, key: str) -> None:
        if self.service is not None:
            self.service.reset(key)
            self.refresh_snapshot()

    def set_capabilities(self, key: str, tags: list[str]) -> Problems:
        """Save the model's capability tags (routing.capabilities) and route by them at once."""
        if self.service is None:
            return NOT_READY
        capabilities = {**self.service.settings.routing.capabilities, key: list(tags)}
        return self.apply_settings({"routing.capabilities": capabilities})

    def set_fallback_chain(self, keys: list[str]) -> Problems:
        """Save the fallback order (routing.fallback_chain); the engine routes by it at once."""
        return self.apply_settings({"routing.fallback_chain": list(keys)})

    def fallback_chain(self) -> list[str]:
        return list(self.service.settings.routing.fallback_chain) if self.service else []

    def model_ops_unsupported(self, key: str) -> str | None:
        """Why load/unload is impossible for `key`, or None when its server supports it."""
        return self.service.model_ops_unsupported(key) if self.service else "the engine is still starting"

    def model_load_actions(self, key: str) -> tuple[str | None, str | None]:
        """Why Load and why Unload are unavailable for `key` now (None = available)."""
        if self.service is None:
            return ("the engine is still starting",) * 2
        return self.service.model_load_actions(key)

    def load_model(self, key: str, load: bool = True) -> None:
        """Load (or unload) a model on a server that supports it; the outcome arrives as a notice."""
        service = self.service
        if service is None:
            return
        why = service.model_ops_unsupported(key)
        if why:
            self.notice.emit("warning", why)
            return

        async def go() -> None:
            try:
                await service.load_model(key, load)
            except ModelOperationError as exc:
                self.notice.emit("error", str(exc))
            else:
                self.notice.emit("info", f"{key} {'loaded' if load else 'unloaded'}")
            self.refresh_snapshot()

        self._spawn(go())

    # --- settings --------------------------------------------------------------------------

    def validate_settings(self, changes: Mapping[str, object]) -> tuple[Settings | None, Problems]:
        """Validate a patch without applying it: (new settings, []) or (None, problems)."""
        return self.service.validate(changes) if self.service else (None, NOT_READY)

    def apply_settings(self, changes: Mapping[str, object]) -> Problems:
        """Validate and apply live; problems are returned (and nothing applied) when invalid."""
        new, problems = self.validate_settings(changes)
        if new is None or self.service is None:
            return problems
        self._then(self.service.apply(new), self._applied, "applying settings")
        return []

    def _applied(self, applied: Applied) -> None:
        if applied.save_error:
            self.notice.emit("error", f"Settings {applied.save_error}")
        if applied.settings is not None:
            self.settings_changed.emit(applied.settings)

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

    def export_event_records(
        self, records: list[EventRecord], path: str, fmt: str, done: Callable[[int], None]
    ) -> None:
        """Write `records` (e.g. the rows a filter shows) to `path` in a thread."""
        self.run_blocking(lambda: write_events(records, path, fmt), done, "exporting events")  # type: ignore[arg-type]

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

    # --- settings, servers, hardware -------------------------------------------------------
    # The Servers and Hardware pages read plain rows/reports built here and ask for actions
    # that run as asyncio tasks; outcomes arrive as `servers_changed`, `server_problem`,
    # `hardware_ready` and notices. Secrets go straight to the keyring, never to settings.

    servers_changed = Signal()
    server_problem = Signal(str)  # a message for the Servers page (keyring, start failures)
    hardware_ready = Signal(object)  # HardwareReport

    def server_rows(self) -> list[ServerRow]:
        """Managed, configured and discovered servers with their current status."""
        if self.service is None:
            return []
        return self.service.server_rows(self._snapshot)

    def server_log(self, name: str, count: int = 300) -> list[str]:
        """The newest `count` log lines of managed server `name` ([] when it is not managed)."""
        return self.service.server_log(name, count) if self.service else []

    def server_action(self, name: str, action: str) -> None:
        """ "start", "stop" or "restart" managed server `name` in the background."""
        service = self.service
        if service is None:
            return

        async def go() -> None:
            try:
                status = await service.server_action(name, action)
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
        if self.service is None:
            return

        def found(count: int) -> None:
            self.notice.emit("info", f"discovery found {count} server(s) on loopback ports")
            self.servers_changed.emit()

        self._then(self.service.rediscover(), found, "discovery")

    def add_endpoint(self, endpoint_id: str, kind: str, url: str, api_key: str = "") -> Problems:
        """Check and add an endpoint (key to the keyring, entry to the settings, routed at once).

        Returns problems as (field, reason) without doing anything when the entry is invalid.
        """
        if self.service is None:
            return NOT_READY
        problems = self.service.endpoints.check(endpoint_id, kind, url)
        if problems:
            return problems

        def added(problems: Problems) -> None:
            if problems:
                reasons = "; ".join(f"{field}: {reason}" if field else reason for field, reason in problems)
                self.server_problem.emit(f"Endpoint {endpoint_id} not added: {reasons}")
            else:
                self.notice.emit("info", f"endpoint {endpoint_id} added")
            self.servers_changed.emit()
            self.settings_changed.emit(self.settings)

        self._then(self.service.endpoints.add(endpoint_id, kind, url, api_key), added, "adding the endpoint")
        return []

    def edit_endpoint(
        self, endpoint_id: str, kind: str, url: str, api_key: str | None, enabled: bool = True
    ) -> Problems:
        """Check and change an endpoint (`api_key` None keeps the stored key, "" forgets it)."""
        service = self.service
        if service is None:
            return NOT_READY
        problems = service.endpoints.check_edit(endpoint_id, kind, url, enabled)
        if problems:
            return problems
        self._then(
            service.endpoints.edit(endpoint_id, kind, url, api_key, enabled),
            lambda problems: self._endpoint_done(endpoint_id, "changed", problems),
            "changing the endpoint",
        )
        return []

    def remove_endpoint(self, endpoint_id: str) -> None:
        """Stop routing to an endpoint and forget its settings entry and API key."""
        if self.service is not None:
            self._then(
                self.service.endpoints.remove(endpoint_id),
                lambda problems: self._endpoint_done(endpoint_id, "removed", problems),
                "removing the endpoint",
            )

    def _endpoint_done(self, endpoint_id: str, what: str, problems: Problems) -> None:
        if problems:
            reasons = "; ".join(f"{field}: {reason}" if field else reason for field, reason in problems)
            self.server_problem.emit(f"Endpoint {endpoint_id} not {what}: {reasons}")
        else:
            self.notice.emit("info", f"endpoint {endpoint_id} {what}")
        self.servers_changed.emit()
        self.settings_changed.emit(self.settings)

    def test_endpoint(
        self,
        kind: str,
        url: str,
        api_key: str,
        done: Callable[[EndpointCheck], None],
        endpoint_id: str = "",
    ) -> None:
        """Ask an address what answers there; with `endpoint_id` (and no `api_key`) the endpoint's
        stored key is used."""
        service = self.service
        if service is None:
            return
        endpoints = service.endpoints
        if endpoint_id and not api_key:
            self._then(endpoints.test_configured(endpoint_id, kind, url), done, "testing the connection")
        else:
            self._then(endpoints.test(kind, url, api_key), done, "testing the connection")

    def embedded_summary(self) -> str:
        """Whether the embedded servers run and which setting decided it."""
        return self.service.embedded_summary() if self.service else ""

    def add_managed(self, profile: dict[str, object]) -> Problems:
        """Check and add a managed llama-server profile: saved in the settings, then started.

        `profile` holds ServerProfileConfig fields (name, model_path, ctx_size, port, threads,
        gpu_layers). Returns problems as (field, reason) without doing anything when invalid.
        """
        service = self.service
        if service is None:
            return NOT_READY
        problems = service.check_managed(profile)
        if problems:
            return problems
        name = str(profile.get("name", ""))

        async def go() -> None:
            try:
                problems, status = await service.add_managed(profile)
            except Exception as exc:  # ProfileError (binary/model missing), name taken, ...
                self.server_problem.emit(f"{name} saved but not started: {exc}")
            else:
                if problems:
                    self.server_problem.emit(f"{name} not added: {problems[0][1]}")
                elif status is not None and str(status.state) != "ready":
                    self.server_problem.emit(f"{name} is {status.state}: {status.detail}")
                elif status is not None:
                    self.notice.emit("info", f"{name} started on port {status.port}")
            self.settings_changed.emit(service.settings)
            self.servers_changed.emit()
            self.refresh_snapshot()

        self._spawn(go())
        return []

    # --- model files on this disk (Models page, "On this disk") -------------------------------

    disk_models_ready = Signal(object)  # DiskScan, or why the scan failed (str)

    def scan_disk_models(self) -> None:
        """Scan for GGUF files in a worker thread (metadata is read in a child process);
        `disk_models_ready` follows."""
        if self.service is not None:
            self._then(self.service.disk_models.scan_or_reason(), self.disk_models_ready.emit, "disk scan")

    def serve_disk_model(self, model: DiskModel) -> tuple[bool, str]:
        """Add and start a managed llama-server for a file on disk: (taken, what was chosen or why not)."""
        plan = self.service.disk_models.plan(model) if self.service else "the engine is still starting"
        if isinstance(plan, str):
            return False, plan
        problems = self.add_managed(plan.profile)
        if problems:
            return False, "; ".join(r for _, r in problems)
        return True, f"{plan.profile['name']}: {plan.why}; starting it (see the Servers page)"

    def add_model_folder(self, folder: str) -> Problems:
        """Scan `folder` for models from now on (saved); the settings and a rescan follow."""
        service = self.service
        problems = service.disk_models.check_folder(folder) if service else NOT_READY
        if service is not None and not problems:
            added = lambda _: (self.settings_changed.emit(service.settings), self.scan_disk_models())  # noqa: E731
            self._then(service.disk_models.add_folder(folder), added, "adding the folder")
        return problems

    # --- the gateway (the service runs it; the page shows it) ---------------------------------

    gateway_changed = Signal(object, str)  # GatewayStatus, token ("" when none is required)

    def refresh_gateway(self) -> None:
        """Fetch the gateway's status and token (keyring in a thread); `gateway_changed` follows."""
        if self.service is not None:
            self._then(
                self._gateway_state(), lambda state: self.gateway_changed.emit(*state), "reading the gateway"
            )

    def set_gateway_enabled(self, enabled: bool) -> None:
        service = self.service
        if service is not None:
            self._then(
                service.set_gateway_enabled(enabled),
                lambda _: self.refresh_gateway(),
                "switching the gateway",
            )

    def regenerate_gateway_token(self) -> None:
        service = self.service
        if service is not None:
            self._then(
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

    # --- the Lab (one experiment at a time; the service runs it, the page shows it) ----------

    lab_progress = Signal(str, int, int, object)  # "drill"|"compare", done, total, ScenarioResult|Run
    lab_finished = Signal(str, object, str)  # kind, DrillReport|ComparisonResult, saved file
    lab_ended = Signal(str, str)  # kind, why it ended without a result ("" when stopped by the user)

    def start_drill(self, targets: list[str], faults: list[Any], recover_limit_s: float = 30.0) -> bool:
        """Start the failover drill in the background; False (and a notice) when it cannot start."""
        if self.service is None:
            return False
        lab = self.service.lab
        return self._lab(
            "drill",
            lab.run_drill(
                targets,
                faults,
                lambda d, t, s: self.lab_progress.emit("drill", d, t, s),
                recover_limit_s=recover_limit_s,
            ),
        )

    def start_compare(
        self,
        a: str,
        b: str,
        prompts: list[str],
        runs: int,
        max_tokens: int,
        temperatures: tuple[float | None, float | None],
    ) -> bool:
        """Start an A/B comparison in the background; False when it cannot start."""
        if self.service is None:
            return False
        lab = self.service.lab
        return self._lab(
            "compare",
            lab.run_compare(
                a,
                b,
                prompts,
                runs,
                max_tokens,
                temperatures,
                lambda d, t, r: self.lab_progress.emit("compare", d, t, r),
            ),
        )

    def _lab(self, kind: str, coro: Coroutine[Any, Any, tuple[Any, Any]]) -> bool:
        if self.service is None or self.service.lab.running is not None or self._lab_task is not None:
            coro.close()
            self.notice.emit("warning", "A Lab experiment is already running: stop it or wait until it ends.")
            return False

        async def go() -> None:
            try:
                result, path = await coro
            except asyncio.CancelledError:
                self.lab_ended.emit(kind, "")
            except Exception as exc:
                log.warning("lab %s failed: %s", kind, exc)
                self.lab_ended.emit(kind, str(exc))
            else:
                self.lab_finished.emit(kind, result, str(path))
            finally:
                self._lab_task = None

        self._lab_task = self._spawn(go())
        return True

    def stop_lab(self) -> None:
        """Stop the running experiment (its faults are lifted, nothing is saved)."""
        if self._lab_task is not None:
            self._lab_task.cancel()

    def lab_default_targets(self) -> list[str]:
        return self.service.lab.default_targets() if self.service else []

    def lab_history(self, done: Callable[[list[Any]], None]) -> None:
        """Saved Lab results, newest first (read in a thread)."""
        if self.service is not None:
            self.run_blocking(self.service.lab.history, done, "reading the Lab's history")

    def lab_open(self, path: str, done: Callable[[Any], None]) -> None:
        """A saved Lab result (read in a thread; an unreadable file becomes a notice)."""
        if self.service is not None:
            lab = self.service.lab
            self.run_blocking(lambda: lab.open(Path(path)), done, "opening the Lab result")
