"""The bytes clients parse: SSE events as OpenAI frames them, SSE comments, Ollama's NDJSON lines."""

from __future__ import annotations

import asyncio
import json

from steward.gateway.wire import SSE_DONE, ndjson, sse_comment, sse_data


def parse_sse(stream: bytes) -> list[tuple[str, str]]:
    """A strict reading of the SSE spec: events end at a blank line; ':' lines are comments."""
    events: list[tuple[str, str]] = []
    for block in stream.decode().split("\n\n"):
        if not block:
            continue
        data = [line[6:] for line in block.split("\n") if line.startswith("data: ")]
        comments = [line[2:] for line in block.split("\n") if line.startswith(": ")]
        assert all(line.startswith(("data: ", ": ")) for line in block.split("\n")), block
        events += [("data", "\n".join(data))] if data else [("comment", c) for c in comments]
    return events


def test_one_json_event_per_data_line_and_done() -> None:
    payload = {"choices": [{"delta": {"content": "a\nb «ü» \u2028"}}], "n": None}
    stream = sse_data(payload) + SSE_DONE
    assert stream.startswith(b"data: {") and stream.endswith(b"\n\ndata: [DONE]\n\n")
    assert stream.count(b"\n\n") == 2, "a newline inside the text is escaped, never framed"
    events = parse_sse(stream)
    assert json.loads(events[0][1]) == payload and events[1] == ("data", "[DONE]")
    assert "«ü»".encode() in stream, "non-ASCII stays readable (as OpenAI sends it)"
    assert b", " not in sse_data({"a": 1, "b": [1, 2]}), "compact separators"


def test_comments_are_ignored_by_sse_parsers_even_with_newlines() -> None:
    text = "steward: a/m failed (connection_lost) after 12 chars; continued on b/m\ndata: injected"
    frame = sse_comment(text)
    assert frame.endswith(b"\n\n") and frame.count(b"\n\n") == 1
    assert all(line.startswith(b": ") for line in frame.split(b"\n") if line)
    assert parse_sse(frame + sse_data({"x": 1})) == [
        ("comment", "steward: a/m failed (connection_lost) after 12 chars; continued on b/m"),
        ("comment", "data: injected"),
        ("data", '{"x":1}'),
    ]


def test_ndjson_is_one_line_per_object() -> None:
    line = ndjson({"message": {"content": "two\nlines"}, "done": False})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {"message": {"content": "two\nlines"}, "done": False}


def test_delta_frames_are_the_bytes_of_a_full_chunk() -> None:
    from steward.gateway.openai_api import DeltaFrames, chunk

    for model in ("small/m", 'odd "name" «ü»', "@@steward-delta@@"):
        frames = DeltaFrames("chatcmpl-1", 1700000000, model)
        for text in ("hi", "", 'quote " and \\ slash', "line\nbreak", "«ü» 😀", "@@steward-delta@@"):
            assert frames.content(text) == sse_data(chunk("chatcmpl-1", 1700000000, model, {"content": text}))


async def test_the_last_piece_ends_the_body_in_the_same_message() -> None:
    from collections.abc import AsyncGenerator
    from typing import Any

    from steward.gateway.streaming import Last, StreamResponse

    async def body() -> AsyncGenerator[bytes, None]:
        yield b"a"
        yield Last(b"b")
        yield b"never sent"

    sent: list[dict[str, Any]] = []
    cleaned: list[bool] = []

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client never leaves
        return {}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def cleanup() -> None:
        cleaned.append(True)

    response = StreamResponse(
        body(), headers={"x-steward-model": "m"}, media_type="text/event-stream", cleanup=cleanup
    )
    await response({"type": "http"}, receive, send)  # type: ignore[arg-type]
    assert [(m.get("body"), m.get("more_body")) for m in sent[1:]] == [(b"a", True), (b"b", False)]
    assert (b"x-steward-model", b"m") in sent[0]["headers"] and cleaned == [True]


async def test_a_client_that_leaves_cancels_the_stream_and_cleans_up() -> None:
    from collections.abc import AsyncGenerator
    from typing import Any

    from steward.gateway.streaming import StreamResponse

    waiting = asyncio.Event()
    closed: list[str] = []

    async def body() -> AsyncGenerator[bytes, None]:
        try:
            yield b"first"
            waiting.set()
            await asyncio.Event().wait()  # the engine waits for a token that never comes
            yield b"never"
        finally:
            closed.append("generator")

    async def receive() -> dict[str, Any]:
        await waiting.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        pass

    async def cleanup() -> None:
        closed.append("relay")

    response = StreamResponse(body(), headers={}, media_type="text/event-stream", cleanup=cleanup)
    await asyncio.wait_for(response({"type": "http"}, receive, send), 5)  # type: ignore[arg-type]
    assert closed == ["generator", "relay"]
    current = asyncio.current_task()
    assert current is not None and not current.cancelling(), "the handler's task is not left cancelled"
