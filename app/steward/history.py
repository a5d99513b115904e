"""History bookkeeping between the engine and the store: manual quarantines and open circuits
survive a restart (persisted on change, restored at start with their remaining time) and retention
is enforced in the background."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from steward.config.app_groups import RetentionConfig
from steward.engine.breaker import BreakerState
from steward.engine.clock import wall_time
from steward.engine.core import Engine
from steward.engine.events import AttemptFailed, BreakerChanged, Completed, EngineEvent, Quarantined, Released
from steward.store import Store

log = logging.getLogger(__name__)
RETENTION_INTERVAL_S = 3600.0


class QuarantinePersister:
    """Engine listener: writes quarantines and releases to the store (queued, never blocks)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __call__(self, event: EngineEvent) -> None:
        if isinstance(event, Quarantined) and event.manual:
            self._store.save_quarantine(event.model, event.reason, event.ts, event.until_ts)
        elif isinstance(event, Released):
            self._store.clear_quarantine(event.model)


async def restore_quarantines(
    engine: Engine, store: Store, now: Callable[[], float] = wall_time
) -> list[str]:
    """Re-apply stored quarantines that have not expired; returns the keys restored.

    A quarantine for a model no server offers right now is kept in the store (it may come back).
    """
    records = await asyncio.to_thread(store.active_quarantines, now())
    restored: list[str] = []
    for record in records:
        if engine.model(record.model_key) is None:
            continue
        remaining = None if record.expires_ts is None else max(1.0, record.expires_ts - now())
        engine.quarantine(record.model_key, record.reason, remaining)
        restored.append(record.model_key)
    return restored


class BreakerPersister:
    """Engine listener: remembers open circuits and forgets closed (or reset) ones (queued, never blocks).

    A half-open circuit keeps its row: if the next run starts before the probe settled it, the
    circuit comes back half-open with its trip count, just as this run would have carried on.
    """

    def __init__(self, store: Store, engine: Engine) -> None:
        self._store = store
        self._engine = engine
        self._with_failures: set[str] = set()

    def _failures_changed(self, key: str, ts: float) -> None:
        """A closed circuit's consecutive failures are kept too (trips 0), so one failure per short
        CLI run still adds up to a trip; a success (count back to 0) forgets them."""
        state = self._engine.model(key)
        if state is None or state.breaker.state is not BreakerState.CLOSED:
            return
        failures = state.breaker.consecutive_failures
        if failures > 0:
            self._with_failures.add(key)
            reason = state.last_error_detail or "failed"
            self._store.save_breaker(key, reason, ts, ts, 0, failures)
        elif key in self._with_failures:
            self._with_failures.discard(key)
            self._store.clear_breaker(key)

    def __call__(self, event: EngineEvent) -> None:
        if isinstance(event, AttemptFailed | Completed):
            self._failures_changed(event.model, event.ts)
            return
        if not isinstance(event, BreakerChanged) or event.restored:  # a restored row is already stored
            return
        if event.new == "closed":
            self._with_failures.discard(event.model)
            self._store.clear_breaker(event.model)
            return
        if event.new != "open":
            return
        state = self._engine.model(event.model)
        circuit = None if state is None else state.breaker.open_state()
        if circuit is None:
            return
        self._store.save_breaker(
            event.model, circuit.reason, event.ts, event.ts + circuit.reopen_in_s, circuit.trips
        )


async def restore_breakers(engine: Engine, store: Store, now: Callable[[], float] = wall_time) -> list[str]:
    """Re-open circuits remembered from earlier runs; returns one line per circuit restored.

    Still open: open for the time it had left, so this run skips the model without paying its
    timeout again. Past its reopen time: half-open with its trip count kept, so the first request
    (or health probe) is the probe and a failed one re-opens with the next, longer timeout instead
    of starting over. A circuit of a model no server offers right now stays stored (it may come back).
    """
    records = await asyncio.to_thread(store.remembered_breakers, now())
    lines: list[str] = []
    for record in records:
        state = engine.model(record.model_key)
        if state is None:
            continue
        if record.trips <= 0:  # a closed circuit's recent failures
            if now() - record.reopen_ts > state.breaker.settings.max_reset_timeout_s:
                continue  # too long ago to be "in a row"; the next success or failure rewrites the row
            engine.restore_breaker(record.model_key, 0.0, 0, record.reason, record.failures)
            line = (
                f"{record.model_key}: {record.failures} failure(s) in a row carried over from an earlier run"
            )
            log.info("%s", line)
            lines.append(line)
            continue
        engine.restore_breaker(record.model_key, record.reopen_in(now()), record.trips, record.reason)
        wait = state.breaker.reopen_in()
        how = "half-open, the next request probes it" if wait is None else f"open, half-opens in {wait:.0f} s"
        line = f"circuit of {record.model_key} restored: {how} (trip {state.breaker.trips})"
        log.info("%s", line)
        lines.append(line)
    return lines


async def enforce_retention_forever(store: Store, retention: Callable[[], RetentionConfig]) -> None:
    """Delete what is older than the retention settings at start and then hourly, off the loop."""
    while True:
        policy = retention()
        try:
            counts = await asyncio.to_thread(
                store.enforce_retention,
                wall_time(),
                policy.raw_samples_days,
                policy.minute_aggregates_days,
                policy.events_days,
            )
            log.info("retention: %s", counts)
        except Exception:  # a full disk or a locked file must not stop the app
            log.exception("retention run failed")
        await asyncio.sleep(RETENTION_INTERVAL_S)
