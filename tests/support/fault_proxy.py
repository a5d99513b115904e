"""A Toxiproxy-style TCP fault-injection proxy for tests.

`FaultProxy` listens on a free 127.0.0.1 port and forwards every connection to an upstream host:port, shaping
the traffic with the active faults. It runs its own asyncio loop in a daemon thread, so the same proxy serves
sync tests, pytest-asyncio tests (each with its own loop) and Qt tests; every public method is thread-safe and
may be called from any thread except the proxy's own loop thread.

Faults shape DOWNSTREAM data (upstream -> client) unless said otherwise. Which connections they touch:

- `Latency`, `Slicer`, `Bandwidth`: new AND existing connections (checked per chunk). Latency is true latency:
  each chunk leaves `ms` (+- jitter) after it arrived, so streams keep their throughput.
- `LimitData`: new AND existing connections; the byte budget counts from the moment `set_fault` was called.
  When spent, exactly the budget is forwarded and both sides are closed (FIN): a mid-stream server crash.
- `Timeout`: new AND existing connections stop forwarding in both directions (data is held, not dropped) and
  nothing is closed; new connections are accepted but not connected upstream. Clearing it resumes forwarding.
  With `close_after_ms` a stalled connection is closed after that long.
- `ResetPeer`: new connections are reset (RST via SO_LINGER 0) `after_ms` after accept (forwarding normally
  until then; with 0 they never reach upstream); existing connections are reset `after_ms` after the switch.
- `Down`: the listening socket is closed, so clients get ECONNREFUSED; existing connections are closed too
  (a dead server) unless `close_existing=False`. Any later `set_fault`/`clear` without `Down` listens again
  on the SAME port.
- `Respond`: new connections never reach upstream; once the client's request has arrived (for HTTP: its head
  and Content-Length body) the proxy answers with canned `data`, then `repeat` again and again (`every_ms`
  apart) until the client goes, then closes (FIN). A broken server: garbage instead of HTTP, a 200 carrying
  an error, an SSE stream that loops forever. Existing connections are closed at the switch (the server
  process was replaced) unless `close_existing=False`. The client's bytes are read and dropped throughout,
  so closing never turns into an RST.
- `OnPaths`: a fault for some HTTP paths only. A NEW connection's first request line is read; if its path
  (query ignored) is one of `paths`, `fault` applies to that connection: `Timeout` holds the request
  unanswered (until the client goes, or the fault is cleared: then it is forwarded), `Respond` answers it
  with canned bytes. Every other connection is forwarded untouched, so `/health` and `/v1/models` answer
  while completions hang or fail: a wedged server. Decided per connection, by its first request: Steward's
  backends stream completions on their own connection pool, apart from health probes and model lists.

Counters tell tests what happened: `connections_accepted`, `active_connections`, `bytes_up`, `bytes_down`
(bytes actually forwarded), `connections_answered` (connections a `Respond` answered) and `closed_by_client` (connections whose client closed or reset its socket first;
the proxy then closes the upstream side too). Jitter and slice sizes come from a seeded `random.Random`.
"""

from __future__ import annotations

import asyncio
import random
import re
import socket
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

_T = TypeVar("_T")
_F = TypeVar("_F")
_READ_SIZE = 65536
_EOF = b""
_HTTP_HEAD = re.compile(rb"[A-Z]{3,7} ")


@dataclass(frozen=True)
class Latency:
    """Delay each downstream chunk by `ms` plus a uniform jitter in [-jitter_ms, +jitter_ms]."""

    ms: float
    jitter_ms: float = 0.0


@dataclass(frozen=True)
class Down:
    """Stop listening (clients get ECONNREFUSED); optionally keep existing connections alive."""

    close_existing: bool = True


@dataclass(frozen=True)
class Timeout:
    """Accept but forward nothing; never close, or close a stalled connection after `close_after_ms`."""

    close_after_ms: float | None = None


@dataclass(frozen=True)
class ResetPeer:
    """Reset connections with a TCP RST, `after_ms` after accept (new) or after the switch (existing)."""

    after_ms: float = 0.0


