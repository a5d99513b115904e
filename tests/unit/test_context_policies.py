"""The fitting policies as pure functions, with hand-checked numbers and a hypothesis property:
for random conversations and windows the fit always fits, keeps the system prompt and the latest
user turn, and never reorders messages."""

from __future__ import annotations

import asyncio
import random

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.fake_backend import FakeBackend
from tests.support.fake_clock import FakeClock

from steward.engine.breaker import CircuitBreaker
from steward.engine.bulkhead import Bulkhead
from steward.engine.context import ContextManager, policies
from steward.engine.context.budget import budget_for
from steward.engine.context.counting import Counts
from steward.engine.failures import BackendError, FailureKind
from steward.engine.metrics import ModelMetrics
from steward.engine.registry import ModelState, ServerEntry
from steward.engine.settings import BreakerSettings, ContextPolicy, ContextSettings
from steward.engine.types import ChatMessage, GenerationParams, ModelInfo, ModelRef, Role

ROLES = ["system", "user", "assistant", "user", "assistant", "user", "assistant", "user"]
CONVO = [ChatMessage(r, f"m{i}") for i, r in enumerate(ROLES)]  # type: ignore[arg-type]
TEN_EACH = Counts(tuple([10] * len(CONVO)), 0, True)  # 80 tokens


def test_protected_are_leading_system_and_latest_user_turn() -> None:
    assert policies.protected_indices(CONVO) == (0, 7)
    assert policies.protected_indices([*CONVO, ChatMessage("assistant", "prefill")]) == (0, 7, 8)
    assert policies.turns(CONVO) == [(1, 2), (3, 4), (5, 6)]


def test_sliding_window_drops_oldest_turns_first() -> None:
    selection = policies.sliding_window(CONVO, TEN_EACH, 50)
    assert selection.kept == (0, 5, 6, 7) and selection.tokens == 40
    assert selection.dropped(len(CONVO)) == (1, 2, 3, 4)


def test_sliding_window_keeps_everything_that_fits() -> None:
    assert policies.sliding_window(CONVO, TEN_EACH, 80).kept == tuple(range(8))


def test_truncate_middle_keeps_the_first_exchange_and_the_latest_turns() -> None:
    selection = policies.truncate_middle(CONVO, TEN_EACH, 60)
    assert selection.kept == (0, 1, 2, 5, 6, 7) and selection.tokens == 60
    assert policies.truncate_middle(CONVO, TEN_EACH, 40).kept == (0, 1, 2, 7)
    assert policies.truncate_middle(CONVO, TEN_EACH, 20).kept == (0, 7)


def test_stop_keeps_all_or_refuses() -> None:
    assert policies.stop(CONVO, TEN_EACH, 80) is not None
    assert policies.stop(CONVO, TEN_EACH, 79) is None


def test_frame_counts_once() -> None:
    counts = Counts((5, 5, 5), 7, True)
    assert counts.total == 22 and counts.of((0, 2)) == 17


# --- property test over the real ContextManager (estimated counts, FAKE backend) ---------------


@st.composite
def conversations(draw: st.DrawFn) -> list[ChatMessage]:
    """System prompt (maybe), 0–60 user/assistant messages of 0–800 chars, then the latest user turn."""
    size = draw(st.integers(min_value=0, max_value=60))
    roles: list[Role] = draw(st.lists(st.sampled_from(["user", "assistant"]), min_size=size, max_size=size))
    lengths = draw(st.lists(st.integers(min_value=0, max_value=800), min_size=size, max_size=size))
    messages = [
        ChatMessage(r, f"{i} " + "w" * n) for i, (r, n) in enumerate(zip(roles, lengths, strict=True))
    ]
    messages.append(ChatMessage("user", draw(st.text(max_size=300))))
    if draw(st.booleans()):
        messages.insert(0, ChatMessage("system", draw(st.text(max_size=300))))
    return messages


def model_state(window: int) -> ModelState:
    clock = FakeClock()
    backend = FakeBackend("s", clock, {"m": window})
    server = ServerEntry(backend, Bulkhead("s", 1, 1, 1.0, clock))
    breaker = CircuitBreaker("s/m", BreakerSettings(), clock)
    return ModelState(
        ModelRef("s", "m"), server, breaker, ModelMetrics(10), info=ModelInfo("m", loaded_context=window)
    )


def is_subsequence(small: list[ChatMessage], big: list[ChatMessage]) -> bool:
    it = iter(big)
    return all(any(m is b for b in it) for m in small)


@settings(max_examples=150, deadline=None)
@given(
    messages=conversations(),
    window=st.integers(min_value=128, max_value=2048),
    policy=st.sampled_from(
        [ContextPolicy.SLIDING_WINDOW, ContextPolicy.TRUNCATE_MIDDLE, ContextPolicy.SUMMARIZE]
    ),
    max_tokens=st.one_of(st.none(), st.integers(min_value=1, max_value=256)),
)
def test_fitted_conversation_fits_keeps_protected_and_order(
    messages: list[ChatMessage], window: int, policy: ContextPolicy, max_tokens: int | None
) -> None:
    async def summarize(text: str) -> str:
        return "summary " * random.Random(len(text)).randint(1, 80)

    manager = ContextManager(ContextSettings(), summarize=summarize)
    state = model_state(window)
    params = GenerationParams(max_tokens=max_tokens)
    limit = budget_for(window, params, ContextSettings()).limit
    protected = [messages[i] for i in policies.protected_indices(messages)]
    try:
        fit = asyncio.run(manager.fit(state, messages, params, policy, "r1"))
    except BackendError as error:
        assert error.kind is FailureKind.CONTEXT_OVERFLOW
        assert manager.counter.estimate(state, protected).total > limit
        assert not manager.can_hold_latest(state, messages, params)
        return
    sent = list(fit.messages)
    assert manager.counter.estimate(state, sent).total <= limit
    assert fit.expected_prompt_tokens is not None and fit.expected_prompt_tokens <= limit
    assert all(any(m is s for s in sent) for m in protected)  # system prompt and latest user turn kept
    originals = [m for m in sent if any(m is o for o in messages)]
    assert is_subsequence(originals, messages)  # never reordered
    summaries = [m for m in sent if not any(m is o for o in messages)]
    assert len(summaries) <= 1 and all(m.content.startswith("Summary of ") for m in summaries)
