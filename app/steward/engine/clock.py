"""Injected time: every state machine reads time through a `Clock`, never the wall clock."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    """Monotonic seconds plus an awaitable sleep; tests substitute a manual clock."""

    def now(self) -> float:
        """Monotonic time in seconds (only differences are meaningful)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` on this clock."""
        ...


class SystemClock:
    """The real monotonic clock used in production."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def wall_time() -> float:
    """Unix time for timestamps shown to people and stored; never used for timing decisions."""
    return time.time()


class ClockTimeout(Exception):
    """Raised by `wait_for` when the clock's timeout elapsed first."""


async def wait_for(clock: Clock, awaitable: asyncio.Future[T], timeout: float | None) -> T:
    """Await `awaitable` for at most `timeout` seconds of `clock` time.

    On timeout the awaitable is cancelled and `ClockTimeout` is raised. With the
    system clock this is plain `asyncio.wait_for` (cheap per token); with any
    other clock the awaitable races a `clock.sleep`, so fake clocks decide.
    """
    if timeout is None:
        return await awaitable
    if isinstance(clock, SystemClock):
        try:
            return await asyncio.wait_for(awaitable, timeout)
        except TimeoutError as exc:
            raise ClockTimeout() from exc
    timer: asyncio.Future[None] = asyncio.ensure_future(clock.sleep(timeout))
    racers: set[asyncio.Future[Any]] = {awaitable, timer}
    try:
        done, _ = await asyncio.wait(racers, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        awaitable.cancel()
        timer.cancel()
        # let the awaitable unwind (an async generator must finish before it can be closed)
        await asyncio.wait({awaitable})
        raise
    if awaitable in done or (awaitable.done() and not awaitable.cancelled()):
        timer.cancel()
        return awaitable.result()
    awaitable.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await awaitable
    raise ClockTimeout()


async def next_within(clock: Clock, iterator: AsyncIterator[T], timeout: float | None) -> T:
    """`anext(iterator)` bounded by `timeout` clock seconds (ClockTimeout when exceeded).

    With the system clock this uses `asyncio.timeout` (no task per item: this is on the
    per-token path); other clocks race a task against `clock.sleep`. Either way a timeout
    throws CancelledError into the iterator, which closes an async generator's response.
    """
    if timeout is None:
        return await iterator.__anext__()
    if isinstance(clock, SystemClock):
        try:
            async with asyncio.timeout(timeout):
                return await iterator.__anext__()
        except TimeoutError as exc:
            raise ClockTimeout() from exc
    return await wait_for(clock, asyncio.ensure_future(iterator.__anext__()), timeout)


class ItemTimer:
    """Bounds every `next()` of ONE stream by its own timeout, cheaply.

    With the system clock one loop timer serves the whole stream: moving the deadline for the
    next item is an assignment, and the timer, when it fires before the current deadline (items
    kept arriving), re-arms itself there. `asyncio.timeout` per item scheduled and cancelled a
    timer for every token. When the deadline passes mid-wait the task is cancelled (which closes
    an async generator's response) and `ClockTimeout` raised; a cancellation from elsewhere
    stays a cancellation. Other clocks race `clock.sleep` as `next_within` does.
    Use from the task that iterates; `close()` when done.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._task = asyncio.current_task() if isinstance(clock, SystemClock) else None
        self._loop = asyncio.get_running_loop()
        self._deadline: float | None = None  # loop time, only while waiting for an item
        self._handle: asyncio.Handle | None = None  # qasync's loop gives plain Handles
        self._armed_for = 0.0  # the deadline the handle fires at
        self._fired = False
        # the loop runs timers up to its clock resolution early
        self._early = float(getattr(self._loop, "_clock_resolution", 1e-3))

    async def next(self, iterator: AsyncIterator[T], timeout: float) -> T:
        """`anext(iterator)` within `timeout` seconds (ClockTimeout when exceeded)."""
        task = self._task
        if task is None:
            return await next_within(self._clock, iterator, timeout)
        deadline = self._loop.time() + timeout
        self._deadline = deadline
        if self._handle is None or self._armed_for > deadline:
            if self._handle is not None:
                self._handle.cancel()
            self._arm(deadline)
        cancelling = task.cancelling()
        try:
            return await iterator.__anext__()
        except asyncio.CancelledError:
            if self._fired and task.uncancel() <= cancelling:
                raise ClockTimeout() from None
            raise
        finally:
            self._deadline = None
            self._fired = False

    def _fire(self) -> None:
        self._handle = None
        deadline = self._deadline
        if deadline is None or self._task is None:
            return  # not waiting: the next `next()` arms a new timer
        if self._loop.time() + self._early >= deadline:
            self._fired = True
            self._task.cancel()
        else:
            self._arm(deadline)

    def _arm(self, deadline: float) -> None:
        self._armed_for = deadline
        self._handle = self._loop.call_at(deadline, self._fire)

    def close(self) -> None:
        """Drop the timer (the stream is over)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
