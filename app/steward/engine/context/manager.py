"""`ContextManager`: the engine's context fitter. Per attempt it fits the conversation to the
window of the model that will answer, says what it did (`ContextFitted`), refuses what cannot fit,
and afterwards compares the server's reported prompt tokens with what was sent."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from steward.engine.clock import wall_time
from steward.engine.context import policies, windows
from steward.engine.context.budget import Budget, budget_for
from steward.engine.context.counting import Counts, TokenCounter
from steward.engine.context.policies import Selection
from steward.engine.context.summarize import Summarize, Summarizer, SummaryFailed, summary_message
from steward.engine.events import ContextFitted
from steward.engine.failures import BackendError, FailureKind
from steward.engine.fitting import FirstTokenBudget, FitResult
from steward.engine.registry import ModelState
from steward.engine.settings import ContextPolicy, ContextSettings
from steward.engine.types import ChatMessage, GenerationParams, Usage

PREVIEW_CHARS = 80
SUMMARY_SHARE = 0.25  # of the target, at most SUMMARY_MAX tokens, kept free for a summary
SUMMARY_MAX = 256
CALIBRATED_SAMPLES = 3
T = TypeVar("T")


async def _spend(budget: FirstTokenBudget | None, awaitable: Awaitable[T], what: str) -> T:
    return await (budget.spend(awaitable, what) if budget is not None else awaitable)


def truncation_tolerance(expected: int, exact: bool) -> int:
    """How far below the expected count a report may be before it means "the server dropped content".

    Exact counts differ from the server's only by a template token or two; estimates by much more.
    """
    if exact:
        return max(16, math.ceil(expected * 0.10))
    return max(32, math.ceil(expected * 0.25))


def preview(message: ChatMessage) -> str:
    text = " ".join(message.content.split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


class ContextManager:
    """Implements `steward.engine.fitting.ContextFitter` (plus `meter` and `refresh` for the UI)."""

    def __init__(
        self,
        settings: ContextSettings | Callable[[], ContextSettings] | None = None,
        *,
        summarize: Summarize | None = None,
        wall: Callable[[], float] = wall_time,
    ) -> None:
        """`settings` may be a callable (e.g. `lambda: engine.settings.context`) so live updates apply."""
        if settings is None or isinstance(settings, ContextSettings):
            fixed = settings or ContextSettings()
            self._settings: Callable[[], ContextSettings] = lambda: fixed
        else:
            self._settings = settings
        self.counter = TokenCounter()
        self.summarizer = Summarizer(summarize)
        self._wall = wall

    @property
    def settings(self) -> ContextSettings:
        return self._settings()

    # --- ContextFitter ---------------------------------------------------------------------

    def window(self, state: ModelState) -> int | None:
        """The window `state` will run with (Ollama: the num_ctx Steward sends)."""
        return windows.window_of(state, None, self.settings)

    def can_hold_latest(
        self, state: ModelState, messages: Sequence[ChatMessage], params: GenerationParams | None = None
    ) -> bool:
        """False when the system prompt plus the latest user turn exceed the model's budget."""
        window = windows.window_of(state, params, self.settings)
        if window is None:
            return True
        budget = budget_for(window, params or GenerationParams(), self.settings)
        counts = self.counter.estimate(state, messages)
        return counts.of(policies.protected_indices(messages)) <= budget.limit

    async def fit(
        self,
        state: ModelState,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        policy: ContextPolicy,
        request_id: str | None,
        budget: FirstTokenBudget | None = None,
    ) -> FitResult:
        """Fit `messages` to `state`'s window; raises BackendError(CONTEXT_OVERFLOW) to refuse.

        The window is asked of the server once per model (and again after a restart or reload,
        see `windows.refresh`), never before every attempt; look-ups and counts spend `budget`.
        """
        settings = self.settings
        window = windows.window_of(state, params, settings)
        if window is None and not state.window_checked:
            window = await _spend(budget, windows.refresh(state), "waiting for the context-window look-up")
        counts = self.counter.known(state, messages)  # the per-request fast path: no I/O, no task
        if counts is None:
            counts = await _spend(budget, self.counter.count(state, messages), "waiting for the token count")
        if window is None:  # the server will not say: send as is, but still watch for truncation
            return FitResult(tuple(messages), params, counts.total, None, exact=counts.exact)
        if windows.wants_num_ctx(state):
            windows.record_window(state, window)
            params = windows.params_for(state, params, window)
        fit_budget = budget_for(window, params, settings)
        self._refuse_if_latest_too_big(state, messages, counts, fit_budget)
        total = counts.total
        if total <= fit_budget.trigger or (policy is ContextPolicy.STOP and total <= fit_budget.limit):
            return FitResult(tuple(messages), params, total, None, exact=counts.exact)
        if policy is ContextPolicy.STOP:
            raise BackendError(
                FailureKind.CONTEXT_OVERFLOW,
                f"conversation needs {total:,} tokens, model {state.key} holds {fit_budget.limit:,}"
                f" ({fit_budget.explain()}) (policy: stop)",
                n_prompt_tokens=total,
                n_ctx=window,
            )
        sent, dropped, summary, used, note = await self._apply(
            state, messages, counts, fit_budget, policy, budget
        )
        after = await _spend(budget, self.counter.count(state, sent), "waiting for the token count")
        event = ContextFitted(
            ts=self._wall(),
            request_id=request_id,
            model=state.key,
            policy=used.value,
            dropped_messages=len(dropped),
            tokens_before=total,
            tokens_after=after.total,
            window=window,
            dropped_preview=tuple(preview(messages[i]) for i in dropped),
            summary=summary,
            exact=counts.exact and after.exact,
            note=note,
        )
        return FitResult(sent, params, after.total, event, exact=after.exact)

    def truncation(self, state: ModelState, fit: FitResult, usage: Usage | None) -> tuple[int, int] | None:
        """(expected, reported) when the server reports evidently fewer prompt tokens than were sent.

        Estimated counts also calibrate the model's estimator here. An uncalibrated estimate only
        raises the alarm when the prompt was near the window (where servers do truncate); otherwise
        the difference is the estimate's own error and is learnt from instead.
        """
        reported = usage.prompt_tokens if usage is not None else None
        expected = fit.expected_prompt_tokens
        if reported is None or expected is None or reported <= 0:
            return None
        short = expected - reported > truncation_tolerance(expected, fit.exact)
        if not fit.exact:
            estimator = self.counter.estimator(state)
            window = windows.window_of(state, fit.params, self.settings)
            near_window = window is not None and expected > window // 2
            if short and (estimator.samples >= CALIBRATED_SAMPLES or near_window):
                return (expected, reported)
            self.counter.observe(state, fit.messages, reported)
            return None
        return (expected, reported) if short else None

    # --- for the UI ------------------------------------------------------------------------

    def meter(self, state: ModelState, messages: Sequence[ChatMessage]) -> tuple[int, int | None]:
        """(tokens the conversation uses, window) for a "used / window" meter; no I/O."""
        return self.counter.estimate(state, messages).total, self.window(state)

    async def refresh(self, state: ModelState) -> int | None:
        """Re-read the model's live window from its server (after a reload)."""
        return await windows.refresh(state)

    # --- internals -------------------------------------------------------------------------

    async def _apply(
        self,
        state: ModelState,
        messages: Sequence[ChatMessage],
        counts: Counts,
        budget: Budget,
        policy: ContextPolicy,
        first_token: FirstTokenBudget | None = None,
    ) -> tuple[tuple[ChatMessage, ...], tuple[int, ...], str | None, ContextPolicy, str | None]:
        """(messages to send, dropped indices, summary, policy actually used, note)."""
        note: str | None = None
        if policy is ContextPolicy.SUMMARIZE:
            try:
                sent, text, dropped = await self._summarize(state, messages, counts, budget, first_token)
                return sent, dropped, text, policy, None
            except SummaryFailed as exc:
                note = f"summary failed ({exc}); fell back to sliding_window"
                policy = ContextPolicy.SLIDING_WINDOW
        choose = (
            policies.truncate_middle if policy is ContextPolicy.TRUNCATE_MIDDLE else policies.sliding_window
        )
        selection = choose(messages, counts, budget.trigger)
        sent = tuple(messages[i] for i in selection.kept)
        return sent, selection.dropped(len(messages)), None, policy, note

    def _refuse_if_latest_too_big(
        self, state: ModelState, messages: Sequence[ChatMessage], counts: Counts, budget: Budget
    ) -> None:
        protected = policies.protected_indices(messages)
        needed = counts.of(protected)
        if needed <= budget.limit:
            return
        biggest = max(protected, key=lambda i: counts.costs[i], default=None)
        alone = counts.costs[biggest] + counts.frame if biggest is not None else 0
        if biggest is not None and alone > budget.limit:
            what = f"a single {messages[biggest].role} message needs {alone:,} tokens"
        else:
            what = f"the system prompt and latest message need {needed:,} tokens"
        raise BackendError(
            FailureKind.CONTEXT_OVERFLOW,
            f"{what}; model {state.key} holds {budget.limit:,} ({budget.explain()}); not sent",
            n_prompt_tokens=needed,
            n_ctx=budget.window,
        )

    async def _summarize(
        self,
        state: ModelState,
        messages: Sequence[ChatMessage],
        counts: Counts,
        budget: Budget,
        first_token: FirstTokenBudget | None = None,
    ) -> tuple[tuple[ChatMessage, ...], str, tuple[int, ...]]:
        """Sliding window with room left for a summary of what it dropped, put in their place.

        Writing the summary is a request of its own (with its own timeouts): it does not spend
        this attempt's first-token budget.
        """
        if not self.summarizer.available:
            raise SummaryFailed("no summarizer is configured")
        room = min(SUMMARY_MAX, int(budget.trigger * SUMMARY_SHARE))
        selection: Selection = policies.sliding_window(messages, counts, budget.trigger - room)
        dropped = selection.dropped(len(messages))
        if not dropped:
            raise SummaryFailed("nothing to summarize")
        writing = self.summarizer.summary([messages[i] for i in dropped])
        text = await (first_token.excluded(writing) if first_token is not None else writing)
        allowed = budget.trigger - selection.tokens
        message = summary_message(len(dropped), text)
        cost = await _spend(first_token, self.counter.cost(state, message), "counting the summary")
        for _ in range(3):  # shorten an overlong summary to the room left for it
            if cost <= allowed:
                break
            keep = max(0, int(len(text) * allowed / max(cost, 1)) - 8)
            text = text[:keep].rstrip() + "…"
            message = summary_message(len(dropped), text)
            cost = await _spend(first_token, self.counter.cost(state, message), "counting the summary")
        if cost > allowed:
            raise SummaryFailed(f"the summary needs {cost} tokens, only {allowed} are left")
        at = next(
            (n for n, i in enumerate(selection.kept) if messages[i].role != "system"), len(selection.kept)
        )
        kept = [messages[i] for i in selection.kept]
        sent = (*kept[:at], message, *kept[at:])
        return sent, text, dropped
