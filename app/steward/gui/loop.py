"""The app's asyncio loop: qasync's Qt loop plus the async-generator hooks it forgets.

asyncio's own loops install `sys.set_asyncgen_hooks` so an abandoned async generator (an
httpx stream whose reader stopped early) is closed later as a task on the loop. qasync does
not, so such generators were finalized synchronously by the GC inside whatever code ran at
that moment: httpcore then took its connection lock in the wrong task and never released it
(wedging the pooled connection), and CPython 3.11 could even corrupt its recursion counter.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import qasync
from PySide6.QtCore import QEventLoop as QtEventLoop
from PySide6.QtWidgets import QApplication


def install_asyncgen_hooks(loop: asyncio.AbstractEventLoop) -> None:
    """Route async-generator first-iteration and finalization through `loop` (as asyncio does)."""
    firstiter = getattr(loop, "_asyncgen_firstiter_hook", None)
    finalizer = getattr(loop, "_asyncgen_finalizer_hook", None)
    if firstiter is not None and finalizer is not None:
        sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=finalizer)


class StewardLoop(qasync.QEventLoop):  # type: ignore[misc]
    """qasync's loop with `run_until_complete` fixed.

    qasync ends `run_until_complete` with one more `processEvents()` AFTER it has unset
    asyncio's running loop, so a task step queued at that moment ran with no running loop:
    httpx/anyio then failed ("no running event loop") and could leave a pooled connection
    locked, hanging later requests to that server. Here that last pass runs with the loop set.
    """

    def run_until_complete(self, future: Any) -> Any:
        if self._QEventLoop__is_running:
            raise RuntimeError("Event loop already running")
        future = asyncio.ensure_future(future, loop=self)

        def stop(*_args: object) -> None:
            self.stop()

        future.add_done_callback(stop)
        try:
            self.run_forever()
        finally:
            future.remove_done_callback(stop)
        previous = asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(self)
        try:
            self._QEventLoop__app.eventDispatcher().processEvents(QtEventLoop.ProcessEventsFlag.AllEvents)
        finally:
            asyncio.events._set_running_loop(previous)
        if not future.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        return future.result()


def make_loop(app: QApplication) -> qasync.QEventLoop:
    """A qasync loop on `app`, set as the current loop, with the async-generator hooks installed."""
    loop = StewardLoop(app)
    asyncio.set_event_loop(loop)
    install_asyncgen_hooks(loop)
    return loop
