"""Table tests: every error shape from REFERENCE.md maps to the right FailureKind."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from steward.backends.classify import (
    classify_error_payload,
    classify_exception,
    classify_http,
    error_in_payload,
    parse_json_line,
    parse_retry_after,
    short,
    truncated_stream,
)
from steward.engine.failures import BackendError, FailureKind

K = FailureKind
_REQ = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")

LLAMA_OVERFLOW = {
    "error": {
        "code": 400,
        "type": "exceed_context_size_error",
        "message": "request (1631 tokens) exceeds the available context size (1024 tokens), "
        "try increasing it",
        "n_prompt_tokens": 1631,
        "n_ctx": 1024,
    }
}
VLLM_OVERFLOW = {
    "object": "error",
    "message": "This model's maximum context length is 2048 tokens. However, you requested 3000 tokens "
    "(2000 in the messages, 1000 in the completion).",
    "type": "BadRequestError",
    "code": 400,
}
LLAMA_LOADING = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}

HTTP_CASES: list[tuple[str, int, object, FailureKind]] = [
    ("llama.cpp overflow by type", 400, LLAMA_OVERFLOW, K.CONTEXT_OVERFLOW),
    ("llama.cpp loading", 503, LLAMA_LOADING, K.MODEL_LOADING),
    (
        "llama.cpp other unavailable",
        503,
        {"error": {"type": "unavailable_error", "message": "no slot"}},
        K.SERVER_BUSY,
    ),
    (
        "llama.cpp auth type",
        401,
        {"error": {"type": "authentication_error", "message": "Invalid API Key"}},
        K.AUTH,
    ),
    (
        "llama.cpp invalid request",
        400,
        {"error": {"type": "invalid_request_error", "message": "bad"}},
        K.BAD_REQUEST,
    ),
    (
        "ollama model not found",
        404,
        {"error": 'model "qwen3:8b" not found, try pulling it first'},
        K.MODEL_NOT_FOUND,
    ),
    (
        "ollama busy",
        503,
        {"error": "server busy, please try again.  maximum pending requests exceeded"},
        K.SERVER_BUSY,
    ),
    (
        "ollama oom",
        500,
        {"error": "model requires more system memory (9.6 GiB) than is available (3.1 GiB)"},
        K.OUT_OF_MEMORY,
    ),
    ("cuda oom", 500, {"error": "cudaMalloc failed: out of memory"}, K.OUT_OF_MEMORY),
    ("insufficient memory", 500, {"error": "insufficient memory for KV cache"}, K.OUT_OF_MEMORY),
    ("failed to allocate", 500, {"error": "failed to allocate compute buffer"}, K.OUT_OF_MEMORY),
    (
        "ollama prompt too long",
        400,
        {"error": "the prompt is longer than the context length (4096)"},
        K.CONTEXT_OVERFLOW,
    ),
    ("vllm max context", 400, VLLM_OVERFLOW, K.CONTEXT_OVERFLOW),
    (
        "openai code context",
        400,
        {"error": {"message": "too long", "code": "context_length_exceeded"}},
        K.CONTEXT_OVERFLOW,
    ),
    (
        "lm studio context",
        400,
        {
            "error": "Trying to keep the first 5000 tokens when context the overflows. However, "
            "the model is loaded with context length of 4096 tokens"
        },
        K.CONTEXT_OVERFLOW,
    ),
    (
        "openai model not found code",
        404,
        {"error": {"message": "x", "code": "model_not_found"}},
        K.MODEL_NOT_FOUND,
    ),
    (
        "vllm model does not exist",
        404,
        {"object": "error", "message": "The model `m` does not exist."},
        K.MODEL_NOT_FOUND,
    ),
    ("bare 404", 404, "", K.MODEL_NOT_FOUND),
    ("rate limited", 429, {"error": "slow down"}, K.RATE_LIMITED),
    ("unauthorized text body", 401, "Unauthorized", K.AUTH),
    ("forbidden", 403, {"error": "forbidden"}, K.AUTH),
    (
        "unprocessable",
        422,
        {"detail": [{"loc": ["body", "messages"], "msg": "field required"}]},
        K.BAD_REQUEST,
    ),
    ("plain 400", 400, {"error": "invalid temperature"}, K.BAD_REQUEST),
    ("plain 500", 500, {"error": "llama runner process has terminated: exit status 2"}, K.SERVER_ERROR),
    ("error loading model is not warm-up", 500, {"error": "error loading model /x.gguf"}, K.SERVER_ERROR),
    ("502 html", 502, "<html>Bad Gateway</html>", K.SERVER_ERROR),
    ("503 no body", 503, "", K.SERVER_ERROR),
    ("request timeout", 408, "", K.STALL_TIMEOUT),
]


def _body(payload: object) -> bytes:
    return payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()


@pytest.mark.parametrize(("name", "status", "payload", "kind"), HTTP_CASES, ids=[c[0] for c in HTTP_CASES])
def test_http_error_shapes_map_to_kinds(name: str, status: int, payload: object, kind: FailureKind) -> None:
    err = classify_http(status, _body(payload))
    assert err.kind is kind, f"{name}: {err.kind} ({err.detail})"
    assert err.status == status
    assert len(err.detail) <= 200


def test_llama_overflow_carries_prompt_tokens_and_window() -> None:
    err = classify_http(400, _body(LLAMA_OVERFLOW))
    assert (err.n_prompt_tokens, err.n_ctx) == (1631, 1024)


def test_overflow_numbers_are_parsed_from_text_when_fields_are_absent() -> None:
    older = {"error": {"message": "request (1500 tokens) exceeds the available context size (1024 tokens)"}}
    assert (classify_http(400, _body(older)).n_prompt_tokens, classify_http(400, _body(older)).n_ctx) == (
        1500,
        1024,
    )
    err = classify_http(400, _body(VLLM_OVERFLOW))
    assert (err.n_prompt_tokens, err.n_ctx) == (2000, 2048)


def test_structured_type_beats_misleading_text() -> None:
    payload = {"error": {"type": "exceed_context_size_error", "message": "server busy, out of memory"}}
    assert classify_http(400, _body(payload)).kind is K.CONTEXT_OVERFLOW


def test_retry_after_seconds_is_carried_on_429() -> None:
    err = classify_http(429, b'{"error":"slow"}', {"retry-after": "7"})
    assert err.kind is K.RATE_LIMITED
    assert err.retry_after == 7.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("3", 3.0),
        ("0.5", 0.5),
        ("-1", None),
        ("inf", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == expected


def test_retry_after_http_date_without_now_is_ignored() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT") is None


EXCEPTION_CASES: list[tuple[BaseException, FailureKind]] = [
    (httpx.ConnectError("[Errno 111] Connection refused", request=_REQ), K.CONNECTION_REFUSED),
    (httpx.ConnectTimeout("timed out", request=_REQ), K.CONNECT_TIMEOUT),
    (httpx.ReadTimeout("timed out", request=_REQ), K.STALL_TIMEOUT),
    (httpx.WriteTimeout("timed out", request=_REQ), K.STALL_TIMEOUT),
    (httpx.PoolTimeout("pool", request=_REQ), K.SERVER_BUSY),
    (
        httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body", request=_REQ
        ),
        K.CONNECTION_LOST,
    ),
    (httpx.ReadError("connection reset by peer", request=_REQ), K.CONNECTION_LOST),
    (httpx.DecodingError("bad gzip", request=_REQ), K.BAD_RESPONSE),
    (json.JSONDecodeError("Expecting value", "x", 0), K.BAD_RESPONSE),
    (RuntimeError("???"), K.UNKNOWN),
]


@pytest.mark.parametrize(("exc", "kind"), EXCEPTION_CASES, ids=[type(e).__name__ for e, _ in EXCEPTION_CASES])
def test_transport_exceptions_map_to_kinds(exc: BaseException, kind: FailureKind) -> None:
    assert classify_exception(exc).kind is kind


def test_classify_exception_passes_backend_errors_through() -> None:
    original = BackendError(K.AUTH, "no")
    assert classify_exception(original) is original


PAYLOAD_200_CASES: list[tuple[str, object, FailureKind | None]] = [
    ("lm studio string error", {"error": "Model unloaded."}, K.BAD_RESPONSE),
    (
        "lm studio context error in 200",
        {"error": "context length of 4096 tokens exceeded"},
        K.CONTEXT_OVERFLOW,
    ),
    (
        "nested error object in 200",
        {"error": {"message": "out of memory", "type": "server_error"}},
        K.OUT_OF_MEMORY,
    ),
    ("llama.cpp loading in stream", LLAMA_LOADING, K.MODEL_LOADING),
    ("ordinary chunk", {"choices": [{"delta": {"content": "hi"}}]}, None),
    ("null error field", {"error": None, "done": True}, None),
    ("a list", [1, 2], None),
]


@pytest.mark.parametrize(
    ("name", "payload", "kind"), PAYLOAD_200_CASES, ids=[c[0] for c in PAYLOAD_200_CASES]
)
def test_error_inside_200_payloads(name: str, payload: object, kind: FailureKind | None) -> None:
    err = error_in_payload(payload)
    assert (err.kind if err else None) is kind
    if err is not None:
        assert err.status is None


def test_classify_error_payload_uses_fallback_when_nothing_matches() -> None:
    assert classify_error_payload({"error": "weird"}, None, fallback=K.UNKNOWN).kind is K.UNKNOWN


def test_malformed_json_line_is_bad_response() -> None:
    with pytest.raises(BackendError) as info:
        parse_json_line('{"choices": [', "SSE data")
    assert info.value.kind is K.BAD_RESPONSE


def test_truncated_stream_is_connection_lost() -> None:
    assert truncated_stream("[DONE]").kind is K.CONNECTION_LOST


def test_short_flattens_and_bounds_details() -> None:
    text = short("a\n  b " + "x" * 500)
    assert "\n" not in text
    assert len(text) == 200
    assert text.startswith("a b x")
