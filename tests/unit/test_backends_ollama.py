"""Ollama adapter on `httpx.MockTransport`: option mapping, NDJSON parsing, errors, model description."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from tests.support.fake_clock import FakeClock

from steward.backends.http import HttpConnection
from steward.backends.ollama import OllamaBackend, ollama_options
from steward.engine.failures import BackendError, FailureKind
from steward.engine.types import ChatMessage, GenerationParams, ServerState, StreamChunk

K = FailureKind
MSGS = [ChatMessage("user", "hi")]
NDJSON = {"content-type": "application/x-ndjson"}
DONE = {
    "model": "llama3.2",
    "message": {"role": "assistant", "content": ""},
    "done": True,
    "done_reason": "stop",
    "total_duration": 900_000_000,
    "load_duration": 250_000_000,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 130_000_000,
    "eval_count": 2,
    "eval_duration": 40_000_000,
}


def piece(text: str) -> dict[str, object]:
    return {"model": "llama3.2", "message": {"role": "assistant", "content": text}, "done": False}


def ndjson(*lines: object) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def backend(handler: Callable[[httpx.Request], httpx.Response]) -> OllamaBackend:
    http = HttpConnection(
        "http://127.0.0.1:9", connect_s=1, stall_s=1, transport=httpx.MockTransport(handler)
    )
    return OllamaBackend("ollama@test", http, clock=FakeClock())


async def collect(b: OllamaBackend, params: GenerationParams | None = None) -> list[StreamChunk]:
    return [c async for c in b.stream_chat("llama3.2", MSGS, params or GenerationParams())]


async def failure(b: OllamaBackend) -> BackendError:
    with pytest.raises(BackendError) as info:
        await collect(b)
    return info.value


def test_generation_params_map_to_ollama_options() -> None:
    params = GenerationParams(max_tokens=64, temperature=0.1, top_p=0.9, seed=7, stop=("###",), num_ctx=8192)
    assert ollama_options(params) == {
        "num_ctx": 8192,
        "num_predict": 64,
        "temperature": 0.1,
        "top_p": 0.9,
        "seed": 7,
        "stop": ["###"],
    }
    assert ollama_options(GenerationParams()) == {}


async def test_stream_yields_text_then_usage_and_timings_from_the_done_line() -> None:
    sent: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, headers=NDJSON, content=ndjson(piece("Pa"), piece("ris"), DONE))

    chunks = await collect(backend(handler), GenerationParams(num_ctx=4096, max_tokens=16))
    assert [c.text for c in chunks] == ["Pa", "ris", ""]
    final = chunks[-1]
    assert final.done and final.finish_reason == "stop"
    assert final.usage is not None and (final.usage.prompt_tokens, final.usage.completion_tokens) == (26, 2)
    assert final.timings is not None
    assert (final.timings.prompt_ms, final.timings.predicted_ms, final.timings.load_ms) == (
        130.0,
        40.0,
        250.0,
    )
    assert final.timings.predicted_per_second == pytest.approx(50.0)
    assert sent[0]["stream"] is True and sent[0]["options"] == {"num_ctx": 4096, "num_predict": 16}


ERRORS: list[tuple[str, Callable[[], httpx.Response], FailureKind]] = [
    (
        "404 not found",
        lambda: httpx.Response(404, json={"error": 'model "llama3.2" not found, try pulling it first'}),
        K.MODEL_NOT_FOUND,
    ),
    (
        "503 busy",
        lambda: httpx.Response(
            503, json={"error": "server busy, please try again.  maximum pending requests exceeded"}
        ),
        K.SERVER_BUSY,
    ),
    (
        "500 oom",
        lambda: httpx.Response(
            500, json={"error": "model requires more system memory (9.6 GiB) than is available (3.1 GiB)"}
        ),
        K.OUT_OF_MEMORY,
    ),
    (
        "400 prompt too long",
        lambda: httpx.Response(400, json={"error": "the prompt is longer than the context length"}),
        K.CONTEXT_OVERFLOW,
    ),
    (
        "error line in 200 stream",
        lambda: httpx.Response(
            200,
            headers=NDJSON,
            content=ndjson(
                piece("a"), {"error": "an error was encountered while running the model: unexpected EOF"}
            ),
        ),
        K.BAD_RESPONSE,
    ),
    (
        "oom line in 200 stream",
        lambda: httpx.Response(
            200, headers=NDJSON, content=ndjson({"error": "cudaMalloc failed: out of memory"})
        ),
        K.OUT_OF_MEMORY,
    ),
    (
        "malformed line",
        lambda: httpx.Response(200, headers=NDJSON, content=ndjson(piece("a")) + b"garbage\n"),
        K.BAD_RESPONSE,
    ),
    (
        "json that is not an object",
        lambda: httpx.Response(200, headers=NDJSON, content=b"[1, 2]\n"),
        K.BAD_RESPONSE,
    ),
    (
        "no done line",
        lambda: httpx.Response(200, headers=NDJSON, content=ndjson(piece("a"), piece("b"))),
        K.CONNECTION_LOST,
    ),
    (
        "cut inside a line",
        lambda: httpx.Response(200, headers=NDJSON, content=ndjson(piece("a")) + b'{"model":"ll'),
        K.CONNECTION_LOST,
    ),
]


@pytest.mark.parametrize(("name", "make", "kind"), ERRORS, ids=[e[0] for e in ERRORS])
async def test_error_shapes(name: str, make: Callable[[], httpx.Response], kind: FailureKind) -> None:
    assert (await failure(backend(lambda _r: make()))).kind is kind


async def test_list_models_marks_loaded_ones_from_ps() -> None:
    tags = {
        "models": [
            {
                "name": "llama3.2",
                "size": 2_019_393_189,
                "details": {"family": "llama", "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
            },
            {"name": "qwen", "size": 10, "details": {}},
        ]
    }
    ps = {
        "models": [
            {
                "name": "llama3.2",
                "size_vram": 1_500_000_000,
                "context_length": 4096,
                "expires_at": "2030-01-01T00:05:00Z",
            }
        ]
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=tags if request.url.path == "/api/tags" else ps)

    llama, qwen = await backend(handler).list_models()
    assert (llama.loaded, llama.vram_bytes, llama.loaded_context) == (True, 1_500_000_000, 4096)
    assert (llama.parameter_size, llama.quantization, llama.family) == ("3.2B", "Q4_K_M", "llama")
    assert llama.extra["expires_at"] == "2030-01-01T00:05:00Z"
    assert (qwen.loaded, qwen.vram_bytes, qwen.quantization) == (False, None, None)


async def test_describe_reads_trained_window_and_parameter_count_from_show() -> None:
    show = {
        "parameters": 'num_ctx                        8192\nstop "<|eot_id|>"',
        "details": {"quantization_level": "Q4_K_M", "family": "llama", "parameter_size": "3.2B"},
        "model_info": {
            "general.architecture": "llama",
            "general.parameter_count": 3_212_749_888,
            "llama.context_length": 131072,
        },
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/show":
            assert json.loads(request.content) == {"model": "llama3.2"}
            return httpx.Response(200, json=show)
        return httpx.Response(200, json={"models": []})

    info = await backend(handler).describe("llama3.2")
    assert (info.trained_context, info.parameter_count, info.quantization) == (
        131072,
        3_212_749_888,
        "Q4_K_M",
    )
    assert info.extra["num_ctx"] == "8192" and info.loaded is False


async def test_describe_unknown_model_is_model_not_found() -> None:
    b = backend(lambda _r: httpx.Response(404, json={"error": "model 'nope' not found"}))
    with pytest.raises(BackendError) as info:
        await b.describe("nope")
    assert info.value.kind is K.MODEL_NOT_FOUND


async def test_load_and_unload_send_empty_chats_with_keep_alive() -> None:
    sent: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"model": "llama3.2", "done": True, "done_reason": "load"})

    b = backend(handler)
    await b.load("llama3.2", num_ctx=8192, keep_alive="10m")
    await b.unload("llama3.2")
    assert sent == [
        {
            "model": "llama3.2",
            "messages": [],
            "stream": False,
            "options": {"num_ctx": 8192},
            "keep_alive": "10m",
        },
        {"model": "llama3.2", "messages": [], "keep_alive": 0, "stream": False},
    ]


async def test_probe_up_and_down_and_no_token_counting() -> None:
    up = backend(lambda _r: httpx.Response(200, text="Ollama is running"))
    assert (await up.probe()).state is ServerState.UP
    assert (await up.probe()).detail == "Ollama is running"
    assert (await backend(lambda _r: httpx.Response(500)).probe()).state is ServerState.DOWN
    assert await up.count_tokens("llama3.2", MSGS) is None
