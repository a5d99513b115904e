"""`ItemTimer` on the real clock (the per-token timeout of every stream): one loop timer serves a
whole stream, a hung stream times out on time and is closed, an outside cancellation stays one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from steward.engine.clock import ClockTimeout, ItemTimer, SystemClock


async def spaced(gaps: list[float], closed: list[bool]) -> AsyncGenerator[int, None]:
    try:
        for index, gap in enumerate(gaps):
            await asyncio.sleep(gap)
            yield index
    finally:
        closed.append(True)


async def test_items_within_their_timeout_all_arrive_although_the_stream_outlasts_it() -> None:
    closed: list[bool] = []
    stream = spaced([0.03] * 10, closed)  # 0.3 s in all, never more than 30 ms apart
    timer = ItemTimer(SystemClock())
    got = [await timer.next(stream, 0.1) for _ in range(10)]
    timer.close()
    assert got == list(range(10))


async def test_a_hung_stream_times_out_on_time_and_is_closed() -> None:
    closed: list[bool] = []
    stream = spaced([0.01, 0.01, 30.0], closed)
    timer = ItemTimer(SystemClock())
    loop = asyncio.get_running_loop()
    assert [await timer.next(stream, 0.2), await timer.next(stream, 0.2)] == [0, 1]
    started = loop.time()
    with pytest.raises(ClockTimeout):
        await timer.next(stream, 0.2)
    waited = loop.time() - started
    timer.close()
    assert 0.19 <= waited < 0.5
    assert closed == [True], "the timeout closed the generator (and with it a response)"
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0, "the timer's own cancellation is undone"


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    closed: list[bool] = []

    async def consume() -> None:
        timer = ItemTimer(SystemClock())
        stream = spaced([30.0], closed)
        try:
            await timer.next(stream, 5.0)
        finally:
            timer.close()

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_shorter_timeout_after_a_longer_one_fires_on_time() -> None:
    closed: list[bool] = []
    stream = spaced([0.01, 30.0], closed)
    timer = ItemTimer(SystemClock())
    loop = asyncio.get_running_loop()
    assert await timer.next(stream, 20.0) == 0  # arms a far timer
    started = loop.time()
    with pytest.raises(ClockTimeout):
        await timer.next(stream, 0.1)  # must not wait for the far one
    timer.close()
    assert loop.time() - started < 0.5
