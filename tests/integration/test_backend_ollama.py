"""The Ollama adapter against `OllamaFake` (a protocol-faithful FAKE: no Ollama binary exists here)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from tests.support.ollama_fake import FakeModel, OllamaFake, count_prompt_tokens

from steward.backends.factory import make_backend
from steward.backends.ollama import OllamaBackend
from steward.engine.failures import BackendError, FailureKind
from steward.engine.types import ChatMessage, GenerationParams, ServerState, StreamChunk

MODEL = "llama3.2:1b"
QUESTION = [ChatMessage("user", "What is the capital of France?")]


@pytest.fixture
def fake() -> Iterator[OllamaFake]:
    with OllamaFake([FakeModel(MODEL, context_length=8192)], default_num_ctx=2048) as server:
        yield server


@pytest.fixture
async def ollama(fake: OllamaFake) -> AsyncIterator[OllamaBackend]:
    backend = make_backend("ollama", "ollama@fake", fake.url, api_key=None, connect_s=2.0, stall_s=5.0)
    assert isinstance(backend, OllamaBackend)
    yield backend
    await backend.aclose()


async def chat(
    backend: OllamaBackend, messages: list[ChatMessage], params: GenerationParams | None = None
) -> list[StreamChunk]:
    return [c async for c in backend.stream_chat(MODEL, messages, params or GenerationParams())]


async def chat_error(backend: OllamaBackend, model: str = MODEL) -> BackendError:
    with pytest.raises(BackendError) as info:
        async for _ in backend.stream_chat(model, QUESTION, GenerationParams()):
            pass
    return info.value


async def test_streaming_answer_with_usage(ollama: OllamaBackend, fake: OllamaFake) -> None:
    chunks = await chat(ollama, QUESTION, GenerationParams(num_ctx=4096, max_tokens=50, temperature=0.0))
    assert "".join(c.text for c in chunks) == "The capital of France is Paris."
    final = chunks[-1]
    assert final.done and final.finish_reason == "stop"
    assert final.usage is not None and final.usage.completion_tokens == len([c for c in chunks if c.text])
    assert final.timings is not None and final.timings.predicted_ms is not None
    sent = fake.bodies("/api/chat")[-1]
    assert sent["options"] == {"num_ctx": 4096, "num_predict": 50, "temperature": 0.0}


async def test_unknown_model_is_model_not_found(ollama: OllamaBackend) -> None:
    err = await chat_error(ollama, model="nope:7b")
    assert err.kind is FailureKind.MODEL_NOT_FOUND and err.status == 404


async def test_busy_server_is_server_busy(ollama: OllamaBackend, fake: OllamaFake) -> None:
    fake.busy(times=1)
    err = await chat_error(ollama)
    assert err.kind is FailureKind.SERVER_BUSY and err.status == 503
    assert (await chat(ollama, QUESTION))[-1].done  # next request is served again


async def test_out_of_memory_body(ollama: OllamaBackend, fake: OllamaFake) -> None:
    fake.out_of_memory(times=1)
    err = await chat_error(ollama)
    assert err.kind is FailureKind.OUT_OF_MEMORY
    assert "memory" in err.detail


async def test_error_inside_a_200_stream(ollama: OllamaBackend, fake: OllamaFake) -> None:
    fake.error_in_stream(after_n_chunks=2, times=1)
    err = await chat_error(ollama)
    assert err.kind is FailureKind.BAD_RESPONSE and err.status is None
    assert "unexpected EOF" in err.detail


async def test_malformed_line_is_bad_response(ollama: OllamaBackend, fake: OllamaFake) -> None:
    fake.malformed(after_n_chunks=1, times=1)
    assert (await chat_error(ollama)).kind is FailureKind.BAD_RESPONSE


async def test_cut_mid_stream_is_connection_lost(ollama: OllamaBackend, fake: OllamaFake) -> None:
    fake.cut_mid_stream(after_n_chunks=2, times=1)
    assert (await chat_error(ollama)).kind is FailureKind.CONNECTION_LOST


async def test_silent_truncation_is_visible_in_usage(ollama: OllamaBackend) -> None:
    history = [ChatMessage("system", "Be brief.")]
    for i in range(12):
        history += [
            ChatMessage("user", f"question {i} " + "word " * 60),
            ChatMessage("assistant", "ok " * 20),
        ]
    history.append(ChatMessage("user", "What is the capital of France?"))
    sent_tokens = count_prompt_tokens([{"role": m.role, "content": m.content} for m in history])
    chunks = await chat(ollama, history, GenerationParams(num_ctx=512))
    final = chunks[-1]
    assert final.done and final.usage is not None and final.usage.prompt_tokens is not None
    assert sent_tokens > 512
    assert final.usage.prompt_tokens <= 512 < sent_tokens  # 200 OK, but the prompt was cut to the window


async def test_describe_and_keep_alive_zero_unload(ollama: OllamaBackend, fake: OllamaFake) -> None:
    await ollama.load(MODEL, num_ctx=4096)
    info = await ollama.describe(MODEL)
    assert (info.loaded, info.loaded_context, info.trained_context) == (True, 4096, 8192)
    assert info.quantization == "Q8_0" and info.parameter_count == 1_235_814_432
    await ollama.unload(MODEL)
    assert fake.model(MODEL).loaded is False
    assert fake.bodies("/api/chat")[-1]["keep_alive"] == 0
    (listed,) = await ollama.list_models()
    assert listed.loaded is False


async def test_probe_up_then_down(fake: OllamaFake) -> None:
    url = fake.url
    up_backend = make_backend("ollama", "ollama@fake", url, api_key=None, connect_s=1.0, stall_s=2.0)
    assert (await up_backend.probe()).state is ServerState.UP
    await up_backend.aclose()
    fake.stop()
    # A fresh connection: the fake's stop() leaves already-open keep-alive connections served.
    backend = make_backend("ollama", "ollama@fake", url, api_key=None, connect_s=1.0, stall_s=2.0)
    down = await backend.probe()
    await backend.aclose()
    assert down.state is ServerState.DOWN and down.detail.startswith("connection_refused")
