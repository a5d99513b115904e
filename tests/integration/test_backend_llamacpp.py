"""The llama.cpp adapter against the REAL llama-server (SmolLM2-135M, 1024-token window)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.support.fault_proxy import FaultProxy, LimitData
from tests.support.llama import LlamaServer

from steward.backends.factory import make_backend
from steward.backends.llamacpp import LlamaCppBackend
from steward.engine.failures import BackendError, FailureKind
from steward.engine.types import ChatMessage, GenerationParams, ServerState

CONVERSATION = [
    ChatMessage("system", "You are a concise assistant."),
    ChatMessage("user", "What is the capital of France?"),
    ChatMessage("assistant", "The capital of France is Paris."),
    ChatMessage("user", "And of Italy? Answer in one word, please: <b>bold</b> & émojis 🙂."),
]


def make(url: str) -> LlamaCppBackend:
    backend = make_backend("llamacpp", "llamacpp@test", url, api_key=None, connect_s=2.0, stall_s=30.0)
    assert isinstance(backend, LlamaCppBackend)
    return backend


@pytest.fixture
async def llama(llama_small: LlamaServer) -> AsyncIterator[LlamaCppBackend]:
    backend = make(llama_small.url)
    yield backend
    await backend.aclose()


async def test_probe_reports_up(llama: LlamaCppBackend) -> None:
    result = await llama.probe()
    assert result.state is ServerState.UP
    assert result.latency_s is not None and result.latency_s >= 0


async def test_list_models_is_the_loaded_gguf(llama: LlamaCppBackend) -> None:
    (info,) = await llama.list_models()
    assert info.name == "SmolLM2-135M-Instruct.Q4_1", "named by the file's stem, not its full path"
    assert info.extra["model_path"].endswith("/SmolLM2-135M-Instruct.Q4_1.gguf")
    assert info.loaded is True and info.loaded_context == 1024
    assert info.trained_context == 8192 and info.quantization == "Q4_1"


async def test_describe_reports_the_1024_window_and_slots(llama: LlamaCppBackend) -> None:
    info = await llama.describe("whatever-name")
    assert info.loaded_context == 1024
    assert info.slots is not None and info.slots >= 1
    assert info.parameter_count is not None and 100_000_000 < info.parameter_count < 200_000_000


async def test_stream_real_chat_delivers_tokens_then_usage(llama: LlamaCppBackend) -> None:
    chunks = [
        c async for c in llama.stream_chat("m", CONVERSATION[:2], GenerationParams(max_tokens=16, seed=1))
    ]
    text = "".join(c.text for c in chunks)
    final = chunks[-1]
    assert len([c for c in chunks if c.text]) >= 2 and text.strip()
    assert final.done and final.finish_reason in ("stop", "length")
    assert (
        final.usage is not None and final.usage.prompt_tokens is not None and final.usage.prompt_tokens > 10
    )
    assert final.usage.completion_tokens is not None and 1 <= final.usage.completion_tokens <= 16
    assert final.timings is not None and final.timings.predicted_per_second is not None


async def test_count_tokens_matches_the_prompt_tokens_the_server_reports(llama: LlamaCppBackend) -> None:
    counted = await llama.count_tokens("m", CONVERSATION)
    chunks = [c async for c in llama.stream_chat("m", CONVERSATION, GenerationParams(max_tokens=1))]
    reported = chunks[-1].usage.prompt_tokens if chunks[-1].usage else None
    assert counted is not None and reported is not None
    assert counted == reported, f"count_tokens={counted} usage.prompt_tokens={reported}"


async def test_oversized_prompt_is_context_overflow_from_the_real_400(llama: LlamaCppBackend) -> None:
    long = [ChatMessage("user", "hello world " * 800)]
    with pytest.raises(BackendError) as info:
        async for _ in llama.stream_chat("m", long, GenerationParams(max_tokens=4)):
            pass
    err = info.value
    assert err.kind is FailureKind.CONTEXT_OVERFLOW and err.status == 400
    assert err.n_ctx == 1024
    assert err.n_prompt_tokens is not None and err.n_prompt_tokens > 1024
    assert err.n_prompt_tokens == await llama.count_tokens("m", long)


async def _processing_slots(url: str) -> int:
    async with httpx.AsyncClient(trust_env=False) as client:
        slots = (await client.get(f"{url}/slots")).json()
    return sum(1 for s in slots if s.get("is_processing"))


async def test_closing_the_stream_early_stops_generation(
    llama: LlamaCppBackend, llama_small: LlamaServer
) -> None:
    params = GenerationParams(max_tokens=600, temperature=1.0, seed=3)
    prompt = [ChatMessage("user", "Write a very long story about a dragon, a knight and a baker.")]
    gen = llama.stream_chat("m", prompt, params)
    received = [await anext(gen) for _ in range(3)]
    assert all(c.text for c in received)
    assert await _processing_slots(llama_small.url) == 1
    await gen.aclose()  # type: ignore[attr-defined]
    for _ in range(40):  # the server notices the closed socket at its next token
        if await _processing_slots(llama_small.url) == 0:
            break
        await asyncio.sleep(0.05)
    assert await _processing_slots(llama_small.url) == 0


async def test_connection_cut_mid_stream_is_connection_lost(llama_small: LlamaServer) -> None:
    with FaultProxy("127.0.0.1", llama_small.port) as proxy:
        backend = make(proxy.url)
        proxy.set_fault(LimitData(n_bytes=1500))  # headers + a few SSE events, then FIN
        got: list[str] = []
        with pytest.raises(BackendError) as info:
            async for chunk in backend.stream_chat("m", CONVERSATION[:2], GenerationParams(max_tokens=200)):
                got.append(chunk.text)
        await backend.aclose()
    assert info.value.kind is FailureKind.CONNECTION_LOST
    assert got, "some tokens arrived before the cut"


async def test_refused_server_is_connection_refused_and_probe_down(llama_small: LlamaServer) -> None:
    with FaultProxy("127.0.0.1", llama_small.port) as proxy:
        url = proxy.url
    backend = make(url)  # the proxy is stopped: nothing listens there any more
    assert (await backend.probe()).state is ServerState.DOWN
    with pytest.raises(BackendError) as info:
        async for _ in backend.stream_chat("m", CONVERSATION[:2], GenerationParams(max_tokens=4)):
            pass
    await backend.aclose()
    assert info.value.kind is FailureKind.CONNECTION_REFUSED
