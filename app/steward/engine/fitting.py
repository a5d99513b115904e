"""The hook through which the context fitter (see `steward.engine.context`) shapes each attempt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from steward.engine.events import ContextFitted
from steward.engine.registry import ModelState
from steward.engine.settings import ContextPolicy
from steward.engine.types import ChatMessage, GenerationParams, Usage


@dataclass(frozen=True)
class FitResult:
    """The conversation as it will be sent to one model, and what was done to it."""

    messages: tuple[ChatMessage, ...]
    params: GenerationParams
    expected_prompt_tokens: int | None = None
    event: ContextFitted | None = None
    exact: bool = False  # expected_prompt_tokens was counted by the server, not estimated


class ContextFitter(Protocol):
    async def fit(
        self,
        state: ModelState,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        policy: ContextPolicy,
        request_id: str | None,
    ) -> FitResult:
        """Fit `messages` to `state`'s window; raise BackendError(CONTEXT_OVERFLOW) to refuse."""
        ...

    def can_hold_latest(
        self, state: ModelState, messages: Sequence[ChatMessage], params: GenerationParams | None = None
    ) -> bool:
        """False when the model's window cannot even hold the system prompt and latest user turn."""
        ...

    def window(self, state: ModelState) -> int | None:
        """The window `state` will answer with (e.g. the num_ctx sent to Ollama), None if unknown."""
        ...

    def truncation(self, state: ModelState, fit: FitResult, usage: Usage | None) -> tuple[int, int] | None:
        """(expected, reported) prompt tokens when the server evidently dropped content."""
        ...


class PassThroughFitter:
    """Sends the conversation unchanged (used when no fitter is configured)."""

    async def fit(
        self,
        state: ModelState,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        policy: ContextPolicy,
        request_id: str | None,
    ) -> FitResult:
        return FitResult(tuple(messages), params)

    def can_hold_latest(
        self, state: ModelState, messages: Sequence[ChatMessage], params: GenerationParams | None = None
    ) -> bool:
        return True

    def window(self, state: ModelState) -> int | None:
        return state.window

    def truncation(self, state: ModelState, fit: FitResult, usage: Usage | None) -> tuple[int, int] | None:
        return None
