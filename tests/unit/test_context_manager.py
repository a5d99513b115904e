"""ContextManager inside the real Engine, on a fake clock with FAKE backends: each policy's visible
fit, stop and single-huge-message refusals, fallback to a larger window, summaries (cached, with a
fallback), silent-truncation detection, estimator calibration and the per-message count cache."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import pytest
from tests.support.fake_backend import FakeBackend, Step
from tests.support.fake_clock import FakeClock
from tests.support.fake_counting_backend import CountingFakeBackend, fake_count

from steward.engine.context import ContextManager
from steward.engine.context.counting import ANCHOR, TAIL, Estimator
from steward.engine.core import Engine
from steward.engine.events import (
    CandidateSkipped,
    Completed,
    ContextFitted,
    EngineEvent,
    FallbackChosen,
    RequestFailed,
    TruncationSuspected,
)
from steward.engine.failures import BackendError, FailureKind
from steward.engine.request import ChatRequest
from steward.engine.settings import ContextPolicy, ContextSettings, EngineSettings
from steward.engine.types import ChatMessage, GenerationParams, ModelInfo

BODY = "w" * 396  # "0 www…": 398 chars, estimated 4 + ceil(398 / 4) = 104 tokens per message
PARAMS = GenerationParams(max_tokens=100)  # window 1024 → budget 1024 − 100 − 32 = 892, act above 713


def conversation(turns: int, system: str = "You are terse.") -> tuple[ChatMessage, ...]:
    messages = [ChatMessage("system", system)]
    for i in range(turns):
        messages += [ChatMessage("user", f"{i} {BODY}"), ChatMessage("assistant", f"{i} {BODY}")]
    messages.append(ChatMessage("user", "And now?"))
    return tuple(messages)


def build(
    clock: FakeClock,
    windows: dict[str, int],
    manager: ContextManager | None = None,
    backend_type: type[FakeBackend] = FakeBackend,
) -> tuple[Engine, ContextManager, dict[str, FakeBackend]]:
    manager = manager or ContextManager(ContextSettings())
    engine = Engine(EngineSettings(), clock=clock, rng=random.Random(1), wall=lambda: 0.0, fitter=manager)
    backends: dict[str, FakeBackend] = {}
    for sid, window in windows.items():
        backend = backend_type(sid, clock, {"m": window})
        engine.add_backend(backend)
        engine.add_model(sid, ModelInfo("m", loaded_context=window))
        backends[sid] = backend
    engine.set_fallback_chain([f"{sid}/m" for sid in windows])
    return engine, manager, backends


async def run(
    engine: Engine, clock: FakeClock, messages: Sequence[ChatMessage], **kw: object
) -> list[EngineEvent]:
    request = ChatRequest(tuple(messages), model=kw.pop("model", "a/m"), params=PARAMS, **kw)  # type: ignore[arg-type]
    async with clock.autojump():
        return [event async for event in engine.chat(request)]


def one(events: list[EngineEvent], kind: type[EngineEvent]) -> EngineEvent:
    found = [e for e in events if isinstance(e, kind)]
    assert len(found) == 1, [e.type for e in events]
    return found[0]


async def test_short_conversation_is_sent_unchanged_without_event(fake_clock: FakeClock) -> None:
    engine, _, backends = build(fake_clock, {"a": 1024})
    messages = conversation(2)
    events = await run(engine, fake_clock, messages)
    assert not [e for e in events if isinstance(e, ContextFitted)]
    assert backends["a"].scripts["m"].received == [messages]


async def test_sliding_window_drops_oldest_turns_visibly(fake_clock: FakeClock) -> None:
    engine, _, backends = build(fake_clock, {"a": 1024})
    messages = conversation(5)  # frame 3 + system 8 + 10 × 104 + "And now?" 6 = 1057 tokens > 713
    events = await run(engine, fake_clock, messages)
    fitted = one(events, ContextFitted)
    assert isinstance(fitted, ContextFitted)
    sent = backends["a"].scripts["m"].received[0]
    assert fitted.policy == "sliding_window" and fitted.window == 1024 and not fitted.exact
    assert fitted.dropped_messages == 4 and sent == messages[:1] + messages[5:]
    assert (fitted.tokens_before, fitted.tokens_after) == (1057, 1057 - 4 * 104)
    assert fitted.dropped_preview[0].startswith("0 www") and len(fitted.dropped_preview[0]) == 80
    assert isinstance(events[-1], Completed)


async def test_truncate_middle_keeps_first_exchange(fake_clock: FakeClock) -> None:
    engine, _, backends = build(fake_clock, {"a": 1024})
    messages = conversation(5)
    events = await run(engine, fake_clock, messages, context_policy=ContextPolicy.TRUNCATE_MIDDLE)
    fitted = one(events, ContextFitted)
    assert isinstance(fitted, ContextFitted) and fitted.policy == "truncate_middle"
    sent = backends["a"].scripts["m"].received[0]
    assert sent == messages[:3] + messages[7:]  # system, first exchange, the 2 latest exchanges, latest user


async def test_stop_refuses_with_the_numbers_and_sends_nothing(fake_clock: FakeClock) -> None:
    engine, _, backends = build(fake_clock, {"a": 1024})
    events = await run(engine, fake_clock, conversation(5), context_policy=ContextPolicy.STOP)
    failed = one(events, RequestFailed)
    assert isinstance(failed, RequestFailed) and failed.kinds == (FailureKind.CONTEXT_OVERFLOW,)
    assert "conversation needs 1,057 tokens, model a/m holds 892" in failed.detail
    assert "(policy: stop)" in failed.detail
    assert backends["a"].scripts["m"].calls == 0


async def test_stop_falls_back_to_a_larger_window_and_says_why(fake_clock: FakeClock) -> None:
    engine, _, backends = build(fake_clock, {"a": 1024, "tiny": 512, "big": 8192})
    messages = conversation(5)
    events = await run(engine, fake_clock, messages, context_policy=ContextPolicy.STOP)
    skipped = [e for e in events if isinstance(e, CandidateSkipped)]
    assert [e.model for e in skipped] == ["tiny/m"]
    assert "window 512 is not larger than the 1024 that overflowed" in skipped[0].reason
    chosen = one(events, FallbackChosen)
    assert isinstance(chosen, FallbackChosen) and chosen.model == "big/m"
    assert "context_overflow" in chosen.reason and "conversation needs 1,057 tokens" in chosen.reason
    done = one(events, Completed)
    assert isinstance(done, Completed) and done.model == "big/m"
    assert backends["big"].scripts["m"].received == [messages]


async def test_single_message_larger_than_budget_is_refused_never_sent(fake_clock: FakeClock) -> None:
    engine, manager, backends = build(fake_clock, {"a": 1024})
    messages = (ChatMessage("system", "Be brief."), ChatMessage("user", "x" * 4000))  # ≈ 1004 tokens
    events = await run(engine, fake_clock, messages)
    skipped = one(events, CandidateSkipped)
    assert isinstance(skipped, CandidateSkipped) and skipped.kind is FailureKind.CONTEXT_OVERFLOW
    assert "window 1024 cannot hold the latest message" in skipped.reason
    assert backends["a"].scripts["m"].calls == 0
    state = engine.model("a/m")
    assert state is not None
    with pytest.raises(BackendError) as info:
        await manager.fit(state, messages, PARAMS, ContextPolicy.SLIDING_WINDOW, "r")
    assert info.value.kind is FailureKind.CONTEXT_OVERFLOW and info.value.n_ctx == 1024
    assert "a single user message needs 1,007 tokens; model a/m holds 892" in info.value.detail
    assert "not sent" in info.value.detail


async def test_summarize_replaces_dropped_turns_and_is_cached(fake_clock: FakeClock) -> None:
    asked: list[str] = []

    async def summarize(text: str) -> str:
        asked.append(text)
        return "They counted from 0 to 3."

    engine, _, backends = build(
        fake_clock, {"a": 1024}, ContextManager(ContextSettings(), summarize=summarize)
    )
    messages = conversation(5)
    events = await run(engine, fake_clock, messages, context_policy=ContextPolicy.SUMMARIZE)
    fitted = one(events, ContextFitted)
    assert isinstance(fitted, ContextFitted) and fitted.policy == "summarize"
    assert fitted.summary == "They counted from 0 to 3." and fitted.note is None
    sent = backends["a"].scripts["m"].received[0]
    summary = ChatMessage(
        "system", f"Summary of {fitted.dropped_messages} earlier messages: They counted from 0 to 3."
    )
    assert sent[0] == messages[0] and sent[1] == summary and sent[-1] == messages[-1]
    assert asked[0].startswith("user: 0 www")
    await run(engine, fake_clock, messages, context_policy=ContextPolicy.SUMMARIZE)
    assert len(asked) == 1  # same dropped messages → cached summary
    assert backends["a"].scripts["m"].received[1] == sent


async def test_failed_summary_falls_back_to_sliding_window_and_says_so(fake_clock: FakeClock) -> None:
    async def summarize(text: str) -> str:
        raise RuntimeError("summarizer down")

    engine, _, backends = build(
        fake_clock, {"a": 1024}, ContextManager(ContextSettings(), summarize=summarize)
    )
    messages = conversation(5)
    events = await run(engine, fake_clock, messages, context_policy=ContextPolicy.SUMMARIZE)
    fitted = one(events, ContextFitted)
    assert isinstance(fitted, ContextFitted) and fitted.policy == "sliding_window" and fitted.summary is None
    assert fitted.note is not None and "summarizer down" in fitted.note and "sliding_window" in fitted.note
    assert backends["a"].scripts["m"].received[0] == messages[:1] + messages[5:]


async def test_server_reporting_fewer_prompt_tokens_is_truncation(fake_clock: FakeClock) -> None:
    engine, _, backends = build(fake_clock, {"a": 1024}, backend_type=CountingFakeBackend)
    backend = backends["a"]
    assert isinstance(backend, CountingFakeBackend)
    messages = conversation(2)
    backend.report_prompt_tokens = 7  # the server says it only saw 7 tokens
    events = await run(engine, fake_clock, messages)
    suspected = one(events, TruncationSuspected)
    assert isinstance(suspected, TruncationSuspected)
    assert (suspected.expected_tokens, suspected.reported_tokens) == (fake_count(messages), 7)
    state = engine.model("a/m")
    assert state is not None and state.truncation_at is not None


async def test_honest_report_is_not_truncation(fake_clock: FakeClock) -> None:
    engine, _, _ = build(fake_clock, {"a": 1024}, backend_type=CountingFakeBackend)
    events = await run(engine, fake_clock, conversation(2))
    assert not [e for e in events if isinstance(e, TruncationSuspected)]


async def test_uncalibrated_estimate_far_from_window_calibrates_instead_of_alarming(
    fake_clock: FakeClock,
) -> None:
    engine, manager, backends = build(fake_clock, {"a": 8192})
    messages = conversation(2)  # estimated ≈ 430 tokens, far below half the window
    backends["a"].script("m", Step(tokens=("ok",), prompt_tokens=200))
    events = await run(engine, fake_clock, messages)
    assert not [e for e in events if isinstance(e, TruncationSuspected)]
    state = engine.model("a/m")
    assert state is not None and manager.counter.estimator(state).samples == 1


async def test_estimate_near_window_reported_far_lower_is_truncation(fake_clock: FakeClock) -> None:
    engine, _, backends = build(fake_clock, {"a": 1024})
    messages = conversation(3)  # estimated ≈ 640 tokens: more than half the window
    backends["a"].script("m", Step(tokens=("ok",), prompt_tokens=300))
    events = await run(engine, fake_clock, messages)
    suspected = one(events, TruncationSuspected)
    assert isinstance(suspected, TruncationSuspected) and suspected.reported_tokens == 300


def test_estimator_converges_on_recorded_counts() -> None:
    """Recorded: a model at 3.0 chars/token (frame 3, 4 per message) — the estimator starts at 4.0."""
    estimator = Estimator()
    convo = [ChatMessage("user", "a" * 600), ChatMessage("assistant", "b" * 300)]
    recorded = 3 + 2 * 4 + 900 // 3  # 311 prompt tokens reported by the server
    history = []
    for _ in range(10):
        estimator.observe(convo, recorded)
        history.append(estimator.chars_per_token)
    assert history[0] == pytest.approx(3.7)  # 4.0 + 0.3 × (3.0 − 4.0)
    assert all(a > b for a, b in itertools.pairwise(history))
    assert history[-1] == pytest.approx(3.0 + 0.7**10, abs=1e-9)  # 3.028
    estimate = 3 + sum(estimator.message(m) for m in convo)
    assert abs(estimate - recorded) / recorded < 0.01


async def test_exact_counts_only_count_new_messages(fake_clock: FakeClock) -> None:
    engine, manager, backends = build(fake_clock, {"a": 100_000}, backend_type=CountingFakeBackend)
    backend = backends["a"]
    assert isinstance(backend, CountingFakeBackend)
    state = engine.model("a/m")
    assert state is not None
    messages = conversation(10)  # 22 messages
    first = await manager.fit(state, messages, PARAMS, ContextPolicy.SLIDING_WINDOW, "r1")
    assert first.exact and first.expected_prompt_tokens == fake_count(messages)
    assert len(backend.count_calls) == 1 + 22 + 1  # anchor, each message, one whole count for the frame
    longer = (*messages, ChatMessage("assistant", "Three."), ChatMessage("user", "Four?"))
    second = await manager.fit(state, longer, PARAMS, ContextPolicy.SLIDING_WINDOW, "r2")
    assert second.expected_prompt_tokens == fake_count(longer)
    assert backend.count_calls[24:] == [  # the new turn: one count for both new messages
        (ANCHOR, ChatMessage("assistant", "Three."), ChatMessage("user", "Four?"), TAIL),
    ]
    await manager.fit(state, longer, PARAMS, ContextPolicy.SLIDING_WINDOW, "r3")
    assert len(backend.count_calls) == 25  # nothing new, nothing counted
    assert manager.meter(state, longer) == (fake_count(longer), 100_000)


async def test_exact_fit_is_exactly_within_budget(fake_clock: FakeClock) -> None:
    engine, manager, _ = build(fake_clock, {"a": 600}, backend_type=CountingFakeBackend)
    state = engine.model("a/m")
    assert state is not None
    wordy = "word " * 60  # 64 fake tokens per message
    messages = [ChatMessage("system", "Be kind.")]
    for _ in range(4):
        messages += [ChatMessage("user", wordy), ChatMessage("assistant", wordy)]
    messages.append(ChatMessage("user", "Why?"))  # 3 + 6 + 8 × 64 + 5 = 526 > trigger 374
    fit = await manager.fit(state, messages, PARAMS, ContextPolicy.SLIDING_WINDOW, "r1")
    assert fit.event is not None and fit.event.exact and fit.exact
    assert fit.event.tokens_before == 526 and fit.event.dropped_messages == 4
    assert (
        fit.expected_prompt_tokens == fake_count(fit.messages) == 526 - 4 * 64 <= int((600 - 100 - 32) * 0.8)
    )


async def test_ollama_kind_gets_num_ctx_capped_by_trained_window(fake_clock: FakeClock) -> None:
    class OllamaKindFake(FakeBackend):
        """FakeBackend claiming to be an Ollama server (kind only)."""

        @property
        def kind(self) -> str:
            return "ollama"

    manager = ContextManager(ContextSettings(default_num_ctx=4096))
    engine, _, _ = build(fake_clock, {"a": 1024}, manager)
    backend = OllamaKindFake("o", fake_clock, {"m": None, "small": None})
    engine.add_backend(backend)
    big = engine.add_model("o", ModelInfo("m", trained_context=131072))
    small = engine.add_model("o", ModelInfo("small", trained_context=2048))
    assert manager.window(big) == 4096 and manager.window(small) == 2048
    fit = await manager.fit(big, conversation(1), GenerationParams(), ContextPolicy.SLIDING_WINDOW, "r")
    assert fit.params.num_ctx == 4096 and big.window == 4096
    own = await manager.fit(big, conversation(1), GenerationParams(num_ctx=8192), ContextPolicy.STOP, "r")
    assert own.params.num_ctx == 8192
