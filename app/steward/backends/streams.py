"""Incremental decoders for the two streaming wire formats: SSE (OpenAI-compatible) and NDJSON (Ollama).

We decode SSE ourselves instead of through httpx-sse because the spec tells a
decoder to silently ignore lines it does not understand, and that is exactly
how a raw `{"error": ...}` written into a 200 event stream would vanish. Here an
unexpected line is a `bad_response` (or the error it carries). Lines are split
on CR, LF and CRLF only, as SSE requires: `str.splitlines` would also split on
U+2028 and friends, which servers may emit unescaped inside JSON strings.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass

from steward.backends.classify import error_in_payload, short, truncated_stream
from steward.engine.failures import BackendError, FailureKind

_SSE_FIELDS = frozenset({"data", "event", "id", "retry"})


@dataclass(frozen=True)
class SseEvent:
    """One dispatched server-sent event."""

    event: str
    data: str


async def iter_lines(chunks: AsyncIterator[str]) -> AsyncGenerator[tuple[str, bool], None]:
    """(line, terminated) from text chunks, split on CRLF, CR or LF only.

    A final piece without a line break is yielded with terminated=False: the
    stream may have been cut in the middle of it.
    """
    buffer = ""
    async for chunk in chunks:  # the caller closes `chunks` (the response) when it stops early
        buffer += chunk
        while (cut := _next_break(buffer)) is not None:
            end, width = cut
            if width == 1 and buffer[end] == "\r" and end + 1 == len(buffer):
                break  # a lone trailing CR may be the first half of CRLF: wait for more text
            yield buffer[:end], True
            buffer = buffer[end + width :]
    if buffer.endswith("\r"):
        yield buffer[:-1], True
    elif buffer:
        yield buffer, False


def _next_break(text: str) -> tuple[int, int] | None:
    """Index and width of the first line break in `text`, or None."""
    lf, cr = text.find("\n"), text.find("\r")
    if cr == -1 and lf == -1:
        return None
    if cr == -1 or (lf != -1 and lf < cr):
        return lf, 1
    if cr + 1 < len(text) and text[cr + 1] == "\n":
        return cr, 2
    return cr, 1


def _malformed_line(line: str, what: str) -> BackendError:
    """An unexpected line as an error: the error it carries if it is JSON with `error`, else bad_response."""
    try:
        payload = json.loads(line)
    except ValueError:
        payload = None
    carried = error_in_payload(payload)
    if carried is not None:
        return carried
    return BackendError(FailureKind.BAD_RESPONSE, short(f"malformed {what} line: {line!r}"))


async def iter_sse(chunks: AsyncIterator[str]) -> AsyncGenerator[SseEvent, None]:
    """Server-sent events from text chunks. Comments are skipped; unknown lines raise.

    An event not terminated by a blank line when the stream ends was cut mid-way
    and is dropped: the caller then sees a stream without its end marker.
    """
    event, data = "", list[str]()
    async with aclosing(iter_lines(chunks)) as lines:
        async for line, terminated in lines:
            if not terminated:
                return
            if not line:
                if data:
                    yield SseEvent(event or "message", "\n".join(data))
                event, data = "", list[str]()
                continue
            if line.startswith(":"):
                continue  # comment / keep-alive ping
            name, sep, value = line.partition(":")
            if not sep or name not in _SSE_FIELDS:
                raise _malformed_line(line, "SSE")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value


async def iter_ndjson(chunks: AsyncIterator[str]) -> AsyncGenerator[object, None]:
    """Decoded objects of an NDJSON stream.

    A malformed complete line is a `bad_response`; a malformed unterminated last
    line is a cut stream (`connection_lost`).
    """
    async with aclosing(iter_lines(chunks)) as lines:
        async for line, terminated in lines:
            if not line.strip():
                continue
            try:
                payload = json.loads(line)
            except ValueError as exc:
                if not terminated:
                    raise truncated_stream("the end of its last line") from exc
                raise _malformed_line(line, "NDJSON") from exc
            yield payload
