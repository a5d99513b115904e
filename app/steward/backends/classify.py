"""Map every error a model server can produce to a `FailureKind` (pure functions, no I/O).

Structured fields are matched before text: llama.cpp's `error.type`, OpenAI's
`error.code`, then HTTP status classes that are unambiguous (401/403, 429), then
well-known phrases from Ollama, vLLM and LM Studio, then the remaining status
classes. Servers change wording between releases; the order keeps the most
reliable evidence first.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from steward.engine.failures import BackendError, FailureKind

DETAIL_MAX = 200

_MEMORY_PHRASES = (
    "requires more system memory",
    "out of memory",
    "cudamalloc failed",
    "insufficient memory",
    "failed to allocate",
    "not enough memory",
)
_CONTEXT_PHRASES = (
    "context length",
    "exceeds the available context",
    "maximum context length",
    "context size",
    "context window",
)
_BUSY_PHRASES = ("server busy", "maximum pending requests", "too many requests", "overloaded")
_NOT_FOUND_RE = re.compile(r"model\b.*\b(not found|does not exist|not loaded|is not available)", re.I)
_LOADING_RE = re.compile(r"\bloading model\b|\bmodel is loading\b|\bmodel loading\b", re.I)

# "request (1500 tokens) exceeds the available context size (1024 tokens)" (llama.cpp)
_LLAMA_CTX_RE = re.compile(r"\((\d+) tokens\) exceeds the available context size \((\d+) tokens\)")
# "This model's maximum context length is 2048 tokens. However, you requested 3000 tokens" (vLLM/OpenAI)
_MAX_CTX_RE = re.compile(r"maximum context length is (\d+)")
_IN_MESSAGES_RE = re.compile(r"(\d+) in the messages")
_REQUESTED_RE = re.compile(r"(?:requested|resulted in) (\d+) tokens")


def short(text: str, limit: int = DETAIL_MAX) -> str:
    """One line, at most `limit` characters: safe length for logs and the UI."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds, or an HTTP date relative to `now`)."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        if now is None:
            return None
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def classify_exception(exc: BaseException) -> BackendError:
    """A transport-level error (httpx or JSON decoding) as a classified `BackendError`."""
    if isinstance(exc, BackendError):
        return exc
    detail = short(str(exc) or type(exc).__name__)
    kind = FailureKind.UNKNOWN
    if isinstance(exc, httpx.ConnectTimeout):
        kind = FailureKind.CONNECT_TIMEOUT
    elif isinstance(exc, httpx.ConnectError):
        kind = FailureKind.CONNECTION_REFUSED
    elif isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout):
        kind = FailureKind.STALL_TIMEOUT
    elif isinstance(exc, httpx.PoolTimeout):
        kind = FailureKind.SERVER_BUSY
        detail = "no free connection to the server in time (client pool exhausted)"
    elif isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError | httpx.CloseError):
        kind = FailureKind.CONNECTION_LOST
    elif isinstance(exc, httpx.DecodingError | json.JSONDecodeError | UnicodeDecodeError):
        kind = FailureKind.BAD_RESPONSE
    return BackendError(kind, detail)


def _error_fields(payload: object) -> tuple[str, str, str, dict[str, object]]:
    """(message, type, code, object) from `{"error": ...}`, `{"message": ...}` or a bare string."""
    if isinstance(payload, Mapping):
        inner = payload.get("error", payload)
        if isinstance(inner, Mapping):
            obj = {str(k): v for k, v in inner.items()}
            message = obj.get("message", obj.get("detail", ""))
            if not isinstance(message, str):
                message = json.dumps(message) if message is not None else ""
            return message, str(obj.get("type") or ""), str(obj.get("code") or ""), obj
        if isinstance(inner, str):
            return inner, "", "", {}
        return json.dumps(inner), "", "", {}
    if isinstance(payload, str):
        return payload, "", "", {}
    return json.dumps(payload), "", "", {}


def _int_field(obj: Mapping[str, object], key: str) -> int | None:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _context_numbers(message: str, obj: Mapping[str, object]) -> tuple[int | None, int | None]:
    n_prompt, n_ctx = _int_field(obj, "n_prompt_tokens"), _int_field(obj, "n_ctx")
    if n_prompt is None and n_ctx is None:
        if m := _LLAMA_CTX_RE.search(message):
            return int(m.group(1)), int(m.group(2))
        if m := _MAX_CTX_RE.search(message):
            n_ctx = int(m.group(1))
            req = _IN_MESSAGES_RE.search(message) or _REQUESTED_RE.search(message)
            n_prompt = int(req.group(1)) if req else None
    return n_prompt, n_ctx


