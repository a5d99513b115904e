"""The composition root: builds engine, backends, servers, store and recorder from settings.

The GUI, `steward chat` and (later) the gateway all start here, so a headless chat takes
exactly the same path as the chat page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from steward.backends.factory import configure_backend, make_backend
from steward.config import SecretStore, Settings, SettingsFile, engine_settings
from steward.config.app_groups import EMBEDDED_ALONGSIDE, EndpointConfig, ServerProfileConfig
from steward.config.engine_groups import TimeoutsConfig
from steward.engine.canary import InferenceCanary
from steward.engine.clock import SystemClock, wall_time
from steward.engine.context import ContextManager, engine_summarizer
from steward.engine.core import Engine
from steward.engine.events import EngineEvent
from steward.engine.failures import BackendError
from steward.engine.types import ServerState as ProbeState
from steward.hardware.background import hold_off_reason, read_conditions
from steward.hardware.catalog import load_catalog, match_installed
from steward.hardware.nvidia import NvidiaProbe, PynvmlApi
from steward.hardware.sampler import ResourceSampler, SystemSampler
from steward.history import (
    BreakerPersister,
    QuarantinePersister,
    enforce_retention_forever,
    restore_breakers,
    restore_quarantines,
)
from steward.recorder import Recorder
from steward.servers.defaults import embedded_plan
from steward.servers.discovery import DiscoveredServer, KnownServer, discover, merge_servers
from steward.servers.events import ServerAppeared, ServerDisappeared, ServerState
from steward.servers.managed import ServerStatus
from steward.servers.profiles import ProfileError, ServerProfile, profile_from_config
from steward.servers.reach import connect_limit
from steward.servers.router import RouterWatch
from steward.servers.supervisor import Supervisor
from steward.store import Store, open_store

log = logging.getLogger(__name__)


def http_read_timeout(timeouts: TimeoutsConfig) -> float:
    """httpx's read timeout is only a safety net: the engine enforces first-token and stall
    timeouts itself. It must exceed both, or a long prompt (no bytes until the first token)
    would be cut by httpx as a "stall" before the engine's first-token timeout."""
    return max(timeouts.first_token_s, timeouts.stall_s) + 5.0


@dataclass
class RuntimeOptions:
    """How to start: which parts to bring up (tests and the CLI switch some off)."""

    settings_path: Path | None = None
    store: bool = True
    embedded: bool | None = None  # None = as the settings say
    discover: bool = True
    health_monitor: bool = True
    settings: Settings | None = None
    secrets: SecretStore | None = None
    """Where API keys and the gateway token live (default: the OS keyring)."""
    recover_settings: bool = True
    """The app backs a bad settings file up and keeps its valid parts; headless commands only read it."""


