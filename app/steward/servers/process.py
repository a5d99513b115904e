"""One child process: started from an argument list in its own process group, output pumped
line by line to a callback, stopped with SIGTERM to the whole group then SIGKILL after a grace.

Its own session/process group means a server's helpers die with it and a Ctrl+C in
Steward's terminal does not hit the server first (Steward stops it in order).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping

from steward.engine.clock import Clock, ClockTimeout, wait_for

LineSink = Callable[[str, str], None]
"""Called with (stream name, line text) for every output line."""

_PUMP_DRAIN_S = 1.0


class ChildProcess:
    """A started child; `wait()` returns its exit code once its output is drained."""

    def __init__(self, proc: asyncio.subprocess.Process, pumps: list[asyncio.Task[None]]) -> None:
        self._proc = proc
        self._pumps = pumps

    @classmethod
    async def spawn(cls, argv: list[str], env: Mapping[str, str], on_line: LineSink) -> ChildProcess:
        """Start `argv` (no shell) with `env` added to this environment, in a new session."""
        environment = {**os.environ, **env}
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment,
            start_new_session=True,
        )
        assert proc.stdout is not None and proc.stderr is not None
        pumps = [
            asyncio.create_task(_pump(proc.stdout, "stdout", on_line)),
            asyncio.create_task(_pump(proc.stderr, "stderr", on_line)),
        ]
        return cls(proc, pumps)

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    async def wait(self) -> int:
        """The exit code (negative = killed by that signal), after the last output line was seen."""
        code = await self._proc.wait()
        # A grandchild that inherited the pipes could keep them open forever: drain briefly.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_PUMP_DRAIN_S):
                await asyncio.gather(*self._pumps, return_exceptions=True)
        for pump in self._pumps:
            pump.cancel()
        return code

    def signal_group(self, sig: signal.Signals) -> None:
        """Send `sig` to the child's process group (the child leads it); ignore if it is gone."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    async def stop(self, clock: Clock, grace_s: float) -> int:
        """SIGTERM the group, SIGKILL it if the child outlives `grace_s`; the exit code."""
        if self._proc.returncode is None:
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(ClockTimeout):
                await wait_for(clock, asyncio.ensure_future(self._proc.wait()), grace_s)
        # Kill what is left of the group too (helpers that ignored SIGTERM).
        self.signal_group(signal.SIGKILL)
        return await self.wait()


async def _pump(stream: asyncio.StreamReader, name: str, on_line: LineSink) -> None:
    while True:
        try:
            raw = await stream.readline()
        except ValueError:  # a line longer than the reader's limit: take what is buffered
            raw = await stream.read(65536)
        if not raw:
            return
        on_line(name, raw.decode("utf-8", "replace").rstrip("\r\n"))
