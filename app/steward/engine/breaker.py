"""Circuit breaker per model endpoint, on an injected clock.

closed → open after `failure_threshold` consecutive counted failures → half_open once
the reset timeout has passed (the timeout doubles with each consecutive trip, capped)
→ exactly ONE probe admitted at a time → closed after `success_threshold` successes.
A failed probe re-opens with the next, longer timeout.

An open circuit can be exported (`open_state`) and restored in a later run (`restore_open`), so a
model known to be dead is skipped from the first request instead of paying its timeouts again.

The engine runs on one asyncio loop and `try_acquire` never awaits, so "exactly one
probe" holds however many callers arrive at the reset instant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from steward.engine.clock import Clock
from steward.engine.settings import BreakerSettings


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class Permit:
    """Admission to call the model; `probe` is True for the single half-open trial."""

    key: str
    probe: bool
    generation: int
    token: int = 0
    forced: bool = False
    """Issued past an open circuit because every candidate was open (panic mode)."""


@dataclass(frozen=True)
class OpenCircuit:
    """What a later run needs to carry on with an open (or half-open) circuit."""

    reopen_in_s: float
    """Seconds until it half-opens on the breaker's clock; 0 once half-open."""
    trips: int
    """Consecutive trips so far: the next trip's reset timeout grows from here."""
    reason: str
    """Why it last opened."""


# (key, old, new, reason, reopen_in_s)
BreakerListener = Callable[[str, BreakerState, BreakerState, str, float | None], None]


