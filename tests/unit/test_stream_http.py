"""The streamed-answer path (aiohttp) against REAL local sockets that answer with exact bytes:
the adapters on top see the same chunks and the same failure kinds as through httpx."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import httpx
import pytest

from steward.backends.http import HttpConnection
from steward.backends.ollama import OllamaBackend
from steward.backends.openai_compat import OpenAICompatBackend
from steward.backends.stream_http import _as_httpx
from steward.engine.failures import BackendError, FailureKind
from steward.engine.types import ChatMessage, GenerationParams, StreamChunk

K = FailureKind
MSGS = (ChatMessage("user", "hi"),)
SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
    b"connection: keep-alive\r\n\r\n"
)
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def event(text: str, finish: str | None = None) -> bytes:
    payload = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
    return chunk(f"data: {json.dumps(payload)}\n\n".encode())


ANSWER = event("Par") + event("is") + event("", "stop") + chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"


class Server:
    """A scripted HTTP server on a real socket: counts connections and requests, notes closes."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests = 0
        self.eof_seen = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.handlers: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            await self.script(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        body = await reader.readexactly(length)
        self.requests += 1
        return body

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


@asynccontextmanager
async def serving(script: Script) -> AsyncIterator[Server]:
    server = Server(script)
    server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    try:
        yield server
    finally:
        server.server.close()
        for task in server.handlers:
            task.cancel()
        await asyncio.gather(*server.handlers, return_exceptions=True)


def connection(url: str, stall_s: float = 2.0) -> HttpConnection:
    return HttpConnection(url, connect_s=1.0, stall_s=stall_s)


async def collect(backend: OpenAICompatBackend | OllamaBackend) -> list[StreamChunk]:
    return [c async for c in backend.stream_chat("m", MSGS, GenerationParams())]


async def answer_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
    """Answer every request on the connection (keep-alive) until the client goes."""
    while True:
        try:
            await server.read_request(reader)
        except asyncio.IncompleteReadError:
            server.eof_seen.set()
            return
        writer.write(SSE_HEAD + ANSWER)
        await writer.drain()


async def test_streams_text_then_the_final_chunk_and_reuses_the_connection() -> None:
    async with serving(answer_each) as server:
        http = connection(server.url)
        backend = OpenAICompatBackend("s", http)
        for _ in range(3):
            chunks = await collect(backend)
            assert [c.text for c in chunks if c.text] == ["Par", "is"]
            assert chunks[-1].done and chunks[-1].finish_reason == "stop"
        assert server.requests == 3 and server.connections == 1, "a fully read answer returns its socket"
        await http.aclose()


async def test_the_request_carries_json_and_the_bearer_key() -> None:
    seen: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length")
        )
        seen.extend([head, await reader.readexactly(length)])
        writer.write(SSE_HEAD + ANSWER)
        await writer.drain()

    async with serving(record) as server:
        http = HttpConnection(server.url, api_key="sk-secret-1", connect_s=1, stall_s=2)
        await collect(OpenAICompatBackend("s", http))
        await http.aclose()
    head, body = seen
    assert b"authorization: bearer sk-secret-1" in head.lower()
    assert json.loads(body)["messages"] == [{"role": "user", "content": "hi"}]
    assert json.loads(body)["stream"] is True


async def test_a_silent_server_is_a_stall_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        await asyncio.sleep(30)

    async with serving(silent) as server:
        http = connection(server.url, stall_s=0.3)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(BackendError) as info:
            await collect(OpenAICompatBackend("s", http))
        assert info.value.kind is K.STALL_TIMEOUT
        assert loop.time() - started < 2.0
        await http.aclose()


async def test_text_before_a_cut_is_delivered_then_connection_lost() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        writer.write(SSE_HEAD + event("Par") + b'40\r\ndata: {"cho')  # cut inside a chunk
        await writer.drain()

    async with serving(cut) as server:
        http = connection(server.url)
        got: list[str] = []
        with pytest.raises(BackendError) as info:
            async for c in OpenAICompatBackend("s", http).stream_chat("m", MSGS, GenerationParams()):
                got.append(c.text)
        assert got == ["Par"]
        assert info.value.kind is K.CONNECTION_LOST
        await http.aclose()


async def test_refused_is_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
    http = connection(f"http://127.0.0.1:{port}")
    with pytest.raises(BackendError) as info:
        await collect(OpenAICompatBackend("s", http))
    assert info.value.kind is K.CONNECTION_REFUSED
    await http.aclose()


