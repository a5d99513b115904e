"""OpenAI-compatible adapter against `httpx.MockTransport` handlers: streams, odd answers, errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence

import httpx
import pytest
from tests.support.fake_clock import FakeClock

from steward.backends.http import HttpConnection
from steward.backends.openai_compat import OpenAICompatBackend
from steward.engine.failures import BackendError, FailureKind
from steward.engine.types import ChatMessage, GenerationParams, ServerState, StreamChunk

Handler = Callable[[httpx.Request], httpx.Response]
MSGS = (ChatMessage("system", "Be brief."), ChatMessage("user", "Capital of France?"))
K = FailureKind


class ChunkStream(httpx.AsyncByteStream):
    """A response body delivered in pieces; optionally fails after them; records whether it was closed."""

    def __init__(self, parts: Sequence[bytes], fail: Exception | None = None) -> None:
        self.parts = parts
        self.fail = fail
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part
        if self.fail is not None:
            raise self.fail

    async def aclose(self) -> None:
        self.closed = True


def sse(*objects: object, done: bool = True) -> list[bytes]:
    parts = [f"data: {json.dumps(o)}\n\n".encode() for o in objects]
    return [*parts, b"data: [DONE]\n\n"] if done else parts


def delta(text: str, finish: str | None = None) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}


USAGE_CHUNK = {
    "choices": [],
    "usage": {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24},
    "timings": {"prompt_ms": 65.3, "predicted_ms": 64.6, "predicted_per_second": 108.3},
}
SSE_HEADERS = {"content-type": "text/event-stream"}


def backend(handler: Handler, *, api_key: str | None = None) -> OpenAICompatBackend:
    http = HttpConnection(
        "http://127.0.0.1:9", api_key=api_key, connect_s=1, stall_s=1, transport=httpx.MockTransport(handler)
    )
    return OpenAICompatBackend("openai@test", http, clock=FakeClock())


def stream_response(parts: Sequence[bytes], fail: Exception | None = None) -> httpx.Response:
    return httpx.Response(200, headers=SSE_HEADERS, stream=ChunkStream(parts, fail))


async def collect(b: OpenAICompatBackend, params: GenerationParams | None = None) -> list[StreamChunk]:
    return [c async for c in b.stream_chat("m", MSGS, params or GenerationParams())]


async def failure(b: OpenAICompatBackend) -> BackendError:
    with pytest.raises(BackendError) as info:
        await collect(b)
    return info.value


async def test_streams_text_then_final_chunk_with_usage_timings_and_finish_reason() -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return stream_response(sse(delta("Par"), delta("is"), delta("", "stop"), USAGE_CHUNK))

    chunks = await collect(
        backend(handler), GenerationParams(max_tokens=8, temperature=0.2, seed=3, stop=("\n",))
    )
    assert [c.text for c in chunks if not c.done] == ["Par", "is"]
    final = chunks[-1]
    assert final.done and final.finish_reason == "stop"
    assert final.usage is not None and (final.usage.prompt_tokens, final.usage.completion_tokens) == (21, 3)
    assert final.timings is not None and final.timings.predicted_per_second == pytest.approx(108.3)
    body = seen[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert (body["max_tokens"], body["temperature"], body["seed"], body["stop"]) == (8, 0.2, 3, ["\n"])
    assert "top_p" not in body and "num_ctx" not in body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]


ERROR_CASES: list[tuple[str, int, dict[str, str], bytes, FailureKind]] = [
    (
        "overflow",
        400,
        {},
        b'{"error":{"code":400,"type":"exceed_context_size_error","message":"too big",'
        b'"n_prompt_tokens":1500,"n_ctx":1024}}',
        K.CONTEXT_OVERFLOW,
    ),
    (
        "loading",
        503,
        {},
        b'{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}',
        K.MODEL_LOADING,
    ),
    (
        "not found",
        404,
        {},
        b'{"error":{"message":"The model `m` does not exist.","code":"model_not_found"}}',
        K.MODEL_NOT_FOUND,
    ),
    ("rate limited", 429, {"retry-after": "2"}, b'{"error":"slow down"}', K.RATE_LIMITED),
    ("auth", 401, {}, b'{"error":{"message":"Invalid API Key","type":"authentication_error"}}', K.AUTH),
    ("oom", 500, {}, b'{"error":"cudaMalloc failed: out of memory"}', K.OUT_OF_MEMORY),
    ("bad request", 422, {}, b'{"detail":"messages: field required"}', K.BAD_REQUEST),
    ("server error", 500, {}, b"Internal Server Error", K.SERVER_ERROR),
]


@pytest.mark.parametrize(
    ("name", "status", "headers", "body", "kind"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES]
)
async def test_http_errors_raise_classified_backend_errors(
    name: str, status: int, headers: dict[str, str], body: bytes, kind: FailureKind
) -> None:
    err = await failure(backend(lambda _r: httpx.Response(status, headers=headers, content=body)))
    assert err.kind is kind
    assert err.status == status


async def test_overflow_error_carries_token_numbers_and_rate_limit_its_retry_after() -> None:
    overflow = await failure(backend(lambda _r: httpx.Response(400, content=ERROR_CASES[0][3])))
    assert (overflow.n_prompt_tokens, overflow.n_ctx) == (1500, 1024)
    limited = await failure(
        backend(lambda _r: httpx.Response(429, headers={"retry-after": "2"}, content=b"{}"))
    )
    assert limited.retry_after == 2.0


STREAM_CASES: list[tuple[str, Callable[[], httpx.Response], FailureKind]] = [
    (
        "200 json error body (LM Studio)",
        lambda: httpx.Response(200, json={"error": "Model unloaded."}),
        K.BAD_RESPONSE,
    ),
    (
        "200 json context error",
        lambda: httpx.Response(200, json={"error": "context length exceeded"}),
        K.CONTEXT_OVERFLOW,
    ),
    ("200 html body", lambda: httpx.Response(200, text="<html>hi</html>"), K.BAD_RESPONSE),
    ("200 json without choices", lambda: httpx.Response(200, json={"ok": True}), K.BAD_RESPONSE),
    (
        "error inside sse data",
        lambda: stream_response(sse(delta("a"), {"error": {"message": "out of memory"}})),
        K.OUT_OF_MEMORY,
    ),
    (
        "unclassifiable error in sse",
        lambda: stream_response(sse(delta("a"), {"error": "boom"})),
        K.BAD_RESPONSE,
    ),
    (
        "sse error event",
        lambda: stream_response([b'event: error\ndata: {"message": "x"}\n\n']),
        K.BAD_RESPONSE,
    ),
    ("malformed sse json", lambda: stream_response([b'data: {"choices": [\n\n']), K.BAD_RESPONSE),
    (
        "garbage sse line",
        lambda: stream_response([*sse(delta("a"), done=False), b"Traceback (most recent)\n"]),
        K.BAD_RESPONSE,
    ),
    (
        "ends without [DONE] or finish",
        lambda: stream_response(sse(delta("a"), delta("b"), done=False)),
        K.CONNECTION_LOST,
    ),
    (
        "cut mid-event",
        lambda: stream_response([*sse(delta("a"), done=False), b'data: {"choi']),
        K.CONNECTION_LOST,
    ),
    (
        "peer closed mid-stream",
        lambda: stream_response(
            sse(delta("a"), done=False), httpx.RemoteProtocolError("peer closed connection")
        ),
        K.CONNECTION_LOST,
    ),
    (
        "read error mid-stream",
        lambda: stream_response(sse(delta("a"), done=False), httpx.ReadError("connection reset")),
        K.CONNECTION_LOST,
    ),
    (
        "stall mid-stream",
        lambda: stream_response(sse(delta("a"), done=False), httpx.ReadTimeout("timed out")),
        K.STALL_TIMEOUT,
    ),
]


@pytest.mark.parametrize(("name", "make", "kind"), STREAM_CASES, ids=[c[0] for c in STREAM_CASES])
async def test_odd_200_answers_and_broken_streams(
    name: str, make: Callable[[], httpx.Response], kind: FailureKind
) -> None:
    err = await failure(backend(lambda _r: make()))
    assert err.kind is kind, err.detail


async def test_text_before_a_mid_stream_cut_is_delivered_first() -> None:
    b = backend(
        lambda _r: stream_response(sse(delta("Hel"), delta("lo"), done=False), httpx.ReadError("reset"))
    )
    got: list[str] = []
    with pytest.raises(BackendError) as info:
        async for chunk in b.stream_chat("m", MSGS, GenerationParams()):
            got.append(chunk.text)
    assert got == ["Hel", "lo"]
    assert info.value.kind is K.CONNECTION_LOST


async def test_finish_reason_without_done_marker_completes() -> None:
    chunks = await collect(
        backend(lambda _r: stream_response(sse(delta("a"), delta("", "length"), done=False)))
    )
    assert chunks[-1].done and chunks[-1].finish_reason == "length"


async def test_keepalive_comments_are_ignored() -> None:
    parts = [b": ping\n\n", *sse(delta("x"), delta("", "stop"))]
    chunks = await collect(backend(lambda _r: stream_response(parts)))
    assert [c.text for c in chunks] == ["x", ""]


async def test_server_that_ignores_stream_true_is_accepted() -> None:
    body = {
        "choices": [{"message": {"content": "Paris"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5},
    }
    chunks = await collect(backend(lambda _r: httpx.Response(200, json=body)))
    assert [c.text for c in chunks] == ["Paris", ""]
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 5


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), K.CONNECTION_REFUSED),
        (httpx.ConnectTimeout("timed out"), K.CONNECT_TIMEOUT),
        (httpx.ReadTimeout("timed out"), K.STALL_TIMEOUT),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), K.CONNECTION_LOST),
    ],
)
async def test_transport_failures_before_any_answer(exc: Exception, kind: FailureKind) -> None:
    def handler(_r: httpx.Request) -> httpx.Response:
        raise exc

    assert (await failure(backend(handler))).kind is kind


async def test_closing_the_generator_early_closes_the_response() -> None:
    body = ChunkStream(sse(*(delta(f"t{i}") for i in range(50))))
    b = backend(lambda _r: httpx.Response(200, headers=SSE_HEADERS, stream=body))
    gen = b.stream_chat("m", MSGS, GenerationParams())
    first = await anext(gen)
    assert first.text == "t0" and not body.closed
    await gen.aclose()  # type: ignore[attr-defined]
    assert body.closed


async def test_list_models_reads_vllm_max_model_len_and_tolerates_missing_lmstudio_api() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "qwen", "max_model_len": 32768}, {"id": "phi"}]})
        return httpx.Response(404, json={"detail": "Not Found"})

    models = await backend(handler).list_models()
    assert [(m.name, m.loaded_context) for m in models] == [("qwen", 32768), ("phi", None)]


async def test_list_models_merges_lmstudio_windows_and_state() -> None:
    lms = {
        "data": [
            {
                "id": "llama-3.2-1b",
                "state": "loaded",
                "max_context_length": 131072,
                "loaded_context_length": 4096,
                "quantization": "Q4_K_M",
                "arch": "llama",
            },
            {"id": "qwen", "state": "not-loaded", "max_context_length": 32768},
        ]
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "llama-3.2-1b"}, {"id": "qwen"}]})
        return httpx.Response(200, json=lms)

    llama, qwen = await backend(handler).list_models()
    assert (llama.trained_context, llama.loaded_context, llama.loaded, llama.quantization) == (
        131072,
        4096,
        True,
        "Q4_K_M",
    )
    assert (qwen.trained_context, qwen.loaded_context, qwen.loaded) == (32768, None, False)


async def test_describe_unknown_model_is_model_not_found() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "a"}]})
        return httpx.Response(404)

    b = backend(handler)
    assert (await b.describe("a")).name == "a"
    with pytest.raises(BackendError) as info:
        await b.describe("zzz")
    assert info.value.kind is K.MODEL_NOT_FOUND


async def test_probe_reports_up_loading_and_down_without_raising() -> None:
    up = await backend(lambda _r: httpx.Response(200, json={"data": []})).probe()
    loading = await backend(lambda _r: httpx.Response(503, content=ERROR_CASES[1][3])).probe()

    def refuse(_r: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    down = await backend(refuse).probe()
    assert (up.state, loading.state, down.state) == (ServerState.UP, ServerState.LOADING, ServerState.DOWN)
    assert down.detail.startswith("connection_refused")
    assert up.latency_s == 0.0  # the fake clock did not move


async def test_generic_openai_server_cannot_count_tokens() -> None:
    assert await backend(lambda _r: httpx.Response(500)).count_tokens("m", MSGS) is None


async def test_a_stale_keep_alive_socket_is_retried_once_transparently() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return stream_response(sse(delta("ok"), delta("", "stop")))

    chunks = await collect(backend(handler))
    assert len(calls) == 2 and "".join(c.text for c in chunks) == "ok"


async def test_a_server_that_keeps_dropping_connections_is_connection_lost() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    with pytest.raises(BackendError) as info:
        await collect(backend(handler))
    assert info.value.kind is K.CONNECTION_LOST
