"""The chaos schedule: which fault the primary suffers, for how long, and when it cleared.

Every fault but one is played by the `FaultProxy` in front of the primary llama-server; `sigkill` is real:
the primary process is killed with SIGKILL and Steward's own `Supervisor` restarts it (the fault "clears"
when the supervisor reports it ready again). Kinds are drawn round-robin from a seeded shuffle, so a run of
any length meets each kind about equally often, and the same seed replays the same schedule.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from steward.servers.events import ServerState
from steward.servers.managed import ManagedServer
from tests.support.fault_proxy import (
    Down,
    Fault,
    FaultProxy,
    LimitData,
    ResetPeer,
    Respond,
    Timeout,
    http_reply,
)

LOOPS = (("Hello", "!", " "), ("<|im_end|>",), ("I am stuck in a loop. ",), ("Hello! ",))
"""What the looping server repeats, in turn, one SSE event per piece: a short phrase split into tokens as a
model streams it, Gemma base's real endless `<|im_end|>`, a sentence, and the short phrase whole."""
LOOP_PHRASES = tuple("".join(pieces) for pieces in LOOPS)
PARTIAL_MARK = "chaos-partial "
"""Text the broken server sends before its error event; it must never end up in an answer."""


def poisoned(text: str) -> bool:
    """An answer carrying the broken server's text: a loop (three repeats or more) or the partial."""
    return PARTIAL_MARK.strip() in text or any(phrase * 3 in text for phrase in LOOP_PHRASES)


_SSE_HEAD = http_reply(b"", content_type="text/event-stream", length=False)


def _sse(payload: object) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def _delta(text: str) -> bytes:
    return _sse({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]})


_ERROR_BODY = {
    "error": {"code": 500, "message": "chaos: internal failure inside a 200", "type": "server_error"}
}
_LOADING = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
_ERROR_EVENT = {"error": {"code": 500, "message": "chaos: error event mid-stream", "type": "server_error"}}


def _garbage(rng: random.Random, n: int) -> Fault:
    """Random bytes; half the time ending like an HTTP head, so the client parses it instead of waiting."""
    junk = rng.randbytes(rng.randint(16, 400))
    return Respond(junk + b"\r\n\r\n" if rng.random() < 0.5 else junk)


FAULTS: dict[str, Callable[[random.Random, int], Fault | None]] = {
    # Each builds the fault for the n-th time its kind comes up (0, 1, ...).
    "refuse": lambda rng, n: Down(),
    "hang": lambda rng, n: Timeout(),
    "cut_mid_stream": lambda rng, n: LimitData(rng.randint(300, 1500)),
    "tcp_reset": lambda rng, n: ResetPeer(after_ms=rng.uniform(0, 300)),
    "garbage": _garbage,
    "http200_error_body": lambda rng, n: Respond(http_reply(json.dumps(_ERROR_BODY).encode())),
    "sse_error_event": lambda rng, n: Respond(
        _SSE_HEAD + _delta(PARTIAL_MARK) + _delta(PARTIAL_MARK) + _sse(_ERROR_EVENT)
    ),
    "degenerate_loop": lambda rng, n: Respond(
        _SSE_HEAD, repeat=b"".join(_delta(piece) for piece in LOOPS[n % len(LOOPS)]), every_ms=5
    ),
    "sigkill": lambda rng, n: None,  # not a proxy fault: the process dies (see `Chaos._sigkill`)
    # What llama-server answers while a big model loads after a restart. Before abbf280 a request waited
    # for it (up to model_loading_wait_s, or died at its deadline) though the fallback could answer.
    "slow_load": lambda rng, n: Respond(http_reply(json.dumps(_LOADING).encode(), status=503)),
}
DEFAULT_KINDS = tuple(FAULTS)


def describe(fault: Fault) -> str:
    """One readable line for the fault log (a Respond says what it answers, not its raw bytes)."""
    if not isinstance(fault, Respond):
        return repr(fault)
    if fault.repeat:
        events = [e.removeprefix("data: ") for e in fault.repeat.decode().split("\n\n") if e]
        pieces = [json.loads(e)["choices"][0]["delta"]["content"] for e in events]
        return f"endless SSE stream repeating {pieces!r} (one event per piece)"
    head, _, body = fault.data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/"):
        ending = " ending in CRLFCRLF" if fault.data.endswith(b"\r\n\r\n") else ""
        return f"{len(fault.data)} garbage bytes{ending}"
    status = head.split(b"\r\n", 1)[0].decode()
    return f"{status}: {' '.join(body.decode(errors='replace').split())[:150]}"


