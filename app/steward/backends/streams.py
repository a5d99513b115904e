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
from dataclasses import dataclass

from steward.backends.classify import error_in_payload, short, truncated_stream
from steward.engine.failures import BackendError, FailureKind

_SSE_FIELDS = frozenset({"data", "event", "id", "retry"})


@dataclass(frozen=True)
class SseEvent:
    """One dispatched server-sent event."""

    event: str
    data: str


class LineSplitter:
    """Complete lines from text pieces, split on CRLF, CR or LF only (synchronous: the per-token
    path feeds it every piece it reads, with no generator hop per line)."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, text: str) -> list[str]:
        """The lines `text` completes (without their breaks)."""
        buffer = self._buffer + text
        if "\r" not in buffer:  # the common case: LF only
            *complete, self._buffer = buffer.split("\n")
            return complete
        lines: list[str] = []
        while (cut := _next_break(buffer)) is not None:
            end, width = cut
            if width == 1 and buffer[end] == "\r" and end + 1 == len(buffer):
                break  # a lone trailing CR may be the first half of CRLF: wait for more text
            lines.append(buffer[:end])
            buffer = buffer[end + width :]
        self._buffer = buffer
        return lines

    def close(self) -> tuple[str, bool] | None:
        """At the end of the stream: the last piece and whether it was terminated (None if none).
        A final piece without a line break may have been cut in the middle."""
        buffer, self._buffer = self._buffer, ""
        if buffer.endswith("\r"):
            return buffer[:-1], True
        return (buffer, False) if buffer else None


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


async def iter_lines(chunks: AsyncIterator[str]) -> AsyncGenerator[tuple[str, bool], None]:
    """(line, terminated) from text chunks (see `LineSplitter`)."""
    splitter = LineSplitter()
    async for chunk in chunks:  # the caller closes `chunks` (the response) when it stops early
        for line in splitter.feed(chunk):
            yield line, True
    if (last := splitter.close()) is not None:
        yield last


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


class SseDecoder:
    """Server-sent events from text pieces. Comments are skipped; unknown lines raise.

    An event not terminated by a blank line when the stream ends was cut mid-way and is
    dropped: the caller then sees a stream without its end marker.
    """

    def __init__(self) -> None:
        self._lines = LineSplitter()
        self._event = ""
        self._data: list[str] = []
        self._error: BackendError | None = None

    def feed(self, text: str) -> list[SseEvent]:
        """The events `text` completes. A malformed line raises, after the events before it
        have been returned (on the next call)."""
        return self._dispatch(self._lines.feed(text))

    def close(self) -> list[SseEvent]:
        """Events completed by the very end of the stream (a trailing CR); drops a cut one."""
        last = self._lines.close()
        return self._dispatch([last[0]] if last is not None and last[1] else [])

    def _dispatch(self, lines: list[str]) -> list[SseEvent]:
        if self._error is not None:
            raise self._error
        events: list[SseEvent] = []
        for line in lines:
            if not line:
                if self._data:
                    events.append(SseEvent(self._event or "message", "\n".join(self._data)))
                self._event, self._data = "", []
                continue
            if line[0] == ":":
                continue  # comment / keep-alive ping
            name, sep, value = line.partition(":")
            if not sep or name not in _SSE_FIELDS:
                self._error = _malformed_line(line, "SSE")
                if events:
                    return events
                raise self._error
            value = value.removeprefix(" ")
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
        return events


async def iter_sse(chunks: AsyncIterator[str]) -> AsyncGenerator[SseEvent, None]:
    """Server-sent events from text chunks (see `SseDecoder`)."""
    decoder = SseDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event


class NdjsonDecoder:
    """Decoded objects of an NDJSON stream from text pieces.

    A malformed complete line is a `bad_response`; a malformed unterminated last line is a cut
    stream (`connection_lost`); a complete unterminated last line is accepted.
    """

    def __init__(self) -> None:
        self._lines = LineSplitter()

    def feed(self, text: str) -> list[object]:
        return [_ndjson(line, True) for line in self._lines.feed(text) if line.strip()]

    def close(self) -> list[object]:
        last = self._lines.close()
        if last is None or not last[0].strip():
            return []
        return [_ndjson(*last)]


def _ndjson(line: str, terminated: bool) -> object:
    try:
        return json.loads(line)
    except ValueError as exc:
        if not terminated:
            raise truncated_stream("the end of its last line") from exc
        raise _malformed_line(line, "NDJSON") from exc


async def iter_ndjson(chunks: AsyncIterator[str]) -> AsyncGenerator[object, None]:
    """Decoded objects of an NDJSON stream from text chunks (see `NdjsonDecoder`)."""
    decoder = NdjsonDecoder()
    async for chunk in chunks:
        for payload in decoder.feed(chunk):
            yield payload
    for payload in decoder.close():
        yield payload
