"""Bulkhead per server: at most N requests in flight, a bounded FIFO queue, a queue timeout.

A request that cannot get a slot in time fails as `server_busy` (and falls back) instead
of piling onto an overloaded local server.
"""

from __future__ import annotations

import asyncio
from collections import deque

from steward.engine.clock import Clock, ClockTimeout, wait_for
from steward.engine.failures import BackendError, FailureKind


class Bulkhead:
    """Concurrency limit for one server; `acquire`/`release` in pairs."""

    def __init__(
        self, server_id: str, limit: int, queue_limit: int, queue_timeout_s: float, clock: Clock
    ) -> None:
        self.server_id = server_id
        self._limit = max(1, limit)
        self._queue_limit = max(0, queue_limit)
        self._queue_timeout = queue_timeout_s
        self._clock = clock
        self._active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def active(self) -> int:
        return self._active

    @property
    def queued(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    @property
    def limit(self) -> int:
        return self._limit

    def configure(self, limit: int, queue_limit: int, queue_timeout_s: float) -> None:
        self._limit = max(1, limit)
        self._queue_limit = max(0, queue_limit)
        self._queue_timeout = queue_timeout_s
        self._wake()

    async def acquire(self) -> None:
        if self._active < self._limit and not self._waiters:
            self._active += 1
            return
        if self.queued >= self._queue_limit:
            raise BackendError(
                FailureKind.SERVER_BUSY,
                f"{self.server_id}: {self._active} requests in flight and {self.queued} queued (limit)",
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await wait_for(self._clock, waiter, self._queue_timeout)
        except ClockTimeout:
            raise BackendError(
                FailureKind.SERVER_BUSY,
                f"{self.server_id}: waited {self._queue_timeout:g} s for a free slot",
            ) from None
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed to us as we were cancelled
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def release(self) -> None:
        self._active = max(0, self._active - 1)
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._active < self._limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._active += 1
                waiter.set_result(None)
