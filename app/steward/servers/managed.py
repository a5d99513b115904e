"""One managed server: start, wait until ready, watch, restart on crash, shrink on OOM, stop.

States: starting → (loading) → ready; an unexpected exit is `crashed`, then `restarting`
after a backoff, or `failed` once more than `max_restarts` crashes fall in the crash window
(the failure event carries the last log lines). A llama-server that dies with an
out-of-memory signature restarts at half the context until the floor. Every change is a
`ServerStateChanged` event; `status()` is the snapshot the UI polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from steward.engine.clock import Clock, SystemClock, wait_for, wall_time
from steward.logs import redact
from steward.servers.events import ServerEventSink, ServerOomRecovery, ServerState, ServerStateChanged
from steward.servers.logbuffer import LogLine, LogRing, RotatingLog
from steward.servers.oom import oom_signature, shrink_for_oom
from steward.servers.pidfile import PidFiles, PidRecord
from steward.servers.policy import SupervisorPolicy
from steward.servers.ports import PortInUse, check_port, pick_free_port
from steward.servers.process import ChildProcess
from steward.servers.profiles import LlamaServerProfile, ServerProfile

log = logging.getLogger(__name__)
_SETTLED = (ServerState.READY, ServerState.FAILED, ServerState.STOPPED)


@dataclass(frozen=True)
class ServerStatus:
    """A snapshot of one managed server."""

    name: str
    kind: str
    state: ServerState
    pid: int | None
    port: int | None
    base_url: str | None
    uptime_s: float | None
    restarts: int
    ctx_size: int | None
    model: str | None
    detail: str
    last_exit: str = ""
    """Why the process last ended on its own and what followed, in words ("killed by SIGKILL,
    restarted in 1.1 s"); empty until it first exits unexpectedly."""


def _exit_detail(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class ManagedServer:
    """Supervises one profile's process. Create through `Supervisor`, which shares the pieces."""

    def __init__(
        self,
        profile: ServerProfile,
        *,
        policy: SupervisorPolicy,
        pidfiles: PidFiles,
        log_dir: Path,
        clock: Clock | None = None,
        on_event: ServerEventSink | None = None,
    ) -> None:
        self._profile = profile
        self._policy = policy
        self._pidfiles = pidfiles
        self._clock = clock or SystemClock()
        self._on_event = on_event
        self._ring = LogRing(policy.log_lines)
        self._file = RotatingLog(
            log_dir / f"{profile.name}.log", policy.log_file_bytes, policy.log_file_backups
        )
        self._state = ServerState.STOPPED
        self._detail = ""
        self._port: int | None = None
        self._child: ChildProcess | None = None
        self._started_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._changed = asyncio.Event()
        self.restarts = 0
        self._last_exit = ""
        self._exit_reason = ""
        self._exited_at: float | None = None

    # ---- observation -------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._profile.name

    @property
    def profile(self) -> ServerProfile:
        """The profile in use now (OOM recovery may have shrunk it)."""
        return self._profile

    @property
    def state(self) -> ServerState:
        return self._state

    @property
    def base_url(self) -> str | None:
        return f"http://{self._profile.host}:{self._port}" if self._port else None

    def status(self) -> ServerStatus:
        running = self._child is not None and self._child.returncode is None
        profile = self._profile
        return ServerStatus(
            name=profile.name,
            kind=profile.kind,
            state=self._state,
            pid=self._child.pid if running and self._child else None,
            port=self._port,
            base_url=self.base_url,
            uptime_s=self._clock.now() - self._started_at
            if running and self._started_at is not None
            else None,
            restarts=self.restarts,
            ctx_size=profile.ctx_size if isinstance(profile, LlamaServerProfile) else None,
            model=_model_of(profile),
            detail=self._detail,
            last_exit=self._last_exit,
        )

    def log_tail(self, count: int | None = None) -> list[LogLine]:
        """The newest `count` output lines (all held lines when None)."""
        return self._ring.tail(count)

    async def wait_state(self, *states: ServerState, timeout: float | None = None) -> ServerStatus:
        """Wait (at most `timeout` clock seconds) until the state is one of `states`."""

        async def waiter() -> None:
            while self._state not in states:
                await self._changed.wait()

        await wait_for(self._clock, asyncio.ensure_future(waiter()), timeout)
        return self.status()

    # ---- control -----------------------------------------------------------------------------------

    async def start(self, *, wait: bool = True) -> ServerStatus:
        """Start supervising; with `wait`, return once ready, failed or stopped.

        Raises `PortInUse` (naming the holder) when the port is taken before anything starts.
        """
        if self._task is not None and not self._task.done():
            return await self.wait_state(*_SETTLED) if wait else self.status()
        port = self._port or self._profile.port or pick_free_port(self._profile.host)
        check_port(self._profile.host, port)
        self._port = port
        self._stopping = False
        self._task = asyncio.create_task(self._lifecycle(), name=f"steward-server-{self.name}")
        return await self.wait_state(*_SETTLED) if wait else self.status()

    async def stop(self) -> ServerStatus:
        """Stop the process (SIGTERM to its group, SIGKILL after the grace) and supervision."""
        self._stopping = True
        self._exited_at = None  # a start after a stop is not a restart after an exit
        task, self._task = self._task, None
        child = self._child
        if child is not None and child.returncode is None:
            await child.stop(self._clock, self._policy.grace_s)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._child is not None and self._child.returncode is None:  # spawned while we stopped
            await self._child.stop(self._clock, self._policy.grace_s)
        self._pidfiles.remove(self.name)
        if self._state != ServerState.STOPPED:
            self._set(ServerState.STOPPED, "stopped")
        self._file.close()
        return self.status()

    async def restart(self, profile: ServerProfile | None = None, *, wait: bool = True) -> ServerStatus:
        """Stop, optionally switch to `profile` (same name), and start again on the same port."""
        await self.stop()
        if profile is not None:
            if profile.port and profile.port != self._port:
                self._port = None
            self._profile = profile
        return await self.start(wait=wait)

    async def restart_for(self, reason: str) -> ServerStatus:
        """Restart a running server that stopped answering though its process lives (its inference
        canary failed): logged, announced as `restarting` with `reason`, counted in `restarts` and
        kept as the last exit ("restarted: canary failed 3× in a row: …") for the Servers page."""
        self.restarts += 1
        self._note_exit(f"restarted: {reason}")
        self._set(ServerState.RESTARTING, reason)
        return await self.restart()

    # ---- the supervision loop ----------------------------------------------------------------------

    async def _lifecycle(self) -> None:
        crashes: deque[float] = deque()
        while not self._stopping:
            mark = self._ring.seq
            detail = await self._run_once()
            if self._stopping:
                return
            lines = self._ring.texts_since(mark)
            tail = tuple(lines[-self._policy.log_tail_lines :])
            self._exit_reason, self._exited_at = detail, self._clock.now()
            self._set(ServerState.CRASHED, detail, tail)
            signature = oom_signature(lines) if isinstance(self._profile, LlamaServerProfile) else None
            if signature is not None and isinstance(self._profile, LlamaServerProfile):
                if not self._shrink(signature, tail):
                    return
                delay = self._policy.backoff(1)
            else:
                now = self._clock.now()
                crashes.append(now)
                while crashes and crashes[0] < now - self._policy.crash_window_s:
                    crashes.popleft()
                if len(crashes) > self._policy.max_restarts:
                    window = self._policy.crash_window_s
                    gave_up = f"{detail}; crashed {len(crashes)} times in {window:g} s"
                    self._note_exit(f"{gave_up}, not restarted again")
                    self._set(ServerState.FAILED, gave_up, tail)
                    return
                delay = self._policy.backoff(len(crashes))
            self._note_exit(f"{detail}, restarting in {delay:g} s")
            self._set(ServerState.RESTARTING, f"{detail}; restarting in {delay:g} s", tail)
            await self._clock.sleep(delay)
            self.restarts += 1

    def _shrink(self, signature: str, tail: tuple[str, ...]) -> bool:
        """Switch to a smaller profile after an OOM; False (and FAILED) at the floor."""
        profile = self._profile
        assert isinstance(profile, LlamaServerProfile)
        smaller = shrink_for_oom(profile, self._policy.oom_ctx_floor)
        if smaller is None:
            floor = self._policy.oom_ctx_floor
            self._set(
                ServerState.FAILED,
                f"out of memory at context {profile.ctx_size}; not going below {floor}: {signature}",
                tail,
            )
            return False
        self._emit(
            ServerOomRecovery(
                wall_time(),
                None,
                profile.name,
                profile.ctx_size,
                smaller.ctx_size,
                profile.gpu_layers,
                smaller.gpu_layers,
                signature,
            )
        )
        self._profile = smaller
        return True

    async def _run_once(self) -> str:
        """Run the process once; the reason it ended (only meaningful if not stopping)."""
        port = self._port
        assert port is not None
        self._set(ServerState.STARTING, f"port {port}")
        try:
            check_port(self._profile.host, port)
            argv = self._profile.argv(port)
            child = await ChildProcess.spawn(argv, self._profile.environment(port), self._on_line)
        except (PortInUse, OSError) as exc:
            self._on_line("steward", str(exc))
            return f"could not start: {exc}"
        self._child, self._started_at = child, self._clock.now()
        self._pidfiles.write(PidRecord.for_child(self.name, child.pid, argv))
        exit_task = asyncio.ensure_future(child.wait())
        try:
            outcome = await self._await_ready(exit_task)
            if outcome == "timeout":
                await child.stop(self._clock, self._policy.grace_s)
                return f"not ready within {self._policy.ready_timeout_s:g} s"
            if outcome == "ready":
                ready = f"pid {child.pid}, port {port}"
                if self._exited_at is not None:
                    took = self._clock.now() - self._exited_at
                    self._exited_at = None
                    self._note_exit(f"{self._exit_reason}, restarted in {took:.1f} s")
                    ready += f"; {self._last_exit}"
                self._set(ServerState.READY, ready)
            code = await exit_task
            return _exit_detail(code)
        finally:
            if exit_task.done():
                self._pidfiles.remove(self.name)

    async def _await_ready(self, exit_task: asyncio.Future[int]) -> str:
        """'ready', 'exited' or 'timeout', polling the health endpoint until one happens."""
        deadline = self._clock.now() + self._policy.ready_timeout_s
        url = f"{self.base_url}{self._profile.health_path}"
        timeout = httpx.Timeout(self._policy.health_request_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            while True:
                if exit_task.done():
                    return "exited"
                health = await self._health(client, url)
                if health == "ok":
                    return "ready"
                if health == "loading" and self._state != ServerState.LOADING:
                    self._set(ServerState.LOADING, "loading model")
                if self._clock.now() >= deadline:
                    return "timeout"
                pause: asyncio.Future[object] = asyncio.ensure_future(
                    self._clock.sleep(self._policy.health_interval_s)
                )
                watched: set[asyncio.Future[object]] = {pause, exit_task}  # type: ignore[arg-type]
                await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
                pause.cancel()

    @staticmethod
    async def _health(client: httpx.AsyncClient, url: str) -> str:
        try:
            response = await client.get(url)
        except httpx.HTTPError:
            return "down"
        if response.status_code == 200:
            return "ok"
        return "loading" if response.status_code == 503 else "down"

    # ---- plumbing ----------------------------------------------------------------------------------

    def _note_exit(self, text: str) -> None:
        """Remember why the process last ended (shown in the Servers page's row) and log it."""
        self._last_exit = text
        self._on_line("steward", f"[steward] {self.name} {text}")
        log.warning("managed server %s %s", self.name, text)

    def _on_line(self, stream: str, text: str) -> None:
        clean = redact(text)
        self._ring.add(LogLine(wall_time(), stream, clean))
        self._file.write(clean)

    def _set(self, state: ServerState, detail: str = "", tail: tuple[str, ...] = ()) -> None:
        previous, self._state, self._detail = self._state, state, detail
        status = self.status()
        self._emit(
            ServerStateChanged(
                wall_time(),
                None,
                self.name,
                state.value,
                previous.value,
                status.pid,
                self._port,
                self.restarts,
                detail,
                tail,
            )
        )
        self._changed.set()
        self._changed = asyncio.Event()

    def _emit(self, event: ServerStateChanged | ServerOomRecovery) -> None:
        if self._on_event is not None:
            self._on_event(event)


def with_model(profile: LlamaServerProfile, model: Path) -> LlamaServerProfile:
    """`profile` serving another model file (for llama-server, the model is the process)."""
    return replace(profile, model=model)


def _model_of(profile: ServerProfile) -> str | None:
    """The model file a llama-server serves, or its models folder (preset) when it is a router."""
    if not isinstance(profile, LlamaServerProfile):
        return None
    return str(profile.model or profile.models_dir or profile.models_preset or "") or None
