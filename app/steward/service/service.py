"""`StewardService`: every user action in one typed, Qt-free place.

The desktop app (through its bridge), `steward chat`, the gateway and the Lab all act through
this class; none of them builds requests, patches settings or writes the keyring on its own.
One place decides the defaults of a request (`build_request`), one place applies a settings
change so that every part of the runtime picks it up (`apply`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from steward.config import ExternalEditError, NewerSettingsFileError, Settings, SettingsError
from steward.config.app_groups import EMBEDDED_ALONGSIDE, ServerProfileConfig
from steward.engine.events import EngineEvent
from steward.engine.request import ChatRequest
from steward.engine.running import Running
from steward.engine.settings import Strategy
from steward.engine.snapshot import EngineSnapshot
from steward.engine.types import ChatMessage, GenerationParams, Role
from steward.runtime import Runtime, RuntimeOptions
from steward.servers.managed import ServerStatus
from steward.servers.models import ModelOperationError, OllamaModelOps
from steward.servers.profiles import router_path_problems
from steward.service import router_ops
from steward.service.disk_models import DiskModels
from steward.service.drill_host import DrillEngine, drill_engine
from steward.service.endpoints import EndpointActions
from steward.service.hosting import GatewayHosting
from steward.service.lab import LabActions
from steward.service.litellm_export import litellm_config
from steward.service.model_watch import ModelWatch
from steward.service.recent import RecentRequests
from steward.service.server_rows import ServerRow, server_rows
from steward.service.settings_drift import SettingsDrift
from steward.service.slo_view import ModelSloView
from steward.service.token import GatewayToken

log = logging.getLogger(__name__)

Problems = list[tuple[str, str]]
"""(dotted field path, reason) pairs; empty means "done"."""

SOURCES = ("chat", "cli", "gateway", "probe", "lab")


class NotReady(RuntimeError):
    """The action needs something the runtime does not have (e.g. no history database)."""


@dataclass(frozen=True)
class Applied:
    """What `apply` did: the new settings (None when refused), problems, and a save failure."""

    settings: Settings | None
    problems: Problems
    save_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.settings is not None and not self.problems


class StewardService(GatewayHosting):
    """The application service on top of one `Runtime` (create with `await StewardService.start()`)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.endpoints = EndpointActions(runtime, self.apply, self.validate)
        self.disk_models = DiskModels(self)
        """GGUF files on this disk: scan, serve one as a managed llama-server, the user's folders."""
        self.gateway_token = GatewayToken(runtime.secrets)
        """The gateway's bearer token (`await service.gateway_token.get()`)."""
        self.recent_gateway = RecentRequests(sources=frozenset({"gateway"}))
        """The latest gateway requests: client, model asked, model that answered, outcome, time."""
        self._unsubscribe = runtime.subscribe(self.recent_gateway)
        self.lab = LabActions(self)
        """The Lab's drill and A/B comparisons, one at a time, and their saved results."""
        self._gateway_factory = None
        self._gateway = None
        self._gateway_error: str | None = None
        self.model_watch = ModelWatch(runtime)
        """Per-model SLOs (error budget, burn-rate alerts) and drift, from live user traffic."""
        self._unwatch = runtime.subscribe(self.model_watch)
        self._seeding: asyncio.Future[int] | None = None
        self._apply_lock = asyncio.Lock()
        self._watching: asyncio.Future[None] | None = None
        self.settings_drift = SettingsDrift(runtime)
        """Outside edits of settings.toml: applied or refused (started by `watch_settings_file`)."""

    @classmethod
    async def start(cls, options: RuntimeOptions | None = None) -> StewardService:
        service = cls(await Runtime.start(options))
        store = service.runtime.store
        if store is not None:  # in the background: the app is usable while the history is read
            service._seeding = asyncio.ensure_future(service.model_watch.seed_from_store(store))
        service._watching = asyncio.ensure_future(service.model_watch.run())
        return service

    async def watch_seeded(self) -> int:
        """Wait until the SLO/drift watch is seeded from the store; how many samples it took."""
        return await self._seeding if self._seeding is not None else 0

    def watch_settings_file(self) -> None:
        """Notice edits of settings.toml made outside the app (the desktop app and `steward serve`)."""
        self.settings_drift.start()

    async def stop(self) -> None:
        await self.settings_drift.stop()
        for task in (self._seeding, self._watching):
            if task is not None and not task.done():
                task.cancel()
        await self.stop_gateway()
        self._unsubscribe()
        self._unwatch()
        await self.runtime.stop()

    # --- reading ---------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def warnings(self) -> list[str]:
        return self.runtime.warnings

    @property
    def notices(self) -> list[str]:
        return self.runtime.notices

    async def slo_views(self) -> list[ModelSloView]:
        """Every model's objectives, error budget left, alerts and usual level (the Lab's
        Objectives tab): the models the engine knows and those with history, by name."""
        keys = {m.key for m in self.snapshot().models} | set(self.model_watch.watched())
        return await self.model_watch.views(sorted(keys))

    def snapshot(self) -> EngineSnapshot:
        return self.runtime.engine.snapshot()

    def subscribe(self, listener: Callable[[EngineEvent], None]) -> Callable[[], None]:
        """Every engine event (chat, gateway, probes, servers), on the engine's loop."""
        return self.runtime.subscribe(listener)

    def server_rows(self, snapshot: EngineSnapshot | None = None) -> list[ServerRow]:
        """Managed, configured and discovered servers with their current status."""
        snap = snapshot or self.snapshot()
        supervisor = self.runtime.supervisor
        return server_rows(
            self.runtime.known, supervisor.snapshot() if supervisor else [], snap.servers, snap.models
        )

    def context_meter(self, key: str, messages: Sequence[tuple[str, str]]) -> tuple[int, int | None] | None:
        """(tokens used, window) of `messages` on model `key`, from the fitter's cache; no I/O."""
        state = self.runtime.engine.model(key)
        meter = getattr(self.runtime.engine.fitter, "meter", None)
        if state is None or meter is None:
            return None
        used, window = meter(state, [ChatMessage(_role(r), t) for r, t in messages])
        return int(used), window

    # --- asking ------------------------------------------------------------------------------

    def build_request(
        self,
        messages: Sequence[tuple[str, str]] | Sequence[ChatMessage],
        *,
        model: str | None = None,
        strategy: str | Strategy | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        request_id: str | None = None,
        source: str = "chat",
        fallback: bool = True,
        client: str = "",
    ) -> ChatRequest:
        """THE request every front end sends: model defaults to `routing.default_model`, the reply
        length to `context.max_reply_tokens` (applied by the engine), strategy to the settings'.

        Raises ValueError for an unknown strategy or source (a caller's mistake, said plainly).
        """
        if source not in SOURCES:
            raise ValueError(f"unknown request source {source!r}; expected one of {', '.join(SOURCES)}")
        chat = tuple(m if isinstance(m, ChatMessage) else ChatMessage(_role(m[0]), m[1]) for m in messages)
        try:
            chosen = Strategy(strategy) if strategy else None
        except ValueError:
            names = ", ".join(s.value for s in Strategy)
            raise ValueError(f"unknown strategy {strategy!r}; expected one of {names}") from None
        return ChatRequest(
            messages=chat,
            model=model or self.settings.routing.default_model,
            strategy=chosen,
            params=GenerationParams(max_tokens=max_tokens, temperature=temperature),
            request_id=request_id,
            source=source,
            fallback=fallback,
            client=client,
        )

    def ask(self, request: ChatRequest) -> AsyncIterator[EngineEvent]:
        """Answer `request` (from `build_request`): its events, ending with Completed or RequestFailed."""
        return self.runtime.engine.chat(request)

    def ask_pushed(
        self, request: ChatRequest, on_event: Callable[[EngineEvent], None], on_done: Callable[[], None]
    ) -> Running:
        """`ask`, pushed: each event goes to `on_event` as it happens, then `on_done()` (see
        `Engine.start`); for a front end that takes events as they come, without a queue between."""
        return self.runtime.engine.start(request, on_event, on_done)

    def drill_engine(self) -> AbstractAsyncContextManager[DrillEngine]:
        """An engine of the failover drill's own: this configuration, faults only it feels
        (see `steward.service.drill_host`)."""
        return drill_engine(self.runtime)

    def litellm_config(self) -> dict[str, object]:
        """This setup's routing as a LiteLLM proxy config (see `litellm_export`)."""
        keys = [m.key for m in self.snapshot().models]
        return litellm_config(self.settings, self.runtime.known, keys)

    # --- models ------------------------------------------------------------------------------

    def quarantine(self, key: str, reason: str = "", duration_s: float | None = None) -> None:
        """Take a model out of rotation (until released or for `duration_s`); survives restarts.

        A blank reason stays empty: every place that shows one says "quarantined by you" itself."""
        self.runtime.engine.quarantine(key, reason.strip(), duration_s)

    def release(self, key: str) -> bool:
        return self.runtime.engine.release(key)

    def reset(self, key: str) -> None:
        """Close the model's circuit and forget its failures."""
        self.runtime.engine.reset(key)

    async def set_capabilities(self, key: str, tags: Sequence[str]) -> Problems:
        """Save the model's capability tags and route by them at once."""
        capabilities = dict(self.settings.routing.capabilities)
        capabilities[key] = list(tags)
        return (await self.apply({"routing.capabilities": capabilities})).problems

    async def set_fallback_chain(self, keys: Sequence[str]) -> Problems:
        """Save the fallback order; the engine routes by it at once."""
        return (await self.apply({"routing.fallback_chain": list(keys)})).problems

    def model_ops_unsupported(self, key: str) -> str | None:
        """Why load/unload is impossible for `key`, or None when its server supports it."""
        if router_ops.router_backend(self.runtime.engine, key)[0] is not None:
            return None
        return self._ollama_ops(key)[2] or None

    def model_load_actions(self, key: str) -> tuple[str | None, str | None]:
        """Why Load and why Unload are unavailable for `key` now (None = available): on a router
        they follow the model's status; elsewhere both follow `model_ops_unsupported`."""
        actions = router_ops.load_actions(self.runtime.engine, key)
        why = self.model_ops_unsupported(key)
        return actions if actions is not None else (why, why)

    async def load_model(self, key: str, load: bool = True) -> None:
        """Load (or unload) a model on a server that supports it; raises ModelOperationError.
        On a llama-server router this waits for the load within `timeouts.model_loading_wait_s`."""
        if router_ops.router_backend(self.runtime.engine, key)[0] is not None:
            wait_s = self.settings.timeouts.model_loading_wait_s
            await router_ops.router_load(self.runtime.engine, key, load, wait_s)
            return
        ops, model, why = self._ollama_ops(key)
        if ops is None:
            raise ModelOperationError(why)
        await (ops.load(model) if load else ops.unload(model))
        await self.runtime.engine.refresh_models()

    def _ollama_ops(self, key: str) -> tuple[OllamaModelOps | None, str, str]:
        server_id, _, model = key.partition("/")
        server = next((s for s in self.runtime.known if s.id == server_id), None)
        if server is None:
            return None, model, "the server of this model is not known"
        if server.kind != "ollama":
            return None, model, f"{server.kind} servers load one model at start; restart them from Servers"
        ops = OllamaModelOps(server.id, server.base_url, on_event=self.runtime.engine.publish)
        return ops, model, ""

    # --- settings ----------------------------------------------------------------------------

    def validate(self, changes: Mapping[str, object]) -> tuple[Settings | None, Problems]:
        """The settings with `changes` (dotted paths) applied, or the problems; applies nothing."""
        try:
            return self.settings.with_changes(changes), []
        except SettingsError as exc:
            return None, [(p.path, p.reason) for p in exc.problems]

    async def apply(self, changes: Mapping[str, object] | Settings) -> Applied:
        """Validate, make live everywhere (engine, routing, capabilities, connections), then save.

        Invalid changes are refused whole and nothing changes. A failed save keeps the change
        live and says so (`save_error`). Applies run one at a time, in the order they were asked
        (live settings and the file end as the last one left them; two saves racing in threads
        could leave the older on disk), and `changes` given as a mapping are merged into the
        settings as they are when its turn comes, so quick successive edits all land.
        """
        async with self._apply_lock:
            if isinstance(changes, Settings):
                new = changes
            else:
                checked, problems = self.validate(changes)
                if checked is None:
                    return Applied(None, problems)
                new = checked
            save_error = None
            try:
                await self.runtime.apply_settings(new)
            except (OSError, ExternalEditError, NewerSettingsFileError) as exc:
                save_error = f"applied but not saved: {exc}"
                log.warning("settings %s", save_error)
            return Applied(new, [], save_error)

    # --- servers -----------------------------------------------------------------------------

    async def server_action(self, name: str, action: str) -> ServerStatus:
        """Start, stop or restart managed server `name`; raises ValueError/KeyError when impossible."""
        supervisor = self.runtime.supervisor
        if action not in ("start", "stop", "restart"):
            raise ValueError(f"unknown server action {action!r}; expected start, stop or restart")
        if supervisor is None or name not in supervisor.names():
            raise KeyError(f"{name} is not a server Steward manages")
        status: ServerStatus = await getattr(supervisor, action)(name)
        # Probe now, so the engine (and every count built from its snapshot) sees the change at
        # once instead of at the next health round.
        await self.runtime.engine.probe_all()
        return status

    def embedded_summary(self) -> str:
        """Whether the embedded servers run and which setting decided it, in one sentence (a setting
        changed since the start is said to apply from the next start)."""
        embedded = self.settings.embedded
        now = _embedded_choice(embedded.enabled, embedded.run)
        reason = self.runtime.embedded_reason or "not decided yet"
        used = self.runtime.embedded_choice
        if used is None or _embedded_choice(*used) == now:
            return f"Embedded servers: {reason}. Setting: {now}."
        return f"Embedded servers: {reason}. Setting: {now} (from the next start; this run: {_embedded_choice(*used)})."

    def server_log(self, name: str, count: int = 300) -> list[str]:
        """The newest `count` log lines of managed server `name` ([] when it is not managed)."""
        supervisor = self.runtime.supervisor
        if supervisor is None or name not in supervisor.names():
            return []
        return [line.text for line in supervisor.log_tail(name, count)]

    async def rediscover(self) -> int:
        """Probe the discovery ports again; returns how many servers answered."""
        return len(await self.runtime.rediscover())

    def check_managed(self, profile: Mapping[str, object]) -> Problems:
        """What is wrong with a new managed profile, without doing anything."""
        new, problems = self._with_item("servers", {"kind": "llamacpp", "autostart": True, **profile})
        return problems if new is None else _path_problems(new.servers[-1])

    async def add_managed(self, profile: Mapping[str, object]) -> tuple[Problems, ServerStatus | None]:
        """Save a managed llama-server profile and start it; (problems, status)."""
        index = len(self.settings.servers)
        new, problems = self._with_item("servers", {"kind": "llamacpp", "autostart": True, **profile})
        if new is None:
            return problems, None
        config = new.servers[index]
        if problems := _path_problems(config):
            return problems, None
        applied = await self.apply(new)
        if not applied.ok:
            return applied.problems, None
        return [], await self.runtime.add_managed(config)

    def _with_item(self, field: str, item: Mapping[str, object]) -> tuple[Settings | None, Problems]:
        """Settings with `item` appended to list `field`; its problems named relative to the item."""
        current = getattr(self.settings, field)
        items = [entry.model_dump(mode="python") for entry in current] + [dict(item)]
        new, problems = self.validate({field: items})
        prefix = f"{field}[{len(current)}]"
        return new, [(p.removeprefix(prefix).lstrip("."), r) for p, r in problems]


def _path_problems(config: ServerProfileConfig) -> Problems:
    """A router profile's folder and preset file checked on this machine."""
    return [("models_dir", problem) for problem in router_path_problems(config)]


def _embedded_choice(enabled: bool, run: str) -> str:
    if not enabled:
        return "off"
    return (
        "run alongside other servers" if run == EMBEDDED_ALONGSIDE else "run only when nothing else answers"
    )


def _role(value: str) -> Role:
    if value not in ("system", "user", "assistant"):
        raise ValueError(f"unknown message role {value!r}; expected system, user or assistant")
    return value  # type: ignore[return-value]
