"""The inference canary: one token asked of each idle model on its own interval.

Liveness (`engine.monitor`) asks a server's health endpoint; a wedged server answers it with 200
while every completion hangs or fails. The canary notices: every `health.canary_interval_s` a model
nobody used for that long is asked for ONE token of a tiny prompt, bounded by the user's timeouts
(first token within the first-token timeout, the whole check within connect + first-token). A
failure, classified like any attempt's, marks the model unhealthy with its reason ("canary: …") and
opens its circuit so requests go around it; after `health.canary_failures_to_restart` failures in a
row the server is handed to `restart` (the runtime restarts a server Steward runs; others are only
routed around). A canary or a real answer that succeeds puts the model back.

The canary is not traffic: it emits no request events and adds no metrics sample, so charts, SLOs
and the gateway's counters never see it (its own `CanaryFailed` events are apart). It never runs on
a model that is busy, was used within the interval, is not loaded (asking would load it), is
quarantined or whose server is not up, never while `hold_off` names a reason (on battery, CPU or
memory pressure), and never twice at once on one model. A refused connection is a server that is
down, not wedged: liveness' business (and the supervisor's, for a crashed process). Every wait is
on the injected clock, so its tests drive time and never sleep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Protocol

from steward.engine.attempt import AttemptProgress, stream_attempt
from steward.engine.clock import Clock
from steward.engine.events import CanaryFailed, EngineEvent
from steward.engine.failures import BackendError, FailureKind, policy_for
from steward.engine.registry import ModelState
from steward.engine.settings import EngineSettings
from steward.engine.types import ChatMessage, GenerationParams, ServerState

log = logging.getLogger(__name__)

PROMPT = (ChatMessage("user", "Say OK."),)
PARAMS = GenerationParams(max_tokens=1, temperature=0.0)
OFF_RECHECK_S = 30.0
"""How often a switched-off canary looks whether it was switched on."""
TICKS_PER_INTERVAL = 4
"""The canary wakes this many times per interval, so a model is checked soon after it becomes due."""

_NOT_WEDGED = frozenset({FailureKind.CONNECTION_REFUSED})
"""Nothing listens: a server that is down (liveness marks it, the supervisor restarts a crashed one)."""

HoldOff = Callable[[], Awaitable[str | None]]
"""Why background work should wait now ("on battery"), or None to go ahead."""
Restart = Callable[[str, str], Awaitable[object]]
"""Restart server `server_id` (one Steward runs) because of `reason`."""
Manages = Callable[[str], bool]
"""Whether Steward runs server `server_id` (and so may restart it)."""


class CanaryHost(Protocol):
    """What the canary needs of the engine (kept narrow so it is testable on its own)."""

    clock: Clock
    settings: EngineSettings
    wall: Callable[[], float]

    def models(self) -> list[ModelState]: ...

    def is_quarantined(self, key: str) -> bool: ...

    def publish(self, event: EngineEvent) -> None: ...

    def canary_failed(self, state: ModelState, error: BackendError, reason: str) -> None: ...

    def canary_passed(self, state: ModelState) -> None: ...


async def _never() -> str | None:
    return None


def canary_reason(error: BackendError) -> str:
    """The health reason for a failed canary, in the classifier's words ("canary: HTTP 500: …")."""
    detail = error.detail
    if error.status is not None and not detail.startswith("HTTP"):
        detail = f"HTTP {error.status}: {detail}"
    return f"canary: {detail}"


