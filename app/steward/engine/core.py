"""The engine façade: register servers and models, `chat()`, quarantine/release/reset,
`snapshot()`, live `update_settings()`, event subscription and the health monitor."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import replace

from steward.engine.attempt import AttemptResult
from steward.engine.backend import Backend
from steward.engine.breaker import BreakerState, CircuitBreaker, Permit
from steward.engine.bulkhead import Bulkhead
from steward.engine.clock import Clock, SystemClock, wall_time
from steward.engine.durations import duration_in_words, time_left
from steward.engine.events import (
    BreakerChanged,
    EngineEvent,
    HealthChanged,
    Quarantined,
    Released,
    RequestFailed,
    SettingsApplied,
)
from steward.engine.failures import BackendError, FailureKind, policy_for
from steward.engine.fitting import ContextFitter, PassThroughFitter
from steward.engine.health import HealthInputs, derive_health
from steward.engine.inputs import check_input
from steward.engine.metrics import ModelMetrics, Sample
from steward.engine.monitor import HealthMonitor
from steward.engine.quarantine import QuarantineBook
from steward.engine.registry import ModelState, ServerEntry
from steward.engine.request import ChatRequest, RequestRun, RunEnv
from steward.engine.router import AUTO, order_candidates
from steward.engine.running import Running
from steward.engine.settings import EngineSettings
from steward.engine.snapshot import EngineSnapshot, QuarantineView, model_snapshot, server_snapshot
from steward.engine.tasks import classify_task
from steward.engine.types import ModelInfo, ModelRef, ProbeResult

log = logging.getLogger(__name__)
Listener = Callable[[EngineEvent], None]
_END = object()


class Engine:
    """Qt-free reliability engine. One instance per app; all methods run on one asyncio loop."""

    def __init__(
        self,
        settings: EngineSettings | None = None,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        wall: Callable[[], float] = wall_time,
        fitter: ContextFitter | None = None,
    ) -> None:
        self.settings = settings or EngineSettings()
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random(0x57E3A4D)
        self.wall = wall
        self.fitter: ContextFitter = fitter or PassThroughFitter()
        self._servers: dict[str, ServerEntry] = {}
        self._models: dict[str, ModelState] = {}
        self._quarantine = QuarantineBook(self.clock)
        self._listeners: list[Listener] = []
        self._fallback_chain: tuple[str, ...] = ()
        self._ids = itertools.count(1)
        self._active_requests = 0
        self._monitor = HealthMonitor(self)

    # --- events ----------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every event (synchronously, on the engine's loop)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def publish(self, event: EngineEvent) -> None:
        """Send an event from outside the engine (server supervisor, discovery) to every listener."""
        self._emit(event)

    def _emit(self, event: EngineEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must never break routing
                log.exception("event listener failed on %s", event.type)

    # --- registry --------------------------------------------------------------------------

    def add_backend(self, backend: Backend, concurrency: int | None = None) -> None:
        b = self.settings.bulkhead
        limit = concurrency or b.default_concurrency
        bulkhead = Bulkhead(backend.server_id, limit, b.queue_limit, b.queue_timeout_s, self.clock)
        self._servers[backend.server_id] = ServerEntry(backend, bulkhead, fixed_limit=concurrency)

    def backends(self) -> list[Backend]:
        return [s.backend for s in self._servers.values()]

    async def remove_backend(self, server_id: str) -> None:
        entry = self._servers.pop(server_id, None)
        for key in [k for k, m in self._models.items() if m.ref.server_id == server_id]:
            del self._models[key]
        if entry is not None:
            await entry.backend.aclose()

    def add_model(self, server_id: str, info: ModelInfo, capabilities: Iterable[str] = ()) -> ModelState:
        """Register (or update) a model on a registered server."""
        ref = ModelRef(server_id, info.name)
        state = self._models.get(ref.key)
        if state is None:
            breaker = CircuitBreaker(ref.key, self.settings.breaker, self.clock, self._on_breaker)
            state = ModelState(
                ref, self._servers[server_id], breaker, ModelMetrics(self.settings.health.metrics_window)
            )
            self._models[ref.key] = state
        was_unavailable = state.info.unavailable if state.info is not None else None
        state.info = info
        state.window_checked = state.listed = True  # the server itself just listed/described it
        if info.unavailable != was_unavailable:
            self._update_health(state)  # e.g. a router's model failed to load, or loaded again
        if capabilities:
            state.capabilities = frozenset(capabilities)
        if info.slots:
            b = self.settings.bulkhead
            state.server.fixed_limit = info.slots
            state.server.bulkhead.configure(info.slots, b.queue_limit, b.queue_timeout_s)
        return state

    async def refresh_models(self) -> list[str]:
        """Ask every server for its models (and their windows); returns problems, never raises."""
        problems: list[str] = []

        async def one(entry: ServerEntry) -> None:
            try:
                infos = await entry.backend.list_models()
                for info in infos:
                    try:
                        info = await entry.backend.describe(info.name)
                    except BackendError as exc:
                        problems.append(f"{entry.backend.server_id}/{info.name}: {exc.detail}")
                    self.add_model(entry.backend.server_id, info)
            except BackendError as exc:
                problems.append(f"{entry.backend.server_id}: {exc.detail}")

        await asyncio.gather(*(one(e) for e in list(self._servers.values())))
        return problems

    def server_restarted(self, server_id: str) -> None:
        """The server came (back) up: its models' windows may have changed, ask again on next use."""
        for state in self._models.values():
            if state.ref.server_id == server_id:
                state.window_checked = False

    def models(self) -> list[ModelState]:
        return list(self._models.values())

    def model(self, key: str) -> ModelState | None:
        return self._models.get(key)

    def set_fallback_chain(self, keys: Iterable[str]) -> None:
        self._fallback_chain = tuple(keys)

    @property
    def fallback_chain(self) -> tuple[str, ...]:
        return self._fallback_chain

    def set_capabilities(self, key: str, capabilities: Iterable[str]) -> None:
        state = self._models[key]
        state.capabilities = frozenset(capabilities)

    # --- chat ------------------------------------------------------------------------------

    async def chat(self, request: ChatRequest) -> AsyncIterator[EngineEvent]:
        """Answer one request; yields every event of it, ending with Completed or RequestFailed.

        Closing the iterator early cancels the request and closes every connection it opened.
        """
        queue: asyncio.Queue[object] = asyncio.Queue()
        running = self.start(request, queue.put_nowait, lambda: queue.put_nowait(_END))
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    break
                assert isinstance(item, EngineEvent)
                yield item
        finally:
            await running.cancel()

    def start(
        self, request: ChatRequest, on_event: Callable[[EngineEvent], None], on_done: Callable[[], None]
    ) -> Running:
        """Start answering one request: every event of it goes to `on_event` as it happens (the
        last is Completed or RequestFailed), then `on_done()` is called once. No queue or task sits
        between the engine and a front end that can take events as they come (the gateway).
        """
        rid = request.request_id or f"r{next(self._ids)}"

        def emit(event: EngineEvent) -> None:
            on_event(event)
            self._emit(event)

        try:
            run = self._prepare(request, rid, emit)
        except Exception as exc:  # never leave the caller hanging
            log.exception("request %s could not start", rid)
            run = RequestFailed(ts=self.wall(), request_id=rid, detail=f"internal error: {exc}")
        if isinstance(run, RequestFailed):
            emit(run)
            on_done()
            return Running(rid, None)

        async def drive() -> None:
            try:
                await run.run()
            except Exception as exc:  # never leave the caller hanging
                log.exception("request %s crashed", rid)
                emit(RequestFailed(ts=self.wall(), request_id=rid, detail=f"internal error: {exc}"))

        def finished(_: object) -> None:  # also when cancelled before it ever ran
            self._active_requests -= 1
            on_done()

        self._active_requests += 1
        task = asyncio.ensure_future(drive())
        task.add_done_callback(finished)
        return Running(rid, task)

    def _prepare(
        self, request: ChatRequest, rid: str, emit: Callable[[EngineEvent], None]
    ) -> RequestRun | RequestFailed:
        """The request's run with its route, or its refusal (the caller's mistake: no attempt, no
        breaker, no retry)."""
        checked = check_input(request.messages)
        if checked.refusal is not None:
            return RequestFailed(
                ts=self.wall(), request_id=rid, detail=checked.refusal, kinds=(FailureKind.BAD_REQUEST,)
            )
        if checked.notes:
            request = replace(request, messages=checked.messages)
        self._sweep_quarantine()
        self._register_configured(request.model)
        last_user = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        guess = classify_task(last_user)
        request = self._task_defaults(request, guess.task.value)
        route = order_candidates(
            self.models(),
            requested=request.model,
            fallback_chain=self._fallback_chain,
            task=guess,
            strategy=request.strategy or self.settings.strategy,
            weights=self.settings.weights,
            rng=self.rng,
            ramp_of=self._ramp,
            fallback_to_any=self.settings.routing.fallback_to_any,
        )
        if not request.fallback and len(route.candidates) > 1:
            route = replace(
                route, candidates=route.candidates[:1], explanation=route.explanation + "; fallback off"
            )
        return RequestRun(self._run_env(emit), request, route, rid, guess.task.value, checked.notes)

    def _task_defaults(self, request: ChatRequest, task: str) -> ChatRequest:
        """The task type's own temperature and reply length where the request leaves them open."""
        routing = self.settings.routing
        params = request.params
        temperature = routing.task_temperature.get(task) if params.temperature is None else None
        max_tokens = routing.task_max_tokens.get(task) if params.max_tokens is None else None
        if temperature is None and max_tokens is None:
            return request
        return replace(
            request,
            params=replace(
                params,
                temperature=params.temperature if temperature is None else temperature,
                max_tokens=params.max_tokens if max_tokens is None else max_tokens,
            ),
        )

    def _register_configured(self, requested: str) -> None:
        """Make the pinned model and the fallback chain candidates even before their server answered.

        A configured model whose server is known but did not list it (down at start, still
        loading, hung) gets a placeholder: its attempt then fails fast and classified
        (connection_refused, model_not_found) and the request goes on down the chain, instead of
        ending with "not known". Keys on servers nobody configured are left to the router.
        """
        keys = [requested] if requested != AUTO else []
        for key in [*keys, *self._fallback_chain]:
            if key in self._models:
                continue
            server_id, _, model = key.partition("/")
            if server_id in self._servers and model:
                placeholder = self.add_model(server_id, ModelInfo(model))
                placeholder.window_checked = placeholder.listed = False

    def _run_env(self, emit: Callable[[EngineEvent], None]) -> RunEnv:
        return RunEnv(
            settings=self.settings,
            clock=self.clock,
            rng=self.rng,
            wall=self.wall,
            fitter=self.fitter,
            emit=emit,
            skip_reason=self._skip_reason,
            acquire=lambda s: s.breaker.try_acquire(),
            force_acquire=lambda s: s.breaker.force_permit(),
            on_success=self._on_success,
            on_failure=self._on_failure,
            on_release=lambda s, p: s.breaker.release(p),
            on_truncation=self._on_truncation,
            probe=self._probe_model,
            on_quality=self._on_quality,
        )

    def _skip_reason(self, state: ModelState) -> tuple[FailureKind, str] | None:
        entry = self._quarantine.get(state.key)
        if entry is not None:
            # Every quarantine is the user's (the Models page, the CLI, or restored from their last run).
            until = time_left(entry.remaining(self.clock.now()))
            because = f" — {entry.reason}" if entry.reason else ""
            return FailureKind.QUARANTINED, f"quarantined by you{because} ({until})"
        if not state.breaker.would_admit():
            wait = state.breaker.reopen_in()
            if wait is not None:
                return FailureKind.CIRCUIT_OPEN, f"circuit open, retry in {duration_in_words(wait)}"
            return FailureKind.CIRCUIT_OPEN, "circuit half-open, probe already in flight"
        return None

    def _on_success(self, state: ModelState, permit: Permit, result: AttemptResult) -> None:
        was = state.breaker.state
        state.breaker.record_success(permit)
        if was is BreakerState.HALF_OPEN and state.breaker.state is BreakerState.CLOSED:
            state.recovered_at = self.clock.now()
        completion = result.usage.completion_tokens if result.usage else None
        tps = None
        if result.timings and result.timings.predicted_per_second:
            tps = result.timings.predicted_per_second
        elif completion and result.ttft_s is not None and result.total_s > result.ttft_s:
            tps = completion / (result.total_s - result.ttft_s)
        state.metrics.add(Sample(self.clock.now(), True, result.ttft_s, result.total_s, completion, tps))
        state.canary_failure = None  # a real answer: whatever the canary saw is over
        self._update_health(state)

    def _on_failure(self, state: ModelState, permit: Permit, error: BackendError, elapsed: float) -> None:
        policy = policy_for(error.kind)
        state.breaker.record_failure(permit, policy.counts_for_breaker, f"{error.kind.value}: {error.detail}")
        state.last_error_kind, state.last_error_detail = error.kind, error.detail
        if policy.counts_for_breaker:
            state.metrics.add(Sample(self.clock.now(), False, None, elapsed, None, None, error.kind.value))
        self._update_health(state)

    def _on_quality(self, state: ModelState, score: float) -> None:
        state.quality.append(score)
        self._update_health(state)

    def note_drift(self, key: str, reason: str) -> None:
        """A sustained change of the model against its own usual behaviour (found outside the
        engine, see `steward.lab.drift`): degraded, with `reason`, for the health window."""
        state = self._models.get(key)
        if state is not None:
            state.drift = (self.clock.now(), reason)
            self._update_health(state)

    def _on_truncation(self, state: ModelState) -> None:
        state.truncation_at = self.clock.now()
        self._update_health(state)

    def _on_breaker(
        self,
        key: str,
        old: BreakerState,
        new: BreakerState,
        reason: str,
        reopen: float | None,
        restored: bool = False,
    ) -> None:
        self._emit(
            BreakerChanged(
                ts=self.wall(),
                request_id=None,
                model=key,
                old=old.value,
                new=new.value,
                reason=reason,
                reopen_in_s=reopen,
                restored=restored,
            )
        )
        state = self._models.get(key)
        if state is not None:
            self._update_health(state)

    def _ramp(self, state: ModelState) -> float:
        """Traffic share of a model that recently recovered: grows linearly over the ramp window."""
        window = self.settings.health.recovery_ramp_s
        if state.recovered_at is None or window <= 0:
            return 1.0
        progress = (self.clock.now() - state.recovered_at) / window
        return 1.0 if progress >= 1.0 else max(0.1, progress)

    # --- health ----------------------------------------------------------------------------

    def _update_health(self, state: ModelState) -> None:
        now = self.clock.now()
        truncation_recent = (
            state.truncation_at is not None and now - state.truncation_at < self.settings.health.window_s
        )
        probe = state.server.last_probe
        inputs = HealthInputs(
            quarantined=self._quarantine.is_quarantined(state.key),
            breaker=state.breaker.state,
            server_state=probe.state if probe else None,
            truncation_recent=truncation_recent,
            canary_failure=state.canary_failure,
            quality=(sum(state.quality) / len(state.quality), len(state.quality)) if state.quality else None,
            unavailable=state.info.unavailable if state.info is not None else None,
            drift=state.drift[1]
            if state.drift and now - state.drift[0] < self.settings.health.window_s
            else None,
        )
        status, reason = derive_health(inputs, state.metrics, self.settings.health, now)
        if status is not state.health:
            old = state.health
            state.health, state.health_reason = status, reason
            self._emit(
                HealthChanged(
                    ts=self.wall(),
                    request_id=None,
                    model=state.key,
                    old=old.value,
                    new=status.value,
                    reason=reason,
                )
            )
        else:
            state.health_reason = reason

    async def _probe_model(self, state: ModelState) -> ProbeResult:
        result = await state.backend.probe()
        state.server.last_probe = result
        return result

    async def probe_all(self) -> None:
        """One round of the health monitor (see `steward.engine.monitor`)."""
        await self._monitor.probe_all()

    async def run_health_monitor(self) -> None:
        """Probe at the configured interval until cancelled."""
        await self._monitor.run()

    # The monitor's narrow view of the engine (`MonitoredEngine`).

    def servers(self) -> list[ServerEntry]:
        return list(self._servers.values())

    def refresh_health(self) -> None:
        self._sweep_quarantine()
        for state in self.models():
            self._update_health(state)

    def is_quarantined(self, key: str) -> bool:
        return self._quarantine.is_quarantined(key)

    def record_success(self, state: ModelState, permit: Permit, result: AttemptResult) -> None:
        self._on_success(state, permit, result)

    def record_failure(self, state: ModelState, permit: Permit, error: BackendError, elapsed: float) -> None:
        self._on_failure(state, permit, error, elapsed)

    # The inference canary's view (`CanaryHost`): its verdicts are not traffic (no metrics sample).

    def canary_failed(self, state: ModelState, error: BackendError, reason: str) -> None:
        """Unhealthy with `reason`, and the circuit opened so requests go around the model until a
        canary or a real answer succeeds again."""
        state.canary_failure = reason
        state.last_error_kind, state.last_error_detail = error.kind, error.detail
        if state.breaker.state is not BreakerState.OPEN:
            state.breaker.force_open(reason)
        self._update_health(state)

    def canary_passed(self, state: ModelState) -> None:
        """A canary answered after failing: the circuit it opened closes and the model is routed to again."""
        if state.canary_failure is None:
            return
        state.canary_failure = None
        if state.breaker.state is not BreakerState.CLOSED:
            state.breaker.reset("the canary answered again")
            state.recovered_at = self.clock.now()
        self._update_health(state)

    # --- user actions ----------------------------------------------------------------------

    def quarantine(self, key: str, reason: str, duration_s: float | None = None) -> None:
        """Take a model out of rotation (until released, or for `duration_s`)."""
        if key not in self._models:
            raise KeyError(f"unknown model {key}")
        entry = self._quarantine.quarantine(key, reason, duration_s)
        until_ts = None if entry.until is None else self.wall() + (entry.until - self.clock.now())
        self._emit(Quarantined(ts=self.wall(), request_id=None, model=key, reason=reason, until_ts=until_ts))
        self._update_health(self._models[key])

    def release(self, key: str, reason: str = "released by user") -> bool:
        """Put a quarantined model back in rotation; False if it was not quarantined."""
        entry = self._quarantine.release(key)
        if entry is None:
            return False
        self._emit(Released(ts=self.wall(), request_id=None, model=key, reason=reason))
        if key in self._models:
            self._update_health(self._models[key])
        return True

    def reset(self, key: str) -> None:
        """Close the model's breaker and forget its failure history."""
        state = self._models[key]
        state.breaker.reset()
        state.metrics = ModelMetrics(self.settings.health.metrics_window)
        state.last_error_kind = state.last_error_detail = None
        state.truncation_at = None
        state.canary_failure = None
        self._update_health(state)

    def _sweep_quarantine(self) -> None:
        for entry in self._quarantine.pop_expired():
            self._emit(
                Released(ts=self.wall(), request_id=None, model=entry.key, reason="quarantine expired")
            )
            if entry.key in self._models:
                self._update_health(self._models[entry.key])

    def update_settings(self, settings: EngineSettings) -> None:
        """Apply new settings live: breakers, bulkheads and windows pick them up at once."""
        old, self.settings = self.settings, settings
        changed = tuple(
            name for name in settings.__dataclass_fields__ if getattr(old, name) != getattr(settings, name)
        )
        for state in self._models.values():
            state.breaker.update_settings(settings.breaker)
            state.metrics.resize(settings.health.metrics_window)
        b = settings.bulkhead
        for entry in self._servers.values():
            entry.bulkhead.configure(
                entry.fixed_limit or b.default_concurrency, b.queue_limit, b.queue_timeout_s
            )
        self._emit(SettingsApplied(ts=self.wall(), request_id=None, changed=changed))

    def restore_breaker(
        self, key: str, reopen_in_s: float, trips: int, reason: str, failures: int = 0
    ) -> BreakerState:
        """Carry a circuit over from an earlier run (at start-up): open for the `reopen_in_s` it had
        left, or half-open when none is left, keeping its trip count so the reset timeout keeps
        growing; with `trips` 0, a closed circuit with its consecutive `failures`.
        Emits `BreakerChanged(restored=True)`; returns the breaker's new state."""
        if key not in self._models:
            raise KeyError(f"unknown model {key}")
        state = self._models[key]
        old = state.breaker.state
        if trips <= 0:  # closed with failures; tripping here is a transition of this run, announced as such
            new = state.breaker.restore_failures(failures, reason)
            self._update_health(state)
            return new
        new = state.breaker.restore_open(reopen_in_s, trips, reason)
        why = f"restored from an earlier run (trip {state.breaker.trips}): {reason}"
        self._on_breaker(key, old, new, why, state.breaker.reopen_in(), restored=True)
        return new

    # --- reading ---------------------------------------------------------------------------

    def snapshot(self) -> EngineSnapshot:
        self._sweep_quarantine()
        now = self.clock.now()
        models = []
        for state in self._models.values():
            q = self._quarantine.get(state.key)
            view = None if q is None else QuarantineView(q.reason, q.remaining(now))
            models.append(model_snapshot(state, view, self._ramp(state)))
        servers = tuple(server_snapshot(e) for e in self._servers.values())
        return EngineSnapshot(tuple(models), servers, self._active_requests)

    async def aclose(self) -> None:
        await asyncio.gather(*(e.backend.aclose() for e in self._servers.values()), return_exceptions=True)