@dataclass(frozen=True)
class Slicer:
    """Split downstream data into pieces of about `avg_size` bytes, `delay_ms` apart."""

    avg_size: int
    delay_ms: float = 0.0
    size_variation: int = 0


@dataclass(frozen=True)
class LimitData:
    """Forward at most `n_bytes` downstream (counted from the switch), then close both sides."""

    n_bytes: int


@dataclass(frozen=True)
class Bandwidth:
    """Cap downstream throughput at `bytes_per_s`."""

    bytes_per_s: int


@dataclass(frozen=True)
class Respond:
    """Answer each new connection with `data` (then `repeat` every `every_ms` until the client goes)."""

    data: bytes
    repeat: bytes = b""
    every_ms: float = 0.0
    close_existing: bool = True


@dataclass(frozen=True)
class OnPaths:
    """Apply `fault` only to connections whose first HTTP request is for one of `paths` (see the module doc)."""

    paths: tuple[str, ...]
    fault: Timeout | Respond


Fault = Latency | Down | Timeout | ResetPeer | Slicer | LimitData | Bandwidth | Respond | OnPaths


def http_reply(
    body: bytes, *, status: int = 200, content_type: str = "application/json", length: bool = True
) -> bytes:
    """A whole HTTP/1.1 response for `Respond` (Connection: close). Without `length` the body has no
    Content-Length and runs until the connection closes, as an event stream does."""
    head = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}", f"Content-Type: {content_type}"]
    if length:
        head.append(f"Content-Length: {len(body)}")
    head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass(eq=False)
class _Conn:
    """One proxied connection; lives on the proxy loop only."""

    client_reader: asyncio.StreamReader
    client_writer: asyncio.StreamWriter
    done: asyncio.Event = field(default_factory=asyncio.Event)
    up_queue: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    down_queue: asyncio.Queue[tuple[float, bytes]] = field(default_factory=asyncio.Queue)
    upstream_writer: asyncio.StreamWriter | None = None
    bytes_down: int = 0
    limit_baseline: int = 0
    generation_seen: int = -1
    finished: bool = False
    was_reset: bool = False
    canned: bool = False

    def finish(self) -> None:
        self.finished = True
        self.done.set()


