"""A manual clock for tests (implements steward.engine.clock.Clock).

Time starts at 1000.0 and moves only when a test says so:
- `await clock.advance(s)` moves time forward, waking sleepers in deadline order and
  letting the event loop settle after each wake-up;
- `await clock.settle()` runs the event loop until nothing is ready to run;
- `async with clock.autojump():` jumps time to the next sleeper's deadline whenever the
  loop is idle (trio's autojump clock), so code with timeouts runs instantly and exactly;
- `clock._now += s` moves time without waking anyone (for synchronous state machines).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress


class FakeClock:
    """Deterministic clock: `sleep()` waits on fake time; nothing really sleeps."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Wait until fake time reaches now + seconds (a non-positive wait just yields)."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (self._now + seconds, next(self._seq), future))
        await future

    def _next_deadline(self) -> float | None:
        while self._waiters and self._waiters[0][2].done():  # cancelled sleepers
            heapq.heappop(self._waiters)
        return self._waiters[0][0] if self._waiters else None

    def _wake_due(self) -> None:
        while self._waiters and self._waiters[0][0] <= self._now:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)

    async def settle(self, max_rounds: int = 10_000) -> None:
        """Run the event loop until no callback is ready (bounded, so a busy loop cannot hang a test)."""
        loop = asyncio.get_running_loop()
        idle_rounds = 0
        for _ in range(max_rounds):
            await asyncio.sleep(0)
            ready = getattr(loop, "_ready", None)
            idle_rounds = idle_rounds + 1 if not ready else 0
            if idle_rounds >= 3:
                return

    async def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, firing every sleeper due on the way, in order."""
        target = self._now + max(0.0, seconds)
        await self.settle()
        while (deadline := self._next_deadline()) is not None and deadline <= target:
            self._now = max(self._now, deadline)
            self._wake_due()
            await self.settle()
        self._now = target
        await self.settle()

    @asynccontextmanager
    async def autojump(self) -> AsyncIterator[FakeClock]:
        """While inside, jump to the next deadline whenever the loop is otherwise idle."""

        async def jumper() -> None:
            while True:
                await self.settle()
                deadline = self._next_deadline()
                if deadline is None:
                    await asyncio.sleep(0.001)  # nothing sleeping: real I/O may be pending
                    continue
                self._now = max(self._now, deadline)
                self._wake_due()

        task = asyncio.create_task(jumper())
        try:
            yield self
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
