"""The history area of the bridge: the audit trail (Events page) and the dashboard's chart history.

Store reads and writes that may block run in a worker thread (`run_blocking`); their results
come back on the GUI thread through the `done` callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from steward.gui.bridges.base import SubBridge
from steward.store import EventRecord, SamplesWindow, export_events
from steward.store.export import write_events


class HistoryBridge(SubBridge):
    """Read and export what the store recorded."""

    def load_events(self, done: Callable[[list[EventRecord]], None], limit: int = 2000) -> None:
        """The newest `limit` audit-trail events, oldest first."""
        store = self._core.store
        if store is not None:
            self._core.run_blocking(lambda: store.events(limit=limit)[::-1], done, "reading the audit trail")

    def export_events(self, path: str, fmt: str, done: Callable[[int], None]) -> None:
        store = self._core.store
        if store is None:
            self._core.notice.emit("warning", "No history database: nothing to export.")
            return
        self._core.run_blocking(lambda: export_events(store, path, fmt), done, "exporting events")  # type: ignore[arg-type]

    def export_event_records(
        self, records: list[EventRecord], path: str, fmt: str, done: Callable[[int], None]
    ) -> None:
        """Write `records` (e.g. the rows a filter shows) to `path` in a thread."""
        self._core.run_blocking(lambda: write_events(records, path, fmt), done, "exporting events")  # type: ignore[arg-type]

    def load_history(self, since: float, done: Callable[[SamplesWindow, list[EventRecord]], None]) -> None:
        """Latency samples and health changes since `since`, for the dashboard charts."""
        store = self._core.store
        if store is None:
            return

        def read() -> tuple[SamplesWindow, list[EventRecord]]:
            now = time.time()
            window = store.samples_window(None, since, now + 1)
            health = store.events(since=since, types=["HealthChanged"], limit=20000, newest_first=False)
            return window, health

        self._core.run_blocking(read, lambda result: done(*result), "reading chart history")