@dataclass
class FaultWindow:
    """One fault: when it started and cleared, and how long the primary took to answer again."""

    kind: str
    detail: str
    started: float
    cleared: float | None = None
    restart_s: float | None = None
    """sigkill only: from the kill until the supervisor had the server ready again."""
    recovery_s: float | None = None
    """From the clear until a request started after it was answered by the primary."""
    censored: bool = False
    """The next fault began before the primary answered again (no recovery time measured)."""
    requests: int = 0
    """Requests started while it was active."""
    poisoned: int = 0
    """Of those, answered with the broken server's text."""


@dataclass
class Chaos:
    """Runs the schedule until `stop` is set, then clears every fault."""

    proxy: FaultProxy
    primary: ManagedServer
    rng: random.Random
    hold_s: tuple[float, float]
    calm_s: tuple[float, float]
    kinds: tuple[str, ...] = DEFAULT_KINDS
    min_hold_s: dict[str, float] = field(default_factory=dict)
    """Per kind, the shortest time it lasts (a hang must outlast the first-token timeout to be one)."""
    windows: list[FaultWindow] = field(default_factory=list)
    current: str = "none"
    active: FaultWindow | None = None
    last_cleared: tuple[str, float] = ("start", 0.0)
    """The kind that cleared last and when (monotonic): calm-phase failures are its aftermath."""
    _awaiting: FaultWindow | None = None
    _deck: list[str] = field(default_factory=list)
    _seen: dict[str, int] = field(default_factory=dict)

    def next_kind(self) -> str:
        if not self._deck:
            self._deck = list(self.kinds)
            self.rng.shuffle(self._deck)
        return self._deck.pop()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not await _wait(stop, self.rng.uniform(*self.calm_s)):
                kind = self.next_kind()
                if self._awaiting is not None:  # never answered again before this fault
                    self._awaiting.censored = True
                    self._awaiting = None
                window = FaultWindow(kind, "", time.monotonic())
                self.windows.append(window)
                self.current, self.active = kind, window
                if kind == "sigkill":
                    await self._sigkill(window)
                else:
                    fault = FAULTS[kind](self.rng, self._seen.get(kind, 0))
                    self._seen[kind] = self._seen.get(kind, 0) + 1
                    assert fault is not None
                    window.detail = describe(fault)
                    await asyncio.to_thread(self.proxy.set_fault, fault)
                    hold = max(self.rng.uniform(*self.hold_s), self.min_hold_s.get(kind, 0.0))
                    await _wait(stop, hold)
                    await asyncio.to_thread(self.proxy.clear)
                window.cleared = time.monotonic()
                self.current, self.active = "none", None
                self.last_cleared = (kind, window.cleared)
                self._awaiting = window
        finally:
            await asyncio.to_thread(self.proxy.clear)
            self.current, self.active = "none", None

    async def _sigkill(self, window: FaultWindow) -> None:
        """Kill the primary llama-server outright; the supervisor must bring it back on the same port."""
        before = self.primary.status()
        assert before.pid is not None and before.state is ServerState.READY, before
        window.detail = f"SIGKILL pid {before.pid}"
        os.kill(before.pid, signal.SIGKILL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            now = self.primary.status()
            if now.state is ServerState.READY and now.pid not in (None, before.pid):
                window.restart_s = time.monotonic() - window.started
                window.detail += f" -> restarted as pid {now.pid}"
                return
            if now.state is ServerState.FAILED:
                raise AssertionError(f"the supervisor gave up on the primary: {now.detail}")
            await asyncio.sleep(0.05)
        raise AssertionError(f"the supervisor did not restart the primary in 90 s: {self.primary.status()}")

    def primary_answered(self, request_started: float, answered_at: float) -> None:
        """A request answered by the primary: the first one started after a clear ends that recovery."""
        window = self._awaiting
        if window is not None and window.cleared is not None and request_started >= window.cleared:
            window.recovery_s = answered_at - window.cleared
            self._awaiting = None


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` or until `stop` is set; True when stopped."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
