"""A REAL degenerate model: Gemma 3 270M is a base model with no chat template; on a chat request
it loops on lines around `<|im_end|>`, varying a word now and then, until max_tokens. Steward
classifies that as degenerate output (not a server error, not a timeout) long before max_tokens,
closes the stream, and falls back to SmolLM2, which answers."""

from __future__ import annotations

import time

import pytest
from tests.support.gemma import GEMMA_STEM
from tests.support.llama import LlamaServer

from steward.backends.factory import make_backend
from steward.engine.core import Engine
from steward.engine.events import AttemptFailed, Completed, EngineEvent, PartialAbandoned
from steward.engine.failures import FailureKind
from steward.engine.request import ChatRequest
from steward.engine.settings import EngineSettings, TimeoutSettings
from steward.engine.types import ChatMessage, GenerationParams

SMOL = "SmolLM2-135M-Instruct.Q4_1"


@pytest.mark.timeout(300)  # Gemma generates ~4 tokens/s when the 2 cores are busy
async def test_gemma_base_model_loop_is_degenerate_output_and_smollm2_answers(
    llama_gemma: LlamaServer, llama_small: LlamaServer
) -> None:
    engine = Engine(EngineSettings(timeouts=TimeoutSettings(first_token_s=60.0, stall_s=30.0)))
    for sid, url in (("gemma", llama_gemma.url), ("smol", llama_small.url)):
        engine.add_backend(make_backend("llamacpp", sid, url, api_key=None, connect_s=1.0, stall_s=65.0))
    assert await engine.refresh_models() == []
    engine.set_fallback_chain([f"gemma/{GEMMA_STEM}", f"smol/{SMOL}"])
    request = ChatRequest(
        (ChatMessage("user", "What is the capital of France?"),),
        model=f"gemma/{GEMMA_STEM}",
        params=GenerationParams(max_tokens=1500, seed=1),
    )
    events: list[EngineEvent] = []
    t0 = time.monotonic()
    async for event in engine.chat(request):
        events.append(event)
    took = time.monotonic() - t0
    failed = [e for e in events if isinstance(e, AttemptFailed)]
    assert [(e.model, e.kind) for e in failed] == [(f"gemma/{GEMMA_STEM}", FailureKind.DEGENERATE_OUTPUT)]
    abandoned = [e for e in events if isinstance(e, PartialAbandoned)]
    assert abandoned and "<|im_end|>" in abandoned[0].text
    assert len(abandoned[0].text) < 2500, "caught long before max_tokens (1500 tokens, ~4000 characters)"
    done = events[-1]
    assert isinstance(done, Completed) and done.model == f"smol/{SMOL}" and done.text.strip()
    state = engine.model(f"smol/{SMOL}")
    assert state is not None and state.breaker.consecutive_failures == 0
    print(f"gemma loop caught and answered by SmolLM2 in {took:.1f} s")
    await engine.aclose()
