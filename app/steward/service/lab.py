"""`LabActions`: the Lab's experiments as the desktop app runs them (`service.lab`).

One experiment at a time — a drill and a comparison both send real requests to the same servers,
so two at once would measure each other; a second start is refused with `LabBusy`. Cancelling
the running task (the page's Stop) ends it cleanly: the drill's own engine lifts every fault and
closes (`run_drill`'s and `drill_engine`'s cleanup), nothing is saved, and the next run may
start at once. Finished results are kept as JSON in the Lab's folder (`<data dir>/lab/`, where
`steward drill` and `steward compare` keep theirs too); `history()` lists them, newest first, a
file that cannot be read listed as unreadable with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from steward.backends.faults import FaultKind
from steward.config import Settings
from steward.engine.snapshot import EngineSnapshot
from steward.lab.compare import Asker, ComparisonResult, Run, Side, run_comparison
from steward.lab.drill import DrillReport, ScenarioResult, choose_targets, run_drill
from steward.lab.saved import LabResult, UnreadableResult, kind_of, load_result
from steward.paths import data_dir
from steward.service.drill_host import DrillEngine

log = logging.getLogger(__name__)

DEFAULT_RECOVER_LIMIT_S = 30.0
HISTORY_LIMIT = 200


class LabBusy(RuntimeError):
    """Another Lab experiment is running (the message says which)."""


class LabHost(Asker, Protocol):
    """What the Lab needs of `StewardService`."""

    @property
    def settings(self) -> Settings: ...

    def snapshot(self) -> EngineSnapshot: ...

    def drill_engine(self) -> AbstractAsyncContextManager[DrillEngine]: ...


@dataclass(frozen=True)
class LabEntry:
    """One saved result in the history: its file, kind, when, and a one-line title (for an
    unreadable file, the reason instead, and `readable` False)."""

    path: Path
    kind: str
    started_at: float
    title: str
    readable: bool = True


def lab_folder() -> Path:
    return data_dir() / "lab"


def title_of(result: LabResult) -> str:
    """The line the history shows for a result: the drill's summary, the comparison's sides and headline."""
    if isinstance(result, DrillReport):
        return result.summary()
    headline = result.verdict[0] if result.verdict else ""
    return f"{result.a.model} vs {result.b.model}: {headline}"


class LabActions:
    """Run the drill and A/B comparisons through the service, one at a time; keep and list results."""

    def __init__(self, host: LabHost, folder: Callable[[], Path] = lab_folder) -> None:
        self._host = host
        self._folder = folder
        self._running: str | None = None

    @property
    def folder(self) -> Path:
        return self._folder()

    @property
    def running(self) -> str | None:
        """ "drill" or "compare" while one runs, else None."""
        return self._running

    def known_models(self) -> list[str]:
        return sorted(m.key for m in self._host.snapshot().models)

    def default_targets(self) -> list[str]:
        """The models a drill fails unless the user picks others (see `choose_targets`)."""
        routing = self._host.settings.routing
        return choose_targets(routing.fallback_chain, routing.default_model, self.known_models())

    @asynccontextmanager
    async def _exclusive(self, kind: str) -> AsyncIterator[None]:
        if self._running is not None:
            raise LabBusy(f"a {self._running} is already running: stop it or wait until it ends")
        self._running = kind
        try:
            yield
        finally:
            self._running = None

    def _check_models(self, keys: Sequence[str]) -> None:
        known = self.known_models()
        unknown = [key for key in keys if key not in known]
        if unknown:
            shown = ", ".join(known) or "none (is a server running?)"
            raise ValueError(f"unknown model {', '.join(unknown)}; known models: {shown}")

    async def run_drill(
        self,
        targets: Sequence[str],
        faults: Sequence[FaultKind],
        on_progress: Callable[[int, int, ScenarioResult], None] | None = None,
        *,
        recover_limit_s: float = DEFAULT_RECOVER_LIMIT_S,
        trickle_s: float = 0.5,
    ) -> tuple[DrillReport, Path]:
        """Run the failover drill on `targets` × `faults`; the report and the file it was saved to.

        Raises LabBusy while another experiment runs, ValueError for no/unknown targets or faults.
        """
        async with self._exclusive("drill"):
            if not targets or not faults:
                raise ValueError("a drill needs at least one model and one fault")
            self._check_models(targets)
            async with self._host.drill_engine() as host:
                report = await run_drill(
                    host,
                    list(targets),
                    list(faults),
                    recover_limit_s=recover_limit_s,
                    trickle_s=trickle_s,
                    on_progress=on_progress,
                )
            return report, await asyncio.to_thread(report.save, self.folder)

    async def run_compare(
        self,
        a: str,
        b: str,
        prompts: Sequence[str],
        runs: int,
        max_tokens: int,
        temperatures: tuple[float | None, float | None] = (None, None),
        on_progress: Callable[[int, int, Run], None] | None = None,
    ) -> tuple[ComparisonResult, Path]:
        """Compare model `a` with `b` (optionally each at its own temperature) on `prompts`, `runs`
        times each, interleaved; the result and the file it was saved to."""
        async with self._exclusive("compare"):
            if runs < 1 or not prompts:
                raise ValueError("a comparison needs at least one prompt and one run")
            if max_tokens < 1:
                raise ValueError("a comparison needs at least one token per answer")
            self._check_models([a, b])
            result = await run_comparison(
                self._host,
                Side("A", a, temperatures[0]),
                Side("B", b, temperatures[1]),
                list(prompts),
                runs,
                max_tokens,
                on_progress,
            )
            return result, await asyncio.to_thread(result.save, self.folder)

    def history(self, limit: int = HISTORY_LIMIT) -> list[LabEntry]:
        """Saved results, newest first (reads files: call it off the GUI thread)."""
        folder = self.folder
        try:
            files = [p for p in folder.iterdir() if p.suffix == ".json" and p.is_file()]
        except OSError:
            return []
        files.sort(key=_mtime, reverse=True)
        entries = []
        for path in files[:limit]:
            try:
                result = load_result(path)
            except UnreadableResult as exc:
                entries.append(LabEntry(path, kind_of(path), _mtime(path), f"unreadable: {exc}", False))
                continue
            kind = "drill" if isinstance(result, DrillReport) else "compare"
            entries.append(LabEntry(path, kind, result.started_at or _mtime(path), title_of(result)))
        entries.sort(key=lambda e: e.started_at, reverse=True)
        return entries

    @staticmethod
    def open(path: Path) -> LabResult:
        """A saved result (raises UnreadableResult with the reason)."""
        return load_result(path)


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return time.time()