class CircuitBreaker:
    """One model's breaker. Call `try_acquire`, then exactly one of the `record_*`/`release`."""

    def __init__(
        self,
        key: str,
        settings: BreakerSettings,
        clock: Clock,
        listener: BreakerListener | None = None,
    ) -> None:
        self.key = key
        self._settings = settings
        self._clock = clock
        self._listener = listener
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._successes = 0
        self._trips = 0
        self._opened_at = 0.0
        self._open_for = 0.0
        self._open_reason = ""
        self._probe_out = False
        self._probe_token = 0
        self._tokens = 0
        self._generation = 0

    # --- reading -------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """Current state; an open breaker whose timeout has passed reads (and becomes) half-open."""
        if self._state is BreakerState.OPEN and self._clock.now() >= self._opened_at + self._open_for:
            self._transition(BreakerState.HALF_OPEN, "reset timeout elapsed")
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    @property
    def trips(self) -> int:
        """Consecutive trips since the breaker last closed (drives the growing timeout)."""
        return self._trips

    def reopen_in(self) -> float | None:
        """Seconds until an open breaker half-opens (None unless open)."""
        if self.state is not BreakerState.OPEN:
            return None
        return max(0.0, self._opened_at + self._open_for - self._clock.now())

    def open_state(self) -> OpenCircuit | None:
        """The circuit as `restore_open` takes it back; None while closed. Reads without side effects
        (safe inside the listener: an open breaker whose timeout has passed reports 0 s left)."""
        if self._state is BreakerState.CLOSED:
            return None
        left = 0.0
        if self._state is BreakerState.OPEN:
            left = max(0.0, self._opened_at + self._open_for - self._clock.now())
        return OpenCircuit(left, max(1, self._trips), self._open_reason)

    def would_admit(self) -> bool:
        """Whether `try_acquire` would succeed now (no side effect besides a due half-open)."""
        state = self.state
        return state is BreakerState.CLOSED or (state is BreakerState.HALF_OPEN and not self._probe_out)

    # --- admission -------------------------------------------------------------------------

    def try_acquire(self) -> Permit | None:
        """A permit to call the model, or None if the circuit refuses."""
        state = self.state
        if state is BreakerState.CLOSED:
            return Permit(self.key, probe=False, generation=self._generation)
        if state is BreakerState.HALF_OPEN and not self._probe_out:
            self._probe_out = True
            self._tokens += 1
            self._probe_token = self._tokens
            return Permit(self.key, probe=True, generation=self._generation, token=self._tokens)
        return None

    def force_permit(self) -> Permit:
        """Admission past an open circuit, used when every candidate's circuit is open.

        Like Envoy's rule never to eject all hosts: one request still goes to the model
        closest to half-opening. Its success closes the circuit; its failure changes nothing.
        """
        return Permit(self.key, probe=False, generation=self._generation, forced=True)

    def record_success(self, permit: Permit) -> None:
        if permit.generation != self._generation:
            return
        if permit.forced and self.state is BreakerState.OPEN:
            self._close("answered while every circuit was open")
            return
        self._free_probe(permit)
        if self._state is BreakerState.HALF_OPEN:
            self._successes += 1
            if self._successes >= self._settings.success_threshold:
                self._close("probe succeeded")
        elif self._state is BreakerState.CLOSED:
            self._failures = 0

    def record_failure(self, permit: Permit, counted: bool, reason: str) -> None:
        """An attempt failed; `counted` per the failure policy table."""
        if permit.generation != self._generation:
            return
        self._free_probe(permit)
        if not counted or permit.forced:
            return
        if self._state is BreakerState.HALF_OPEN:
            self._trip(f"probe failed: {reason}")
        elif self._state is BreakerState.CLOSED:
            self._failures += 1
            if self._failures >= self._settings.failure_threshold:
                self._trip(f"{self._failures} consecutive failures, last: {reason}")

    def release(self, permit: Permit) -> None:
        """The attempt ended without a verdict (cancelled, skipped): free a probe slot."""
        if permit.generation == self._generation:
            self._free_probe(permit)

    def _free_probe(self, permit: Permit) -> None:
        if permit.probe and permit.token == self._probe_token:
            self._probe_out = False
            self._probe_token = 0

    # --- control ---------------------------------------------------------------------------

    def reset(self, reason: str = "reset by user") -> None:
        """Forget all history and close."""
        self._trips = 0
        self._close(reason)

    def force_open(self, reason: str, open_for: float | None = None) -> None:
        """Open now (used to restore persisted state)."""
        self._trips = max(self._trips, 1)
        self._open(reason, open_for if open_for is not None else self._timeout_for(self._trips))

    def restore_open(self, reopen_in_s: float, trips: int, reason: str) -> BreakerState:
        """Re-open a circuit remembered from an earlier run; returns the state it is now in.

        Open for `reopen_in_s` more seconds on this breaker's clock (capped at the longest reset
        timeout, so a wall clock set back cannot shut a model out for longer than a live trip would),
        or half-open at once when no time is left: the first request or health probe is then the
        probe. `trips` is kept either way, so a failed probe re-opens with the next, longer timeout.

        The listener is NOT called: restoring is not a transition of this run, and the caller
        announces it (the engine emits `BreakerChanged(restored=True)`). Meant for start-up.
        """
        self._trips = max(1, trips)
        self._failures = 0
        self._successes = 0
        self._probe_out = False
        self._probe_token = 0
        self._generation += 1
        self._open_reason = reason
        self._opened_at = self._clock.now()
        self._open_for = max(0.0, min(reopen_in_s, self._settings.max_reset_timeout_s))
        self._state = BreakerState.OPEN if self._open_for > 0 else BreakerState.HALF_OPEN
        return self._state

    def restore_failures(self, failures: int, reason: str) -> BreakerState:
        """A closed circuit's consecutive failures remembered from an earlier run (at start-up):
        counted as if they had happened in this run (trips once they reach the threshold)."""
        if self._state is BreakerState.CLOSED:
            self._failures = max(0, failures)
            if self._failures >= self._settings.failure_threshold:
                self._trip(f"{self._failures} failures in a row (carried over): {reason}")
        return self._state

    @property
    def settings(self) -> BreakerSettings:
        return self._settings

    def update_settings(self, settings: BreakerSettings) -> None:
        self._settings = settings
        if self._state is BreakerState.CLOSED and self._failures >= settings.failure_threshold:
            self._trip(f"threshold lowered to {settings.failure_threshold}")

    # --- internals -------------------------------------------------------------------------

    def _timeout_for(self, trips: int) -> float:
        base = self._settings.reset_timeout_s
        return float(min(self._settings.max_reset_timeout_s, base * (2 ** max(0, trips - 1))))

    def _trip(self, reason: str) -> None:
        self._trips += 1
        self._open(reason, self._timeout_for(self._trips))

    def _open(self, reason: str, open_for: float) -> None:
        self._opened_at = self._clock.now()
        self._open_for = open_for
        self._open_reason = reason
        self._failures = 0
        self._successes = 0
        self._probe_out = False
        self._generation += 1
        self._transition(BreakerState.OPEN, reason, reopen_in=open_for)

    def _close(self, reason: str) -> None:
        self._failures = 0
        self._successes = 0
        self._probe_out = False
        if self._state is not BreakerState.CLOSED:
            self._trips = 0
            self._generation += 1
            self._transition(BreakerState.CLOSED, reason)

    def _transition(self, new: BreakerState, reason: str, reopen_in: float | None = None) -> None:
        old = self._state
        self._state = new
        if new is BreakerState.HALF_OPEN:
            self._successes = 0
            self._probe_out = False
        if self._listener is not None and (old is not new or new is BreakerState.OPEN):
            self._listener(self.key, old, new, reason, reopen_in)
