"""The most recent requests, as one line each (for the gateway panel and `/health`-style views):
who asked (source, client), which model was asked for, which answered, the outcome and the time."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from steward.engine.events import AttemptStarted, Completed, EngineEvent, RequestFailed, RequestStarted


@dataclass(frozen=True)
class RecentRequest:
    request_id: str
    ts: float
    source: str
    client: str
    asked: str
    answered_by: str | None = None
    outcome: str = "running"
    """running, answered, answered after N fallback(s), failed: <kinds>"""
    seconds: float | None = None


class RecentRequests:
    """Engine listener keeping the last `limit` finished requests (and the running ones)."""

    def __init__(self, limit: int = 200, sources: frozenset[str] | None = None) -> None:
        self._limit = limit
        self._sources = sources
        self._running: OrderedDict[str, RecentRequest] = OrderedDict()
        self._attempted: dict[str, set[str]] = {}
        self._done: deque[RecentRequest] = deque(maxlen=limit)
        self.on_change: Callable[[], None] | None = None

    def __call__(self, event: EngineEvent) -> None:
        rid = event.request_id
        if rid is None:
            return
        if isinstance(event, RequestStarted):
            if self._sources is not None and event.source not in self._sources:
                return
            self._running[rid] = RecentRequest(rid, event.ts, event.source, event.client, event.asked)
            self._attempted[rid] = set()
            while len(self._running) > self._limit:  # requests that never finished (cannot happen)
                self._running.popitem(last=False)
        elif rid not in self._running:
            return
        elif isinstance(event, AttemptStarted):
            self._attempted[rid].add(event.model)
        elif isinstance(event, Completed):
            fallbacks = len(self._attempted.pop(rid, set()) - {event.model})
            outcome = "answered" if not fallbacks else f"answered after {fallbacks} fallback(s)"
            self._finish(rid, replace(self._running[rid], answered_by=event.model, outcome=outcome), event)
        elif isinstance(event, RequestFailed):
            self._attempted.pop(rid, None)
            kinds = ", ".join(sorted({k.value for k in event.kinds})) or "no model could answer"
            self._finish(rid, replace(self._running[rid], outcome=f"failed: {kinds}"), event)

    def _finish(self, rid: str, record: RecentRequest, event: EngineEvent) -> None:
        del self._running[rid]
        self._done.append(replace(record, seconds=max(0.0, event.ts - record.ts)))
        if self.on_change is not None:
            self.on_change()

    def rows(self) -> list[RecentRequest]:
        """Newest first: running requests, then finished ones."""
        return [*reversed(self._running.values()), *reversed(self._done)]