class FaultProxy:
    """TCP proxy in front of `upstream_host:upstream_port` with switchable faults (see module docstring)."""

    def __init__(
        self, upstream_host: str, upstream_port: int, *, seed: int = 0, listen_port: int = 0
    ) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._rng = random.Random(seed)
        self._lock = threading.Condition()
        self._faults: tuple[Fault, ...] = ()
        self._generation = 0
        self._port = listen_port  # 0 = a free one
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._changed: asyncio.Event | None = None
        self._conns: dict[_Conn, asyncio.Task[None] | None] = {}
        self._closing = False
        self._accepted = 0
        self._active = 0
        self._bytes_up = 0
        self._bytes_down = 0
        self._closed_by_client = 0
        self._answered = 0

    # ---- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Start the loop thread and listen on a free 127.0.0.1 port; returns self."""
        if self._thread is not None:
            raise RuntimeError("FaultProxy already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="FaultProxy", daemon=True)
        self._thread.start()
        self._call(self._setup())
        return self

    def stop(self) -> None:
        """Close the listener and every connection, then stop the loop thread. Idempotent."""
        if self._thread is None or self._loop is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
        self._thread = None
        self._loop = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- configuration ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def upstream(self) -> tuple[str, int]:
        with self._lock:
            return self._upstream

    def set_upstream(self, host: str, port: int) -> None:
        """Send NEW connections to another upstream; existing ones keep theirs."""
        with self._lock:
            self._upstream = (host, port)

    @property
    def faults(self) -> tuple[Fault, ...]:
        with self._lock:
            return self._faults

    def set_fault(self, *faults: Fault) -> None:
        """Replace the active faults with `faults` (may combine several); takes effect before returning."""
        self._call(self._apply(tuple(faults)))

    def clear(self) -> None:
        """Remove every fault; a `Down` proxy listens again on the same port."""
        self.set_fault()

    # ---- counters --------------------------------------------------------------------------------------

    @property
    def connections_accepted(self) -> int:
        with self._lock:
            return self._accepted

    @property
    def active_connections(self) -> int:
        with self._lock:
            return self._active

    @property
    def bytes_up(self) -> int:
        with self._lock:
            return self._bytes_up

    @property
    def bytes_down(self) -> int:
        with self._lock:
            return self._bytes_down

    @property
    def connections_answered(self) -> int:
        """Connections a `Respond` fault answered with its canned bytes."""
        with self._lock:
            return self._answered

    @property
    def closed_by_client(self) -> int:
        with self._lock:
            return self._closed_by_client

    def wait_for_closed(self, n: int, timeout: float) -> bool:
        """Block until at least `n` connections were closed by their client; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._closed_by_client >= n, timeout)

    async def wait_for_closed_async(self, n: int, wait_s: float) -> bool:
        """`wait_for_closed` for async tests: waits in a worker thread so the caller's loop keeps running."""
        return await asyncio.to_thread(self.wait_for_closed, n, wait_s)

    def wait_for_connections(self, n: int, timeout: float) -> bool:
        """Block until at least `n` connections were accepted in total; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._accepted >= n, timeout)

    # ---- loop-side internals ---------------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("FaultProxy is not running")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("FaultProxy methods must not be called from its own loop thread")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def _count(self, name: str, delta: int) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + delta)
            self._lock.notify_all()

    def _active_fault(self, kind: type[_F]) -> _F | None:
        with self._lock:
            return next((f for f in self._faults if isinstance(f, kind)), None)

    async def _setup(self) -> None:
        self._changed = asyncio.Event()
        await self._listen()

    async def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        sock.listen(128)
        sock.setblocking(False)
        self._port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._handle, sock=sock)

    async def _apply(self, faults: tuple[Fault, ...]) -> None:
        with self._lock:
            self._faults = faults
            self._generation += 1
        assert self._changed is not None
        self._changed.set()
        self._changed = asyncio.Event()
        down = self._active_fault(Down)
        if down is not None and self._server is not None:
            self._server.close()  # closes the listening socket now: new connects are refused
            self._server = None
            if down.close_existing:
                for conn in list(self._conns):
                    conn.finish()
        elif down is None and self._server is None:
            await self._listen()
        respond = self._active_fault(Respond)
        if respond is not None and respond.close_existing:
            for conn in list(self._conns):
                if not conn.canned:
                    conn.finish()
        reset = self._active_fault(ResetPeer)
        if reset is not None:
            for conn in list(self._conns):
                self._schedule_reset(conn, reset)

    async def _shutdown(self) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
            self._server = None
        await asyncio.sleep(0.02)  # connections accepted but not yet handed to _handle get there and close
        tasks = [t for t in self._conns.values() if t is not None]
        for conn in list(self._conns):
            conn.finish()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=5)

    def _schedule_reset(self, conn: _Conn, reset: ResetPeer) -> None:
        asyncio.get_running_loop().call_later(reset.after_ms / 1000, self._reset_if_still_faulted, conn)

    def _reset_if_still_faulted(self, conn: _Conn) -> None:
        if conn.finished or self._active_fault(ResetPeer) is None:
            return
        conn.was_reset = True
        sock = conn.client_writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.finish()

    async def _wait_while_timeout(self, conn: _Conn) -> None:
        """Return once no `Timeout` is active; finish the connection if its `close_after_ms` elapses."""
        while (fault := self._active_fault(Timeout)) is not None:
            assert self._changed is not None
            wait = self._changed.wait()
            if fault.close_after_ms is None:
                await wait
                continue
            try:
                await asyncio.wait_for(wait, fault.close_after_ms / 1000)
            except TimeoutError:
                conn.finish()
                await asyncio.Event().wait()  # parked until the handler cancels this task

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(reader, writer)
        self._conns[conn] = asyncio.current_task()
        self._count("_accepted", 1)
        self._count("_active", 1)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reset = self._active_fault(ResetPeer)
        down = self._active_fault(Down)
        respond = self._active_fault(Respond)
        tasks: list[asyncio.Task[None]] = []
        try:
            if self._closing or (down is not None and down.close_existing):
                return  # accepted just before the listener closed: the server is gone
            if reset is not None:
                self._schedule_reset(conn, reset)
            if respond is not None and (reset is None or reset.after_ms > 0):
                conn.canned = True
                tasks = [
                    asyncio.create_task(self._client_to_queue(conn)),
                    asyncio.create_task(self._respond(conn, respond)),
                ]
                for task in tasks:
                    task.add_done_callback(lambda _t: conn.finish())
            elif self._active_fault(OnPaths) is not None and (reset is None or reset.after_ms > 0):
                tasks = [
                    asyncio.create_task(self._client_to_queue(conn)),
                    asyncio.create_task(self._by_path(conn)),
                ]
                for task in tasks:
                    task.add_done_callback(lambda _t: conn.finish())
            elif reset is None or reset.after_ms > 0:
                tasks = [
                    asyncio.create_task(self._client_to_queue(conn)),
                    asyncio.create_task(self._upstream_side(conn)),
                    asyncio.create_task(self._queue_to_client(conn)),
                ]
                for task in tasks:
                    task.add_done_callback(lambda _t: conn.finish())
            await conn.done.wait()
        finally:
            conn.finished = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._close(conn)
            del self._conns[conn]
            self._count("_active", -1)

    def _close(self, conn: _Conn) -> None:
        if conn.was_reset:
            conn.client_writer.transport.abort()
            if conn.upstream_writer is not None:
                conn.upstream_writer.transport.abort()
            return
        conn.client_writer.close()
        if conn.upstream_writer is not None:
            conn.upstream_writer.close()

    def _client_gone(self, conn: _Conn) -> None:
        if not conn.finished:
            self._count("_closed_by_client", 1)
            conn.finish()

    async def _client_to_queue(self, conn: _Conn) -> None:
        while True:
            try:
                data = await conn.client_reader.read(_READ_SIZE)
            except OSError:
                data = _EOF
            if data == _EOF:
                self._client_gone(conn)
                return
            conn.up_queue.put_nowait(data)

    async def _respond(self, conn: _Conn, fault: Respond) -> None:
        """Wait for the request, write the canned answer (and its endless repeats), then return (close)."""
        await self._await_request(conn)
        self._count("_answered", 1)  # counted first: the client may react before we resume
        if not await self._write_canned(conn, fault.data):
            return
        while fault.repeat:
            await asyncio.sleep(fault.every_ms / 1000)
            if not await self._write_canned(conn, fault.repeat):
                return

    async def _by_path(self, conn: _Conn) -> None:
        """`OnPaths`: fault the connection if its first request is for one of the paths, else forward it."""
        path = await self._first_path(conn)

        def rule() -> OnPaths | None:
            found = self._active_fault(OnPaths)
            return found if found is not None and path in found.paths else None

        matched = rule()
        if matched is not None and isinstance(matched.fault, Respond):
            await self._respond(conn, matched.fault)
            return
        while (matched := rule()) is not None and isinstance(matched.fault, Timeout):
            assert self._changed is not None
            await self._changed.wait()  # held unanswered until the fault is cleared (or the client goes)
        parts = [
            asyncio.create_task(self._upstream_side(conn)),
            asyncio.create_task(self._queue_to_client(conn)),
        ]
        try:
            await asyncio.wait(parts, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for part in parts:
                part.cancel()
            await asyncio.gather(*parts, return_exceptions=True)

    @staticmethod
    async def _first_path(conn: _Conn) -> str:
        """The path of the connection's first request line (query dropped); the bytes stay queued."""
        received = b""
        while b"\r\n" not in received and len(received) < _READ_SIZE:
            received += await conn.up_queue.get()
        fresh: asyncio.Queue[bytes] = asyncio.Queue()
        fresh.put_nowait(received)
        while not conn.up_queue.empty():
            fresh.put_nowait(conn.up_queue.get_nowait())
        conn.up_queue = fresh  # the reader task puts into whichever queue the connection holds
        parts = received.split(b"\r\n", 1)[0].split(b" ")
        return parts[1].decode("latin-1").split("?", 1)[0] if len(parts) >= 2 else ""

    @staticmethod
    async def _await_request(conn: _Conn) -> None:
        """Consume the client's request: an HTTP head plus its Content-Length body (or one chunk of non-HTTP)."""
        received = b""
        while True:
            received += await conn.up_queue.get()
            head, sep, body = received.partition(b"\r\n\r\n")
            if not sep:
                if _HTTP_HEAD.match(received) or received.isupper():
                    continue  # an HTTP head still arriving
                return
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length" and value.strip().isdigit():
                    length = int(value.strip())
            if len(body) >= length:
                return

    async def _write_canned(self, conn: _Conn, data: bytes) -> bool:
        """Write canned bytes to the client; False once it has gone."""
        try:
            conn.client_writer.write(data)
            await conn.client_writer.drain()
        except OSError:
            self._client_gone(conn)
            return False
        return not conn.finished

    async def _upstream_side(self, conn: _Conn) -> None:
        await self._wait_while_timeout(conn)
        try:
            up_reader, conn.upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            return  # upstream refused: the client sees its connection closed
        up_sock = conn.upstream_writer.get_extra_info("socket")
        if up_sock is not None:
            up_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reading = asyncio.create_task(self._upstream_to_queue(conn, up_reader))
        try:
            while True:
                data = await conn.up_queue.get()
                await self._wait_while_timeout(conn)
                self._count("_bytes_up", len(data))  # counted first: the peer may react before we resume
                conn.upstream_writer.write(data)
                await conn.upstream_writer.drain()
        finally:
            reading.cancel()

    async def _upstream_to_queue(self, conn: _Conn, up_reader: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await up_reader.read(_READ_SIZE)
            except OSError:
                data = _EOF
            conn.down_queue.put_nowait((loop.time(), data))
            if data == _EOF:
                return

    def _pieces(self, data: bytes) -> list[bytes]:
        slicer = self._active_fault(Slicer)
        bandwidth = self._active_fault(Bandwidth)
        if slicer is not None:
            pieces, i, spread = [], 0, slicer.size_variation
            while i < len(data):
                size = max(1, slicer.avg_size + self._rng.randint(-spread, spread))
                pieces.append(data[i : i + size])
                i += size
            return pieces
        if bandwidth is not None:
            step = max(1, bandwidth.bytes_per_s // 20)
            return [data[i : i + step] for i in range(0, len(data), step)]
        return [data]

    async def _queue_to_client(self, conn: _Conn) -> None:
        loop = asyncio.get_running_loop()
        while True:
            arrived, data = await conn.down_queue.get()
            if data == _EOF:
                return  # upstream closed: close the client side too
            latency = self._active_fault(Latency)
            if latency is not None:
                delay = latency.ms + self._rng.uniform(-latency.jitter_ms, latency.jitter_ms)
                await asyncio.sleep(max(0.0, arrived + delay / 1000 - loop.time()))
            for piece in self._pieces(data):
                await self._wait_while_timeout(conn)
                if not await self._write_limited(conn, piece):
                    return
                slicer = self._active_fault(Slicer)
                if slicer is not None:
                    await asyncio.sleep(slicer.delay_ms / 1000)
                bandwidth = self._active_fault(Bandwidth)
                if bandwidth is not None:
                    await asyncio.sleep(len(piece) / bandwidth.bytes_per_s)

    async def _write_limited(self, conn: _Conn, piece: bytes) -> bool:
        """Write `piece` within the `LimitData` budget; False once the budget is spent (close both sides)."""
        with self._lock:
            generation = self._generation
        if conn.generation_seen != generation:
            conn.generation_seen = generation
            conn.limit_baseline = conn.bytes_down
        limit = self._active_fault(LimitData)
        allowed = len(piece) if limit is None else limit.n_bytes - (conn.bytes_down - conn.limit_baseline)
        chunk = piece[: max(0, allowed)]
        if chunk:
            try:
                conn.bytes_down += len(chunk)
                self._count("_bytes_down", len(chunk))  # counted first: the client may react before we resume
                conn.client_writer.write(chunk)
                await conn.client_writer.drain()
            except OSError:
                self._client_gone(conn)
                return False
        return len(chunk) == len(piece) and (limit is None or allowed > len(piece))
