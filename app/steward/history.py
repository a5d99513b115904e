"""History bookkeeping between the engine and the store: manual quarantines survive a restart
(persisted on change, restored at start with their remaining time) and retention is enforced
in the background."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from steward.config.app_groups import RetentionConfig
from steward.engine.clock import wall_time
from steward.engine.core import Engine
from steward.engine.events import EngineEvent, Quarantined, Released
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
