"""The hook through which the context fitter (see `steward.engine.context`) shapes each attempt."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from steward.engine.clock import Clock, ClockTimeout, wait_for
from steward.engine.events import ContextFitted
from steward.engine.failures import BackendError, FailureKind
from steward.engine.registry import ModelState
from steward.engine.settings import ContextPolicy
from steward.engine.types import ChatMessage, GenerationParams, Usage

T = TypeVar("T")


class FirstTokenBudget:
    """The first-token timeout of one attempt, shared by everything before the first token.

    Window look-ups and token counts happen before generation; they spend the same budget, so a
    server that hangs on `/v1/models` costs the user `first_token_s`, not that plus httpx's own
    timeouts. Work that is not the model's (writing a summary through the engine, waiting for a
    bulkhead slot) is excluded: the deadline moves by the time it took.
    """

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self.started = clock.now()
        self.deadline = self.started + seconds
        self.excluded_s = 0.0

    def left(self) -> float:
        return self.deadline - self.clock.now()

    def expired_error(self, what: str) -> BackendError:
        spent = self.clock.now() - self.started - self.excluded_s
        return BackendError(
            FailureKind.FIRST_TOKEN_TIMEOUT,
            f"no first token within the {self.seconds:g} s first-token timeout ({spent:.1f} s spent, {what})",
        )

    async def spend(self, awaitable: Awaitable[T], what: str) -> T:
        """Await `awaitable` within what is left; FIRST_TOKEN_TIMEOUT (naming `what`) when it runs out."""
        left = self.left()
        if left <= 0:
            raise self.expired_error(what)
        try:
            return await wait_for(self.clock, asyncio.ensure_future(awaitable), left)
        except ClockTimeout:
            raise self.expired_error(what) from None

    async def excluded(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable` without spending the budget (the deadline moves by its duration)."""
        started = self.clock.now()
        try:
            return await awaitable
        finally:
            took = self.clock.now() - started
            self.deadline += took
            self.excluded_s += took


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
        budget: FirstTokenBudget | None = None,
    ) -> FitResult:
        """Fit `messages` to `state`'s window; raise BackendError(CONTEXT_OVERFLOW) to refuse.

        Server look-ups spend `budget` (the attempt's first-token timeout) when one is given.
        """
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
        budget: FirstTokenBudget | None = None,
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