@dataclass
class Runtime:
    """Everything Steward runs, wired together. Create with `await Runtime.start()`."""

    settings: Settings
    settings_file: SettingsFile
    engine: Engine
    secrets: SecretStore
    store: Store | None = None
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    """Facts worth telling at start that are not problems (e.g. circuits restored from the last run)."""
    supervisor: Supervisor | None = None
    discovered: list[DiscoveredServer] = field(default_factory=list)
    known: list[KnownServer] = field(default_factory=list)
    resources: ResourceSampler | None = None
    embedded_reason: str = ""
    """Whether the embedded servers run and why, in words (set at start)."""
    embedded_choice: tuple[bool, str] | None = None
    """The embedded setting (enabled, run) that decided at start; None when not asked."""
    routers: RouterWatch | None = None
    """Follows the status stream of every llama-server router (long-lived runtimes only)."""
    canary: InferenceCanary | None = None
    """The inference canary (one token asked of idle models), running with the health monitor."""
    _keys: dict[str, str | None] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _listeners: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    async def start(cls, options: RuntimeOptions | None = None) -> Runtime:
        opts = options or RuntimeOptions()
        settings_file = SettingsFile(opts.settings_path) if opts.settings_path else SettingsFile.default()
        warnings: list[str] = []
        if opts.settings is not None:
            settings = opts.settings
        else:
            loaded = await asyncio.to_thread(settings_file.load, recover=opts.recover_settings)
            settings, warnings = loaded.settings, list(loaded.warnings)
        engine = Engine(engine_settings(settings))
        # The fitter reads the engine's live settings and writes summaries through the engine itself.
        engine.fitter = ContextManager(
            lambda: engine.settings.context, summarize=engine_summarizer(engine.chat)
        )
        secrets = opts.secrets or SecretStore()
        runtime = cls(
            settings=settings, settings_file=settings_file, engine=engine, secrets=secrets, warnings=warnings
        )
        if opts.store:
            await runtime._open_store()
        try:
            await runtime._start_servers(opts)
            await runtime._add_backends()
        except BaseException:
            await runtime.stop()
            raise
        engine.set_fallback_chain(settings.routing.fallback_chain)
        problems = await engine.refresh_models()
        runtime.warnings += problems
        await runtime._apply_capabilities()
        if runtime.store is not None:
            restored = await restore_quarantines(engine, runtime.store)
            if restored:
                log.info("restored quarantines: %s", ", ".join(restored))
            runtime._listeners.append(engine.subscribe(QuarantinePersister(runtime.store)))
            for line in await restore_breakers(engine, runtime.store):
                runtime.notices.append(line)
            runtime._listeners.append(engine.subscribe(BreakerPersister(runtime.store, engine)))
            runtime._tasks.append(
                asyncio.ensure_future(
                    enforce_retention_forever(runtime.store, lambda: runtime.settings.retention)
                )
            )
        if opts.health_monitor:
            runtime._tasks.append(asyncio.ensure_future(engine.run_health_monitor()))
            runtime.routers = RouterWatch(engine)
            runtime.routers.update(engine.backends())
            runtime.canary = InferenceCanary(
                engine, hold_off=runtime._canary_hold_off, restart=runtime._restart, manages=runtime._manages
            )
            runtime._tasks.append(asyncio.ensure_future(runtime.canary.run()))
        if opts.discover and opts.health_monitor:  # long-lived runtimes (the app) keep looking
            runtime._tasks.append(asyncio.ensure_future(runtime.rediscover_forever()))
        if opts.health_monitor:  # configured servers that were down at start: re-probed on a short backoff
            runtime._tasks.append(asyncio.ensure_future(runtime.reprobe_missing_forever()))
        for warning in runtime.warnings:
            log.warning("%s", warning)
        return runtime

    async def _open_store(self) -> None:
        try:
            store, warnings = await asyncio.to_thread(
                open_store, on_error=self._store_error, commit_interval_s=0.25
            )
        except Exception as exc:  # history is optional; the engine keeps routing without it
            self.warnings.append(f"history database unavailable: {exc}")
            return
        self.store = store
        self.warnings += warnings
        self._listeners.append(self.engine.subscribe(Recorder(store.writer.put)))

    async def _apply_capabilities(self) -> None:
        """Capabilities per model: the user's settings win; else the catalog's tags for a model it knows."""
        configured = self.settings.routing.capabilities
        untagged = [m.ref.model for m in self.engine.models() if m.key not in configured]
        catalog = await asyncio.to_thread(load_catalog) if untagged else ()
        by_id = {entry.id: entry for entry in catalog}
        matched = {name: by_id[mid] for mid, name in match_installed(catalog, untagged).items()}
        for state in self.engine.models():
            if state.key in configured:
                self.engine.set_capabilities(state.key, configured[state.key])
            elif state.ref.model in matched:
                self.engine.set_capabilities(state.key, matched[state.ref.model].capabilities)

    async def _canary_hold_off(self) -> str | None:
        """The canary waits on battery and under CPU or memory pressure (read off the loop's thread)."""
        latest = self.resources.latest if self.resources is not None else None
        return hold_off_reason(await asyncio.to_thread(read_conditions, latest))

    def _manages(self, server_id: str) -> bool:
        return self.supervisor is not None and self.supervisor.manages(server_id)

    async def _restart(self, server_id: str, reason: str) -> None:
        if self.supervisor is not None:
            await self.supervisor.restart_for(server_id, reason)

    def _store_error(self, message: str) -> None:
        log.error("history database: %s", message)

    async def _start_servers(self, opts: RuntimeOptions) -> None:
        """Discover local servers, start the managed profiles and the embedded ones.

        The embedded servers run whenever they are enabled; set to run only when nothing else
        answers, they wait for the managed servers and the configured endpoints' probes and start
        only if none of them (nor a discovered server) answered.
        """
        settings = self.settings
        if opts.discover:
            self.discovered = await discover(settings.discovery.ports, timeout_s=settings.discovery.timeout_s)
        await self._read_keys()
        profiles: list[ServerProfile] = []
        for config in settings.servers:
            try:
                profiles.append(profile_from_config(config))
            except ProfileError as exc:
                self.warnings.append(str(exc))
        self.supervisor = Supervisor(on_event=self.engine.publish)
        await self.supervisor.reap_orphans()
        self.embedded_choice = (settings.embedded.enabled, settings.embedded.run)
        if opts.embedded is False:
            self.embedded_reason = "not started in this run"
            await self._start_profiles(profiles)
            return
        if not settings.embedded.enabled or settings.embedded.run == EMBEDDED_ALONGSIDE:
            embedded, reason = embedded_plan(settings, [])
            await self._start_profiles([*profiles, *embedded])
        else:
            endpoints, statuses = await asyncio.gather(
                self._answering_endpoints(), self._start_profiles(profiles)
            )
            answering = [f"{d.detail or d.kind} on port {d.port}" for d in self.discovered]
            answering += [s.name for s in statuses if s.state == ServerState.READY] + endpoints
            embedded, reason = embedded_plan(settings, answering)
            await self._start_profiles(embedded)
        if opts.embedded and not embedded and "turned off" not in reason:
            self.warnings.append(f"embedded servers: {reason}")
        log.info("embedded servers: %s", reason)
        self.embedded_reason = reason

    async def _start_profiles(self, profiles: Sequence[ServerProfile]) -> list[ServerStatus]:
        """Supervise and start `profiles` at once; the statuses of those that started."""
        assert self.supervisor is not None
        for profile in profiles:
            self.supervisor.add(profile)
        started: list[ServerStatus] = []
        for status in await asyncio.gather(
            *(self.supervisor.start(p.name) for p in profiles), return_exceptions=True
        ):
            if isinstance(status, BaseException):
                self.warnings.append(f"a managed server did not start: {status}")
            else:
                started.append(status)
        return started

    async def _answering_endpoints(self) -> list[str]:
        """Ids of the enabled configured endpoints that answer a health probe now (up or loading)."""
        t = self.settings.timeouts

        async def answers(endpoint: EndpointConfig) -> bool:
            key = self._keys.get(endpoint.api_key_ref) if endpoint.api_key_ref else None
            try:
                backend = make_backend(
                    endpoint.kind,
                    endpoint.id,
                    endpoint.base_url,
                    api_key=key,
                    connect_s=connect_limit(endpoint.base_url, t.connect_s, t.remote_connect_s),
                    stall_s=t.probe_s,
                    aux_s=t.probe_s,
                )
            except ValueError:
                return False
            try:
                return (await backend.probe()).state is not ProbeState.DOWN
            finally:
                await backend.aclose()

        endpoints = [e for e in self.settings.endpoints if e.enabled]
        found = await asyncio.gather(*(answers(e) for e in endpoints))
        return [e.id for e, ok in zip(endpoints, found, strict=True) if ok]

    async def _read_keys(self) -> None:
        """API keys of the enabled endpoints from the keyring (a missing keyring is a warning)."""
        refs = [e.api_key_ref for e in self.settings.endpoints if e.enabled and e.api_key_ref]
        self._keys = {ref: await asyncio.to_thread(self.secrets.get, ref) for ref in refs}
        for ref, key in self._keys.items():
            if key is None and self.secrets.problem is not None:
                self.warnings.append(f"API key {ref!r}: {self.secrets.problem}")

    async def _add_backends(self) -> None:
        """One backend per known server: managed, configured (API key from the keyring), discovered."""
        managed = self.supervisor.endpoints() if self.supervisor else []
        self.known = merge_servers(self.discovered, self.settings.endpoints, self._keys.get, managed=managed)
        for server in self.known:
            if server.enabled:
                self._add_backend(server.kind, server.id, server.base_url, server.api_key)

    def _add_backend(self, kind: str, server_id: str, base_url: str, api_key: str | None) -> None:
        t = self.settings.timeouts
        backend = make_backend(
            kind,
            server_id,
            base_url,
            api_key=api_key,
            connect_s=connect_limit(base_url, t.connect_s, t.remote_connect_s),
            stall_s=http_read_timeout(t),
            aux_s=t.probe_s,
        )
        self.engine.add_backend(backend)

    async def reprobe_missing_forever(self, first_s: float = 1.0, max_s: float = 10.0) -> None:
        """Servers with no registered model (down or loading at start) are asked again on a short,
        growing backoff (1, 2, 4 … 10 s) — not only on the discovery interval — and their models
        are registered as soon as they answer."""
        delay = first_s
        while True:
            await asyncio.sleep(delay)
            missing = self._servers_without_models()
            if not missing:
                delay = first_s
                continue
            try:
                for server_id in missing:
                    await self._register_models(server_id)
            except Exception:  # re-probing must never take the app down
                log.exception("re-probing servers failed")
            delay = first_s if not self._servers_without_models() else min(max_s, delay * 2)

    def _servers_without_models(self) -> list[str]:
        with_models = {m.ref.server_id for m in self.engine.models() if m.listed}
        return [b.server_id for b in self.engine.backends() if b.server_id not in with_models]

    async def rediscover_forever(self) -> None:
        """Re-scan the discovery ports at the configured interval (servers come and go)."""
        while True:
            await asyncio.sleep(self.settings.discovery.interval_s)
            try:
                await self.rediscover()
            except Exception:  # discovery must never take the app down
                log.exception("periodic discovery failed")

    def subscribe(self, listener: Callable[[EngineEvent], None]) -> Callable[[], None]:
        return self.engine.subscribe(listener)

    async def apply_settings(self, settings: Settings, save: bool = True) -> None:
        """Make `settings` live and persist them atomically.

        The engine takes breaker, retry, bulkhead, context and routing settings (fallback chain and
        capabilities included) at once; every existing server connection takes the new timeouts
        for its next request.
        """
        self.settings = settings
        self.engine.update_settings(engine_settings(settings))
        self.engine.set_fallback_chain(settings.routing.fallback_chain)
        await self._apply_capabilities()
        t = settings.timeouts
        urls = {server.id: server.base_url for server in self.known}
        for backend in self.engine.backends():
            url = urls.get(backend.server_id, "")
            connect_s = connect_limit(url, t.connect_s, t.remote_connect_s) if url else t.connect_s
            configure_backend(backend, connect_s=connect_s, stall_s=http_read_timeout(t), aux_s=t.probe_s)
        if save:
            await asyncio.to_thread(self.settings_file.save, settings)

    # --- servers and resources added while running (GUI: Servers and Hardware pages) -------------

    async def add_endpoint(self, config: EndpointConfig, api_key: str | None = None) -> KnownServer:
        """Route to a newly configured endpoint now (its settings entry is saved by the caller)."""
        server = KnownServer(
            config.id, config.kind, config.base_url, "configured", config.enabled, None, api_key
        )
        self.known = [k for k in self.known if k.id != config.id] + [server]
        if config.enabled and not any(b.server_id == config.id for b in self.engine.backends()):
            self.warnings += await self._route_to(config.kind, config.id, config.base_url, api_key)
        return server

    async def remove_endpoint(self, server_id: str) -> bool:
        """Stop routing to a configured endpoint (its models go with it); False if it was not known."""
        known = any(k.id == server_id and k.source == "configured" for k in self.known)
        self.known = [k for k in self.known if not (k.id == server_id and k.source == "configured")]
        if any(b.server_id == server_id for b in self.engine.backends()):
            await self.engine.remove_backend(server_id)
            if self.routers is not None:
                self.routers.update(self.engine.backends())
            return True
        return known

    async def add_managed(self, config: ServerProfileConfig) -> ServerStatus:
        """Supervise and start a new managed server profile, then route to it when it is up.

        Raises `ProfileError` when the profile cannot be built (binary or model missing) and
        `ValueError` when the name is taken.
        """
        if self.supervisor is None:
            self.supervisor = Supervisor(on_event=self.engine.publish)
        self.supervisor.add(profile_from_config(config))
        status = await self.supervisor.start(config.name)
        for server in self.supervisor.endpoints():
            if server.id == config.name:
                self.known = [k for k in self.known if k.id != server.id] + [server]
                if not any(b.server_id == server.id for b in self.engine.backends()):
                    self.warnings += await self._route_to(server.kind, server.id, server.base_url, None)
        return status

    async def rediscover(self) -> list[DiscoveredServer]:
        """Probe the discovery ports again; new servers are routed to, the `known` list refreshed."""
        d = self.settings.discovery
        before = {s.base_url: s for s in self.discovered}
        self.discovered = await discover(d.ports, timeout_s=d.timeout_s)
        after = {s.base_url: s for s in self.discovered}
        now = wall_time()
        for url, gone in before.items():
            if url not in after:
                self.engine.publish(ServerDisappeared(now, None, url, gone.kind, gone.port))
        for url, new in after.items():
            if url not in before:
                self.engine.publish(
                    ServerAppeared(now, None, url, new.kind, new.port, new.version, new.models)
                )
        configured = {k.id: k.api_key for k in self.known if k.source == "configured"}
        managed = self.supervisor.endpoints() if self.supervisor else []
        self.known = merge_servers(self.discovered, self.settings.endpoints, configured.get, managed=managed)
        have = {b.server_id for b in self.engine.backends()}
        for server in [k for k in self.known if k.enabled and k.id not in have]:
            self.warnings += await self._route_to(server.kind, server.id, server.base_url, server.api_key)
        with_models = {m.ref.server_id for m in self.engine.models()}
        for server_id in have - with_models:  # found while still loading: try its models again
            await self._register_models(server_id)
        return self.discovered

    async def _route_to(self, kind: str, server_id: str, base_url: str, api_key: str | None) -> list[str]:
        """Add a backend and register ITS models only (other servers are not asked again)."""
        self._add_backend(kind, server_id, base_url, api_key)
        return await self._register_models(server_id)

    async def _register_models(self, server_id: str) -> list[str]:
        """Ask one server for its models and register them (a loading server answers later)."""
        backend = next(b for b in self.engine.backends() if b.server_id == server_id)
        problems: list[str] = []
        try:
            infos = await backend.list_models()
        except BackendError as exc:
            return [f"{server_id}: {exc.detail}"]
        for info in infos:
            try:
                info = await backend.describe(info.name)
            except BackendError as exc:
                problems.append(f"{server_id}/{info.name}: {exc.detail}")
            self.engine.add_model(server_id, info)
        if self.routers is not None:
            self.routers.update(self.engine.backends())
        return problems

    def start_resource_sampler(self) -> ResourceSampler:
        """The 1 Hz CPU/RAM/GPU sampler (started once, as a task this runtime stops)."""
        if self.resources is None:
            self.resources = ResourceSampler(SystemClock(), SystemSampler(NvidiaProbe(PynvmlApi())))
            self._tasks.append(asyncio.ensure_future(self.resources.run()))
        return self.resources

    async def stop(self) -> None:
        """Stop everything this runtime started (managed servers included); safe to call twice."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.routers is not None:
            await self.routers.stop()
        await self.engine.aclose()
        if self.supervisor is not None:
            await self.supervisor.stop_all()
            self.supervisor = None
        for unsubscribe in self._listeners:
            unsubscribe()
        self._listeners.clear()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
            self.store = None
