"""`CountingFakeBackend`: a FAKE backend (engine tests only) that can count tokens like llama.cpp's
`/apply-template` + `/tokenize` would, with a made-up deterministic rule.

A conversation costs FRAME + Σ (words of the content + PER_MESSAGE); every `count_tokens` call is
recorded, so tests can assert that only new messages were counted. The answer's usage reports the
same count for what was received (or `report_prompt_tokens` when a test sets it, e.g. to fake a
server that truncated silently).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from steward.engine.clock import Clock
from steward.engine.types import ChatMessage, GenerationParams, StreamChunk, Usage
from tests.support.fake_backend import FakeBackend

FRAME = 3
PER_MESSAGE = 4


def fake_count(messages: Sequence[ChatMessage]) -> int:
    """The fake tokenizer's count of a conversation."""
    return FRAME + sum(len(m.content.split()) + PER_MESSAGE for m in messages)


class CountingFakeBackend(FakeBackend):
    """FakeBackend whose `count_tokens` is exact for its own (fake) tokenizer."""

    def __init__(self, server_id: str, clock: Clock, models: dict[str, int | None] | None = None) -> None:
        super().__init__(server_id, clock, models)
        self.count_calls: list[tuple[ChatMessage, ...]] = []
        self.report_prompt_tokens: int | None = None

    async def count_tokens(self, model: str, messages: Sequence[ChatMessage]) -> int | None:
        self.count_calls.append(tuple(messages))
        return fake_count(messages)

    async def stream_chat(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[StreamChunk]:
        async for chunk in super().stream_chat(model, messages, params):
            if chunk.done:
                reported = self.report_prompt_tokens or fake_count(messages)
                chunk = StreamChunk(
                    done=True, finish_reason=chunk.finish_reason, usage=Usage(reported, len(chunk.text))
                )
            yield chunk