class InferenceCanary:
    """Runs the canary for every model of `host` (see the module docstring)."""

    def __init__(
        self,
        host: CanaryHost,
        *,
        hold_off: HoldOff | None = None,
        restart: Restart | None = None,
        manages: Manages | None = None,
    ) -> None:
        self._host = host
        self.hold_off: HoldOff = hold_off or _never
        self._restart = restart
        self._manages: Manages = manages or (lambda _server_id: False)
        self.held_off: str | None = None
        """Why the last round did nothing (None when it ran)."""
        self._last: dict[str, float] = {}  # key -> when the model was last checked (or first seen)
        self._failures: dict[str, int] = {}  # key -> canary failures in a row
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def failures_in_a_row(self, key: str) -> int:
        return self._failures.get(key, 0)

    def in_flight(self) -> frozenset[str]:
        return frozenset(self._in_flight)

    async def run(self) -> None:
        """Check due models a few times per interval until cancelled (then stop the checks in flight)."""
        clock = self._host.clock
        try:
            while True:
                interval = self._host.settings.health.canary_interval_s
                if interval <= 0:
                    await clock.sleep(OFF_RECHECK_S)
                    continue
                try:
                    await self.start_due()
                except Exception:
                    log.exception("canary round failed")
                await clock.sleep(interval / TICKS_PER_INTERVAL)
        finally:
            await self.aclose()

    async def start_due(self) -> list[str]:
        """Start a check of every due model (each in its own task); the keys started."""
        host = self._host
        interval = host.settings.health.canary_interval_s
        if interval <= 0:
            return []
        now = host.clock.now()
        due = [s for s in host.models() if self._due(s, now, interval)]
        if not due:
            return []
        self.held_off = await self.hold_off()
        if self.held_off is not None:
            log.debug("canary waits: %s", self.held_off)
            return []
        for state in due:
            self._in_flight.add(state.key)
            task = asyncio.ensure_future(self._check(state))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return [s.key for s in due]

    async def check(self, state: ModelState) -> bool:
        """Check `state` now, whatever the schedule and the hold-off rule; False (and no check) when
        one of it is already in flight."""
        if state.key in self._in_flight:
            return False
        self._in_flight.add(state.key)
        await self._check(state)
        return True

    async def wait_idle(self) -> None:
        """Wait until no check is in flight (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _due(self, state: ModelState, now: float, interval: float) -> bool:
        key = state.key
        first_seen = self._last.setdefault(key, now)  # a new model gets one interval's peace first
        if key in self._in_flight or not state.listed or self._host.is_quarantined(key):
            return False
        probe = state.server.last_probe
        if probe is None or probe.state is not ServerState.UP:
            return False  # down or loading: liveness' business, not the canary's
        if state.info is not None and state.info.loaded is False:
            return False  # asking would load it (Ollama, a router): a check must not cost a model load
        bulkhead = state.server.bulkhead
        if state.in_flight or bulkhead.active or bulkhead.queued:
            return False
        last = max(first_seen, state.last_used_at or first_seen)
        return now - last >= interval

    async def _check(self, state: ModelState) -> None:
        host, key = self._host, state.key
        clock = host.clock
        started = clock.now()
        self._last[key] = started
        if state.canary_failure is None:
            self._failures[key] = 0  # a real answer came in between: the count starts again
        try:
            error = await self._generate(state, started)
            if error is None:
                self._failures[key] = 0
                host.canary_passed(state)
            elif policy_for(error.kind).counts_for_breaker and error.kind not in _NOT_WEDGED:
                await self._failed(state, error)
            else:  # loading, busy, rate-limited, nothing listening…: not a wedged server
                log.info("canary on %s inconclusive: %s: %s", key, error.kind.value, error.detail)
        finally:
            self._last[key] = max(self._last.get(key, started), clock.now())
            self._in_flight.discard(key)

    async def _generate(self, state: ModelState, started: float) -> BackendError | None:
        """One token within the user's timeouts; the classified failure, or None when it answered."""
        s = self._host.settings
        t = s.timeouts
        bound = t.connect_s + t.first_token_s
        try:
            await stream_attempt(
                state.backend,
                state.ref.model,
                PROMPT,
                PARAMS,
                clock=self._host.clock,
                timeouts=replace(t, total_s=bound),
                degenerate=s.degenerate,
                deadline=started + bound,
                progress=AttemptProgress(started),
                on_token=lambda _text: None,
                first_token_by=started + t.first_token_s,
            )
        except BackendError as exc:
            return exc
        except Exception as exc:  # a backend bug is a failed check, not a dead canary
            return BackendError(FailureKind.UNKNOWN, f"{type(exc).__name__}: {exc}")
        return None

    async def _failed(self, state: ModelState, error: BackendError) -> None:
        host, key = self._host, state.key
        count = self._failures[key] = self._failures.get(key, 0) + 1
        reason = canary_reason(error)
        server_id = state.ref.server_id
        limit = host.settings.health.canary_failures_to_restart
        restart = self._restart if count >= limit and self._manages(server_id) else None
        action = "restarting the server" if restart is not None else "routed around"
        log.warning("canary on %s failed (%d in a row): %s", key, count, reason)
        host.canary_failed(state, error, reason)
        host.publish(
            CanaryFailed(host.wall(), None, key, error.kind, reason.removeprefix("canary: "), count, action)
        )
        if restart is None:
            return
        try:
            await restart(server_id, f"canary failed {count}× in a row: {reason.removeprefix('canary: ')}")
        except Exception:
            log.exception("restarting %s after its canary failed did not work", server_id)
        for other in host.models():  # every model of that server starts counting afresh
            if other.ref.server_id == server_id:
                self._failures[other.key] = 0
                self._last[other.key] = host.clock.now()