async def test_an_http_error_is_classified_from_its_body() -> None:
    async def overflow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        body = json.dumps(
            {
                "error": {
                    "code": 400,
                    "message": "too long",
                    "type": "exceed_context_size_error",
                    "n_prompt_tokens": 5000,
                    "n_ctx": 4096,
                }
            }
        ).encode()
        writer.write(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()

    async with serving(overflow) as server:
        http = connection(server.url)
        with pytest.raises(BackendError) as info:
            await collect(OpenAICompatBackend("s", http))
        assert info.value.kind is K.CONTEXT_OVERFLOW and info.value.n_ctx == 4096
        await http.aclose()


async def test_garbage_instead_of_http_is_classified_not_crashed_on() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        writer.write(b"\x00\x01 not http at all\r\n\r\n")
        await writer.drain()

    async with serving(garbage) as server:
        http = connection(server.url)
        with pytest.raises(BackendError) as info:
            await collect(OpenAICompatBackend("s", http))
        assert info.value.kind is K.CONNECTION_LOST
        await http.aclose()


async def test_a_stale_keep_alive_socket_is_sent_again_once_on_a_new_connection() -> None:
    async def close_when_idle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        await server.read_request(reader)
        writer.write(SSE_HEAD + ANSWER)
        await writer.drain()
        # the server's idle close, racing the client's next request on this socket: it reads
        # that request and drops the connection without an answer
        await reader.read(1)
        writer.transport.abort()

    async with serving(close_when_idle) as server:
        http = connection(server.url)
        backend = OpenAICompatBackend("s", http)
        await collect(backend)
        chunks = await collect(backend)
        assert "".join(c.text for c in chunks) == "Paris"
        assert server.connections == 2
        await http.aclose()


async def test_a_fresh_connection_dropped_before_any_answer_is_not_sent_again() -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        writer.transport.abort()

    async with serving(drop) as server:
        http = connection(server.url)
        with pytest.raises(BackendError) as info:
            await collect(OpenAICompatBackend("s", http))
        assert info.value.kind is K.CONNECTION_LOST
        assert server.requests == 1, "a fresh connection's drop is the server's answer"
        await http.aclose()


async def test_stopping_early_closes_the_connection_so_the_server_stops() -> None:
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        writer.write(SSE_HEAD)
        try:
            while True:
                writer.write(event("x"))
                await writer.drain()
                await asyncio.sleep(0.01)
        except ConnectionError:
            server.eof_seen.set()

    async with serving(endless) as server:
        http = connection(server.url)
        stream = OpenAICompatBackend("s", http).stream_chat("m", MSGS, GenerationParams())
        assert (await anext(stream)).text == "x"
        await stream.aclose()  # type: ignore[attr-defined]
        await asyncio.wait_for(server.eof_seen.wait(), 5)
        await http.aclose()


async def test_ollama_ndjson_streams_over_the_same_path() -> None:
    lines = [
        {"message": {"role": "assistant", "content": "Par"}, "done": False},
        {"message": {"role": "assistant", "content": "is"}, "done": False},
        {
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 9,
            "eval_count": 2,
        },
    ]

    async def ndjson(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n"
        writer.write(head + b"".join(chunk(json.dumps(x).encode() + b"\n") for x in lines) + b"0\r\n\r\n")
        await writer.drain()

    async with serving(ndjson) as server:
        http = connection(server.url)
        chunks = await collect(OllamaBackend("o", http))
        assert [c.text for c in chunks if c.text] == ["Par", "is"]
        assert chunks[-1].done and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2
        await http.aclose()


async def test_a_closed_connection_refuses_new_streams_and_leaves_no_session() -> None:
    async with serving(answer_each) as server:
        http = connection(server.url)
        backend = OpenAICompatBackend("s", http)
        await collect(backend)
        await http.aclose()
        with pytest.raises(BackendError) as info:
            await collect(backend)
        assert info.value.kind is K.CONNECTION_REFUSED


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (aiohttp.ConnectionTimeoutError("connect"), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError("read"), httpx.ReadTimeout),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (aiohttp.ClientPayloadError("cut"), httpx.RemoteProtocolError),
        (aiohttp.ClientOSError(104, "reset"), httpx.ReadError),
    ],
)
def test_aiohttp_failures_speak_httpx_vocabulary(error: Exception, expected: type[Exception]) -> None:
    assert type(_as_httpx(error, "here")) is expected
