"""llama.cpp adapter on mock answers shaped like the real llama-server's (recorded from build 11434)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from tests.support.fake_clock import FakeClock

from steward.backends.http import HttpConnection
from steward.backends.llamacpp import LlamaCppBackend
from steward.engine.failures import BackendError, FailureKind
from steward.engine.types import ChatMessage, ServerState

MODEL = "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
MODELS = {
    "object": "list",
    "data": [
        {
            "id": MODEL,
            "object": "model",
            "owned_by": "llamacpp",
            "meta": {
                "n_ctx": 1024,
                "n_ctx_train": 8192,
                "n_params": 134515008,
                "size": 96576768,
                "ftype": "Q4_1",
            },
        }
    ],
}
PROPS = {
    "default_generation_settings": {"n_ctx": 1024},
    "total_slots": 4,
    "model_path": MODEL,
    "model_ftype": "Q4_1",
    "build_info": "b0-unknown",
}
SLOTS = [{"id": i, "n_ctx": 1024, "is_processing": False} for i in range(4)]
MSGS = [ChatMessage("user", "hi")]


def backend(routes: dict[str, Callable[[httpx.Request], httpx.Response]]) -> LlamaCppBackend:
    def handler(request: httpx.Request) -> httpx.Response:
        route = routes.get(request.url.path)
        return (
            route(request)
            if route
            else httpx.Response(404, json={"error": {"code": 404, "type": "not_found_error"}})
        )

    http = HttpConnection(
        "http://127.0.0.1:9", connect_s=1, stall_s=1, transport=httpx.MockTransport(handler)
    )
    return LlamaCppBackend("llamacpp@test", http, clock=FakeClock())


def ok(payload: object) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _r: httpx.Response(200, json=payload)


async def test_list_models_is_the_one_loaded_model_with_its_meta() -> None:
    (info,) = await backend({"/v1/models": ok(MODELS)}).list_models()
    assert (info.name, info.loaded, info.loaded_context, info.trained_context) == (
        "SmolLM2-135M-Instruct.Q4_1",
        True,
        1024,
        8192,
    )
    assert info.extra["model_path"] == MODEL
    assert (info.parameter_count, info.size_bytes, info.quantization) == (134515008, 96576768, "Q4_1")


async def test_describe_reads_slots_and_props() -> None:
    slots = [{"id": 0, "n_ctx": 512}, {"id": 1, "n_ctx": 512}]
    info = await backend({"/v1/models": ok(MODELS), "/props": ok(PROPS), "/slots": ok(slots)}).describe(
        "anything"
    )
    assert info.loaded_context == 512  # the per-slot window wins over /props and /v1/models
    assert info.slots == 4
    assert info.extra["model_path"] == MODEL


async def test_describe_tolerates_slots_endpoint_switched_off() -> None:
    off = {
        "error": {
            "code": 501,
            "message": "This server does not support slots endpoint.",
            "type": "not_supported_error",
        }
    }
    props = {**PROPS, "default_generation_settings": {"n_ctx": 2048}}
    routes = {
        "/v1/models": ok(MODELS),
        "/props": ok(props),
        "/slots": lambda _r: httpx.Response(501, json=off),
    }
    info = await backend(routes).describe(MODEL)
    assert (info.loaded_context, info.slots) == (2048, 4)


async def test_describe_without_a_loaded_model_is_model_not_found() -> None:
    with pytest.raises(BackendError) as info:
        await backend({"/v1/models": ok({"data": []})}).describe(MODEL)
    assert info.value.kind is FailureKind.MODEL_NOT_FOUND


async def test_count_tokens_uses_the_one_call_endpoint_when_the_build_has_it() -> None:
    seen: list[str] = []

    def counted(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        assert json.loads(request.content) == {"messages": [{"role": "user", "content": "hi"}]}
        return httpx.Response(200, json={"input_tokens": 31, "object": "response.input_tokens"})

    b = backend({"/v1/chat/completions/input_tokens": counted})
    assert await b.count_tokens(MODEL, MSGS) == 31
    assert await b.count_tokens(MODEL, MSGS) == 31
    assert seen == ["/v1/chat/completions/input_tokens"] * 2, "one request per count, no template round trip"


async def test_count_tokens_renders_the_template_then_tokenizes_with_special_tokens() -> None:
    bodies: dict[str, object] = {}

    def record(path: str, payload: object) -> Callable[[httpx.Request], httpx.Response]:
        def handler(request: httpx.Request) -> httpx.Response:
            bodies[path] = json.loads(request.content)
            return httpx.Response(200, json=payload)

        return handler

    routes = {
        "/apply-template": record("/apply-template", {"prompt": "<|im_start|>user\nhi<|im_end|>\n"}),
        "/tokenize": record("/tokenize", {"tokens": [1, 4093, 198, 6004, 2, 198]}),
    }
    assert await backend(routes).count_tokens(MODEL, MSGS) == 6
    assert bodies["/apply-template"] == {"messages": [{"role": "user", "content": "hi"}]}
    assert bodies["/tokenize"] == {
        "content": "<|im_start|>user\nhi<|im_end|>\n",
        "add_special": True,
        "parse_special": True,
    }


async def test_count_tokens_is_none_on_builds_without_the_endpoints() -> None:
    assert await backend({}).count_tokens(MODEL, MSGS) is None


async def test_probe_uses_health_and_sees_loading() -> None:
    loading = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
    b = backend({"/health": lambda _r: httpx.Response(503, json=loading)})
    assert (await b.probe()).state is ServerState.LOADING
    assert (await backend({"/health": ok({"status": "ok"})}).probe()).state is ServerState.UP
    assert b.kind == "llamacpp"
