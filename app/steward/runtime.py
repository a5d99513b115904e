"""The composition root: builds engine, backends, servers, store and recorder from settings.

The GUI, `steward chat` and (later) the gateway all start here, so a headless chat takes
exactly the same path as the chat page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from steward.backends.factory import make_backend
from steward.config import SecretStore, Settings, SettingsFile, engine_settings
from steward.engine.core import Engine
from steward.engine.events import EngineEvent
from steward.engine.request import ChatRequest
from steward.recorder import Recorder
from steward.store import Store, open_store

log = logging.getLogger(__name__)


@dataclass
class RuntimeOptions:
    """How to start: which parts to bring up (tests and the CLI switch some off)."""

    settings_path: Path | None = None
    store: bool = True
    embedded: bool | None = None  # None = as the settings say
    health_monitor: bool = True
    settings: Settings | None = None


@dataclass
class Runtime:
    """Everything Steward runs, wired together. Create with `await Runtime.start()`."""

    settings: Settings
    settings_file: SettingsFile
    engine: Engine
    secrets: SecretStore
    store: Store | None = None
    warnings: list[str] = field(default_factory=list)
    servers: object | None = None
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
            loaded = await asyncio.to_thread(settings_file.load)
            settings, warnings = loaded.settings, list(loaded.warnings)
        engine = Engine(engine_settings(settings))
        secrets = SecretStore()
        runtime = cls(
            settings=settings, settings_file=settings_file, engine=engine, secrets=secrets, warnings=warnings
        )
        if opts.store:
            await runtime._open_store()
        await runtime._add_endpoints()
        engine.set_fallback_chain(settings.routing.fallback_chain)
        problems = await engine.refresh_models()
        runtime.warnings += problems
        for key, tags in settings.routing.capabilities.items():
            if engine.model(key) is not None:
                engine.set_capabilities(key, tags)
        if opts.health_monitor:
            runtime._tasks.append(asyncio.ensure_future(engine.run_health_monitor()))
        for warning in runtime.warnings:
            log.warning("%s", warning)
        return runtime

    async def _open_store(self) -> None:
        try:
            store, warnings = await asyncio.to_thread(open_store, on_error=self._store_error)
        except Exception as exc:  # history is optional; the engine keeps routing without it
            self.warnings.append(f"history database unavailable: {exc}")
            return
        self.store = store
        self.warnings += warnings
        self._listeners.append(self.engine.subscribe(Recorder(store.writer.put)))

    def _store_error(self, message: str) -> None:
        log.error("history database: %s", message)

    async def _add_endpoints(self) -> None:
        t = self.settings.timeouts
        for endpoint in self.settings.endpoints:
            if not endpoint.enabled:
                continue
            api_key = None
            if endpoint.api_key_ref:
                api_key = await asyncio.to_thread(self.secrets.get, endpoint.api_key_ref)
                if api_key is None and self.secrets.problem is not None:
                    self.warnings.append(f"{endpoint.id}: {self.secrets.problem}")
            backend = make_backend(
                endpoint.kind,
                endpoint.id,
                endpoint.base_url,
                api_key=api_key,
                connect_s=t.connect_s,
                stall_s=t.stall_s,
            )
            self.engine.add_backend(backend)

    def chat(self, request: ChatRequest) -> object:
        """Same as `engine.chat` (kept here so every front end starts from the runtime)."""
        return self.engine.chat(request)

    def subscribe(self, listener: Callable[[EngineEvent], None]) -> Callable[[], None]:
        return self.engine.subscribe(listener)

    async def apply_settings(self, settings: Settings, save: bool = True) -> None:
        """Make `settings` live (engine picks them up at once) and persist them atomically."""
        self.settings = settings
        self.engine.update_settings(engine_settings(settings))
        self.engine.set_fallback_chain(settings.routing.fallback_chain)
        if save:
            await asyncio.to_thread(self.settings_file.save, settings)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for unsubscribe in self._listeners:
            unsubscribe()
        await self.engine.aclose()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
