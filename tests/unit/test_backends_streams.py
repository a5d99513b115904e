"""The SSE / NDJSON decoders: line splitting, comments, malformed and cut streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from steward.backends.streams import SseEvent, iter_lines, iter_ndjson, iter_sse
from steward.engine.failures import BackendError, FailureKind


async def _chunks(*parts: str) -> AsyncIterator[str]:
    for part in parts:
        yield part


async def _collect_lines(*parts: str) -> list[tuple[str, bool]]:
    return [line async for line in iter_lines(_chunks(*parts))]


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("a\nb\n",), [("a", True), ("b", True)]),
        (("a\r\nb\r\n",), [("a", True), ("b", True)]),
        (("a\r", "\nb\r"), [("a", True), ("b", True)]),  # CRLF split across chunks is one break
        (("a\rb\r\n",), [("a", True), ("b", True)]),
        (
            (
                "ab",
                "c\nde",
            ),
            [("abc", True), ("de", False)],
        ),  # unterminated tail is flagged
        (("x\u2028y\n",), [("x\u2028y", True)]),  # U+2028 is not a line break in SSE/NDJSON
        (("\n\n",), [("", True), ("", True)]),
    ],
)
async def test_iter_lines_splits_on_cr_lf_crlf_only(
    parts: tuple[str, ...], expected: list[tuple[str, bool]]
) -> None:
    assert await _collect_lines(*parts) == expected


async def test_sse_events_join_data_lines_and_skip_comments() -> None:
    stream = _chunks(": ping\n\n", 'data: {"a":\n', "data: 1}\n\n", "event: error\ndata: x\n\n")
    events = [e async for e in iter_sse(stream)]
    assert events == [SseEvent("message", '{"a":\n1}'), SseEvent("error", "x")]


async def test_sse_event_cut_before_its_blank_line_is_dropped() -> None:
    events = [e async for e in iter_sse(_chunks('data: {"x": 1}\n\ndata: {"y": 2}\n'))]
    assert events == [SseEvent("message", '{"x": 1}')]


async def test_sse_garbage_line_is_bad_response() -> None:
    with pytest.raises(BackendError) as info:
        _ = [e async for e in iter_sse(_chunks("data: {}\n\n<html>oops</html>\n"))]
    assert info.value.kind is FailureKind.BAD_RESPONSE


async def test_sse_raw_json_error_line_is_classified_from_its_body() -> None:
    with pytest.raises(BackendError) as info:
        _ = [e async for e in iter_sse(_chunks('{"error": "model requires more system memory"}\n'))]
    assert info.value.kind is FailureKind.OUT_OF_MEMORY


async def test_ndjson_yields_objects_and_skips_blank_lines() -> None:
    items = [o async for o in iter_ndjson(_chunks('{"a": 1}\n\n{"b"', ": 2}\n"))]
    assert items == [{"a": 1}, {"b": 2}]


async def test_ndjson_malformed_complete_line_is_bad_response() -> None:
    with pytest.raises(BackendError) as info:
        _ = [o async for o in iter_ndjson(_chunks('{"a": 1}\nnot json\n'))]
    assert info.value.kind is FailureKind.BAD_RESPONSE


async def test_ndjson_cut_last_line_is_connection_lost() -> None:
    with pytest.raises(BackendError) as info:
        _ = [o async for o in iter_ndjson(_chunks('{"a": 1}\n{"message": {"content": "he'))]
    assert info.value.kind is FailureKind.CONNECTION_LOST


async def test_ndjson_complete_unterminated_last_line_is_accepted() -> None:
    assert [o async for o in iter_ndjson(_chunks('{"done": true}'))] == [{"done": True}]
