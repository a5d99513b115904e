"""Which front end asked for each running request ("chat", "gateway", "cli", "lab", "probe").

Only `RequestStarted` names the source; the attempt and final events of the same request carry
its id. Listeners that treat traffic by who asked (the store's samples, the SLO/drift watch) keep
one `RequestSources` each and pass every event through it in order.
"""

from __future__ import annotations

from steward.engine.events import Completed, EngineEvent, RequestFailed, RequestStarted

DEFAULT_SOURCE = "chat"
MAX_OPEN_REQUESTS = 10_000


class RequestSources:
    """request id → source for requests still running (bounded: a request that never sends a final
    event is forgotten oldest-first past `limit`)."""

    def __init__(self, limit: int = MAX_OPEN_REQUESTS) -> None:
        self._limit = limit
        self._by_id: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def source_of(self, event: EngineEvent) -> str:
        """The source of the request `event` belongs to; call with every event, in order (a final
        event, Completed or RequestFailed, forgets its request)."""
        rid = event.request_id
        if isinstance(event, RequestStarted):
            if rid is not None:
                self._by_id[rid] = event.source
                if len(self._by_id) > self._limit:
                    del self._by_id[next(iter(self._by_id))]
            return event.source
        if isinstance(event, Completed | RequestFailed) and rid is not None:
            return self._by_id.pop(rid, DEFAULT_SOURCE)
        return self._by_id.get(rid or "", DEFAULT_SOURCE)
