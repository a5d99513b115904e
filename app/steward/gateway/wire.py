"""Bytes on the wire: Server-Sent Events as OpenAI sends them, and Ollama's NDJSON lines.

Pure functions (no I/O), so the framing every client parses is unit-tested on its own.
"""

from __future__ import annotations

import json
from typing import Any

SSE_DONE = b"data: [DONE]\n\n"
SSE_MEDIA_TYPE = "text/event-stream"
NDJSON_MEDIA_TYPE = "application/x-ndjson"


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON (what OpenAI and Ollama send; non-ASCII stays readable)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def sse_data(payload: Any) -> bytes:
    """One SSE event carrying JSON: `data: {...}` and the blank line that ends the event.

    JSON never contains a raw newline (json escapes them), so one `data:` line always suffices.
    """
    return b"data: " + dumps(payload) + b"\n\n"


def sse_comment(text: str) -> bytes:
    """An SSE comment (a line starting with ':'), which every SSE parser must ignore.

    Each line of `text` becomes its own comment line, so a newline in it cannot start a field.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return b"".join(b": " + line.encode() + b"\n" for line in lines) + b"\n"


def ndjson(payload: Any) -> bytes:
    """One NDJSON line."""
    return dumps(payload) + b"\n"
