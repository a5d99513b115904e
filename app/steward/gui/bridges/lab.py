"""The Lab area of the bridge: one experiment at a time; the service runs it, the Lab page shows it.

An experiment (failover drill, A/B comparison) runs as an asyncio task on the core; progress
arrives as `lab_progress`, the result as `lab_finished` and an early end as `lab_ended`. Saved
results are read in a worker thread. Everything the Lab page asks of the service goes here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal

from steward.gui.bridges.base import SubBridge

if TYPE_CHECKING:
    from steward.gui.bridge import Bridge

log = logging.getLogger(__name__)


class LabBridge(SubBridge):
    """Start and stop Lab experiments; read the Lab's defaults and saved results."""

    lab_progress = Signal(str, int, int, object)  # "drill"|"compare", done, total, ScenarioResult|Run
    lab_finished = Signal(str, object, str)  # kind, DrillReport|ComparisonResult, saved file
    lab_ended = Signal(str, str)  # kind, why it ended without a result ("" when stopped by the user)
    objectives_changed = Signal()  # an SLO alert started or stopped, or a drift was found

    def __init__(self, core: Bridge) -> None:
        super().__init__(core)
        self._lab_task: asyncio.Task[Any] | None = None

    # --- experiments ---------------------------------------------------------------------------

    def start_drill(self, targets: list[str], faults: list[Any], recover_limit_s: float = 30.0) -> bool:
        """Start the failover drill in the background; False (and a notice) when it cannot start."""
        if self.service is None:
            return False
        lab = self.service.lab
        return self._lab(
            "drill",
            lab.run_drill(
                targets,
                faults,
                lambda d, t, s: self.lab_progress.emit("drill", d, t, s),
                recover_limit_s=recover_limit_s,
            ),
        )

    def start_compare(
        self,
        a: str,
        b: str,
        prompts: list[str],
        runs: int,
        max_tokens: int,
        temperatures: tuple[float | None, float | None],
    ) -> bool:
        """Start an A/B comparison in the background; False when it cannot start."""
        if self.service is None:
            return False
        lab = self.service.lab
        return self._lab(
            "compare",
            lab.run_compare(
                a,
                b,
                prompts,
                runs,
                max_tokens,
                temperatures,
                lambda d, t, r: self.lab_progress.emit("compare", d, t, r),
            ),
        )

    def _lab(self, kind: str, coro: Coroutine[Any, Any, tuple[Any, Any]]) -> bool:
        if self.service is None or self.service.lab.running is not None or self._lab_task is not None:
            coro.close()
            self._core.notice.emit(
                "warning", "A Lab experiment is already running: stop it or wait until it ends."
            )
            return False

        async def go() -> None:
            try:
                result, path = await coro
            except asyncio.CancelledError:
                self.lab_ended.emit(kind, "")
            except Exception as exc:
                log.warning("lab %s failed: %s", kind, exc)
                self.lab_ended.emit(kind, str(exc))
            else:
                self.lab_finished.emit(kind, result, str(path))
            finally:
                self._lab_task = None

        self._lab_task = self._core.spawn(go())
        return True

    def stop_lab(self) -> None:
        """Stop the running experiment (its faults are lifted, nothing is saved)."""
        if self._lab_task is not None:
            self._lab_task.cancel()

    # --- defaults and saved results ------------------------------------------------------------

    def lab_default_targets(self) -> list[str]:
        return self.service.lab.default_targets() if self.service else []

    def lab_history(self, done: Callable[[list[Any]], None]) -> None:
        """Saved Lab results, newest first (read in a thread)."""
        if self.service is not None:
            self._core.run_blocking(self.service.lab.history, done, "reading the Lab's history")

    def slo_views(self, done: Callable[[list[Any]], None]) -> None:
        """Every model's objectives now (evaluated off the GUI thread by the service)."""
        service = self.service
        if service is None:
            return

        async def go() -> None:
            try:
                views = await service.slo_views()
            except Exception as exc:  # a view that cannot be built must not stop the page
                log.warning("reading the objectives failed: %s", exc)
                return
            done(views)

        self._core.spawn(go())

    def lab_open(self, path: str, done: Callable[[Any], None]) -> None:
        """A saved Lab result (read in a thread; an unreadable file becomes a notice)."""
        if self.service is not None:
            lab = self.service.lab
            self._core.run_blocking(lambda: lab.open(Path(path)), done, "opening the Lab result")
