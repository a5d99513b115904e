"""Summaries of dropped turns, written by a model through the engine itself, cached by content.

The engine never imports a backend: the composition root passes an async `summarize(text) -> str`
(usually `engine_summarizer(engine.chat)`). The summary enters the conversation as a system message
"Summary of N earlier messages: ..." in the place of the messages it replaces.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from steward.engine.events import Completed, EngineEvent, RequestFailed
from steward.engine.request import ChatRequest
from steward.engine.router import AUTO
from steward.engine.settings import ContextPolicy
from steward.engine.types import ChatMessage, GenerationParams

Summarize = Callable[[str], Awaitable[str]]
SUMMARY_PREFIX = "Summary of {n} earlier messages: "
INSTRUCTION = (
    "Summarize the following conversation excerpt in a few sentences. Keep names, numbers, decisions "
    "and open questions. Answer with the summary only."
)


class SummaryFailed(Exception):
    """No summary could be written (no summarizer, or the model failed); the caller falls back."""


def dropped_key(dropped: Sequence[ChatMessage]) -> str:
    """A stable key for a run of messages (role and content of each)."""
    digest = hashlib.sha256()
    for message in dropped:
        digest.update(message.role.encode())
        digest.update(b"\x00")
        digest.update(message.content.encode())
        digest.update(b"\x01")
    return digest.hexdigest()


def render(dropped: Sequence[ChatMessage]) -> str:
    """The dropped messages as plain text for the summarizing model."""
    return "\n".join(f"{m.role}: {m.content}" for m in dropped)


def summary_message(count: int, text: str) -> ChatMessage:
    """The system message that stands for `count` dropped messages."""
    return ChatMessage("system", SUMMARY_PREFIX.format(n=count) + text.strip())


class Summarizer:
    """Writes (or recalls) the summary of a run of dropped messages."""

    def __init__(self, summarize: Summarize | None, cache_size: int = 128) -> None:
        self._summarize = summarize
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._cache_size = cache_size
        self.written = 0  # summaries actually asked of a model

    @property
    def available(self) -> bool:
        return self._summarize is not None

    async def summary(self, dropped: Sequence[ChatMessage]) -> str:
        """The summary text; raises SummaryFailed when none can be written."""
        key = dropped_key(dropped)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        if self._summarize is None:
            raise SummaryFailed("no summarizer is configured")
        try:
            text = (await self._summarize(render(dropped))).strip()
        except Exception as exc:  # any failure of the summarizing request means: fall back
            raise SummaryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not text:
            raise SummaryFailed("the summarizer answered nothing")
        self.written += 1
        self._cache[key] = text
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return text


def engine_summarizer(
    chat: Callable[[ChatRequest], AsyncIterator[EngineEvent]],
    *,
    model: str = AUTO,
    max_tokens: int = 200,
    max_input_chars: int = 8000,
) -> Summarize:
    """A `Summarize` that asks the engine itself (`engine.chat`) for the summary.

    Its own request uses the sliding window (never `summarize`, so it cannot recurse) and sends at
    most the last `max_input_chars` characters of the excerpt.
    """

    async def summarize(text: str) -> str:
        excerpt = text[-max_input_chars:]
        request = ChatRequest(
            messages=(ChatMessage("system", INSTRUCTION), ChatMessage("user", excerpt)),
            model=model,
            params=GenerationParams(max_tokens=max_tokens, temperature=0.0),
            context_policy=ContextPolicy.SLIDING_WINDOW,
        )
        answer: str | None = None
        failure = "the summarizing request ended without an answer"
        async for event in chat(request):  # consumed to the end, so the request closes cleanly
            if isinstance(event, Completed):
                answer = event.text
            elif isinstance(event, RequestFailed):
                failure = event.detail
        if answer is None:
            raise SummaryFailed(failure)
        return answer

    return summarize
