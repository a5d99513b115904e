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