def _kind_from_text(lowered: str, status: int | None) -> FailureKind | None:
    if any(p in lowered for p in _MEMORY_PHRASES):
        return FailureKind.OUT_OF_MEMORY
    if any(p in lowered for p in _CONTEXT_PHRASES):
        return FailureKind.CONTEXT_OVERFLOW
    if _NOT_FOUND_RE.search(lowered):
        return FailureKind.MODEL_NOT_FOUND
    if any(p in lowered for p in _BUSY_PHRASES):
        return FailureKind.SERVER_BUSY
    if status in (None, 503) and _LOADING_RE.search(lowered) and "error loading" not in lowered:
        return FailureKind.MODEL_LOADING  # warm-up; "error loading model" is a real failure
    return None


def _kind_from_status(status: int | None, fallback: FailureKind) -> FailureKind:
    if status is None or status < 400:
        return fallback
    if status == 404:
        return FailureKind.MODEL_NOT_FOUND
    if status == 408:
        return FailureKind.STALL_TIMEOUT
    if status < 500:
        return FailureKind.BAD_REQUEST
    return FailureKind.SERVER_ERROR


def classify_error_payload(
    payload: object,
    status: int | None = None,
    *,
    retry_after: float | None = None,
    fallback: FailureKind = FailureKind.BAD_RESPONSE,
) -> BackendError:
    """Classify a decoded error body. `status` None means it arrived inside a 200 (or a stream).

    `fallback` is the kind when neither fields, text nor status say more.
    """
    message, etype, code, obj = _error_fields(payload)
    lowered = f"{message} {etype} {code}".lower()
    detail = short(message or etype or code or "error body without a message")
    kind: FailureKind | None = None
    if etype == "exceed_context_size_error" or code in (
        "context_length_exceeded",
        "exceed_context_size_error",
    ):
        kind = FailureKind.CONTEXT_OVERFLOW
    elif etype == "unavailable_error" and "loading" in lowered:
        kind = FailureKind.MODEL_LOADING
    elif code == "model_not_found":
        kind = FailureKind.MODEL_NOT_FOUND
    elif etype in ("authentication_error", "permission_error") or status in (401, 403):
        kind = FailureKind.AUTH
    elif status == 429 or code == "rate_limit_exceeded":
        kind = FailureKind.RATE_LIMITED
    else:
        kind = _kind_from_text(lowered, status)
        if kind is None and etype == "unavailable_error":
            kind = FailureKind.SERVER_BUSY
        kind = kind or _kind_from_status(status, fallback)
    n_prompt, n_ctx = _context_numbers(message, obj) if kind is FailureKind.CONTEXT_OVERFLOW else (None, None)
    return BackendError(
        kind, detail, status=status, retry_after=retry_after, n_prompt_tokens=n_prompt, n_ctx=n_ctx
    )


def classify_http(
    status: int,
    body: bytes | str,
    headers: Mapping[str, str] | None = None,
    *,
    now: datetime | None = None,
) -> BackendError:
    """Classify a non-2xx HTTP answer from its status, JSON (or text) body and Retry-After."""
    retry_after = parse_retry_after((headers or {}).get("retry-after"), now)
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    payload: object
    try:
        payload = json.loads(text) if text.strip() else f"HTTP {status}"
    except json.JSONDecodeError:
        payload = text
    return classify_error_payload(
        payload, status, retry_after=retry_after, fallback=_kind_from_status(status, FailureKind.UNKNOWN)
    )


def error_in_payload(payload: object) -> BackendError | None:
    """The error carried by a 200 JSON object / SSE data / NDJSON line, or None if it is not an error."""
    if isinstance(payload, Mapping) and payload.get("error") not in (None, "", {}):
        return classify_error_payload({"error": payload["error"]}, None)
    return None


def parse_json_line(text: str, what: str) -> object:
    """Decode one JSON document from a stream; malformed input is a `bad_response`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BackendError(FailureKind.BAD_RESPONSE, short(f"malformed {what}: {text!r}")) from exc


def truncated_stream(what: str) -> BackendError:
    """A stream that ended before its final marker: the connection was effectively lost."""
    return BackendError(FailureKind.CONNECTION_LOST, f"stream ended before {what}")
