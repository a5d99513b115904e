"""The engine keeps its promise (issue: first choice down, bounded waits, bad input, loops,
summaries): exact event sequences on a fake clock with FAKE backends; nothing really sleeps."""

from __future__ import annotations

import random

from tests.support.fake_backend import FakeBackend, Step, fail, ok
from tests.support.fake_clock import FakeClock

from steward.engine.context import ContextManager, engine_summarizer
from steward.engine.core import Engine
from steward.engine.events import (
    AttemptFailed,
    AttemptStarted,
    Completed,
    ContextFitted,
    EngineEvent,
    FallbackChosen,
    RequestFailed,
    RequestStarted,
)
from steward.engine.failures import FailureKind
from steward.engine.request import ChatRequest
from steward.engine.settings import (
    ContextPolicy,
    ContextSettings,
    EngineSettings,
    RoutingSettings,
    TimeoutSettings,
)
from steward.engine.types import ChatMessage, GenerationParams, ModelInfo

HELLO = (ChatMessage("user", "hello"),)


def engine_with(clock: FakeClock, settings: EngineSettings | None = None) -> Engine:
    return Engine(settings or EngineSettings(), clock=clock, rng=random.Random(3), wall=lambda: 0.0)


def server(engine: Engine, clock: FakeClock, sid: str, window: int | None = 4096, **kw: int) -> FakeBackend:
    backend = FakeBackend(sid, clock, {"m": window})
    engine.add_backend(backend, **kw)
    engine.add_model(sid, ModelInfo("m", loaded_context=window))
    return backend


async def ask(engine: Engine, clock: FakeClock, request: ChatRequest) -> list[EngineEvent]:
    events: list[EngineEvent] = []
    async with clock.autojump():
        async for event in engine.chat(request):
            events.append(event)
    assert isinstance(events[-1], Completed | RequestFailed)
    return events


def of(events: list[EngineEvent], kind: type[EngineEvent]) -> list[EngineEvent]:
    return [e for e in events if isinstance(e, kind)]


# --- 1. a first choice that is down or unknown never means "no answer" ---------------------------


async def test_pinned_model_whose_server_was_down_at_start_falls_to_its_chain(fake_clock: FakeClock) -> None:
    engine = engine_with(fake_clock)
    prim = FakeBackend("prim", fake_clock, {"x": 4096})
    prim.refusing = True
    engine.add_backend(prim)  # configured, but it listed no models: it was down at start
    server(engine, fake_clock, "back")
    engine.set_fallback_chain(["back/m"])
    events = await ask(engine, fake_clock, ChatRequest(HELLO, model="prim/x"))
    failed = of(events, AttemptFailed)
    assert [(e.model, e.kind) for e in failed] == [("prim/x", FailureKind.CONNECTION_REFUSED)]  # type: ignore[attr-defined]
    done = events[-1]
    assert isinstance(done, Completed) and done.model == "back/m"
    assert fake_clock.now() == 1000.0  # failed fast: no timeout was waited


async def test_with_no_chain_the_best_other_model_answers_and_the_route_says_so(
    fake_clock: FakeClock,
) -> None:
    engine = engine_with(fake_clock)
    prim = FakeBackend("prim", fake_clock, {"x": 4096})
    prim.refusing = True
    engine.add_backend(prim)
    server(engine, fake_clock, "other")
    events = await ask(engine, fake_clock, ChatRequest(HELLO, model="prim/x"))
    started = [e.model for e in of(events, AttemptStarted)]  # type: ignore[attr-defined]
    assert started == ["prim/x", "other/m"]
    assert isinstance(events[-1], Completed) and events[-1].model == "other/m"


async def test_fallback_to_any_off_keeps_to_the_pinned_model_and_chain(fake_clock: FakeClock) -> None:
    engine = engine_with(fake_clock, EngineSettings(routing=RoutingSettings(fallback_to_any=False)))
    prim = FakeBackend("prim", fake_clock, {"x": 4096})
    prim.refusing = True
    engine.add_backend(prim)
    other = server(engine, fake_clock, "other")
    events = await ask(engine, fake_clock, ChatRequest(HELLO, model="prim/x"))
    assert isinstance(events[-1], RequestFailed) and "prim/x" in events[-1].detail
    assert other.scripts["m"].calls == 0


async def test_a_placeholder_takes_the_real_model_info_when_the_server_answers(fake_clock: FakeClock) -> None:
    engine = engine_with(fake_clock)
    prim = FakeBackend("prim", fake_clock, {"x": 4096})
    prim.refusing = True
    engine.add_backend(prim)
    server(engine, fake_clock, "other")
    await ask(engine, fake_clock, ChatRequest(HELLO, model="prim/x"))
    prim.refusing = False
    await engine.refresh_models()
    state = engine.model("prim/x")
    assert state is not None and state.window == 4096
    events = await ask(engine, fake_clock, ChatRequest(HELLO, model="prim/x"))
    assert isinstance(events[-1], Completed) and events[-1].model == "prim/x"


# --- 2. every wait is bounded by the user's timeouts ------------------------------------------


def fitted_engine(clock: FakeClock, settings: EngineSettings) -> Engine:
    engine = engine_with(clock, settings)
    engine.fitter = ContextManager(lambda: engine.settings.context, summarize=engine_summarizer(engine.chat))
    return engine


async def test_a_hung_window_look_up_costs_the_first_token_timeout_and_says_what_hung(
    fake_clock: FakeClock,
) -> None:
    settings = EngineSettings(timeouts=TimeoutSettings(first_token_s=2.0))
    engine = fitted_engine(fake_clock, settings)
    hung = server(engine, fake_clock, "hung", window=None)
    hung.describe_hang = True
    engine.server_restarted("hung")  # its window must be asked again
    server(engine, fake_clock, "back")
    engine.set_fallback_chain(["hung/m", "back/m"])
    events = await ask(engine, fake_clock, ChatRequest(HELLO, model="hung/m"))
    failed = of(events, AttemptFailed)[0]
    assert isinstance(failed, AttemptFailed) and failed.kind is FailureKind.FIRST_TOKEN_TIMEOUT
    assert failed.elapsed_s == 2.0 and "context-window look-up" in failed.detail
    assert "2 s first-token timeout" in failed.detail
    assert isinstance(events[-1], Completed) and events[-1].model == "back/m"
    assert fake_clock.now() == 1002.0  # the whole wait was the user's first-token timeout


async def test_a_server_that_reports_no_window_is_not_asked_before_every_request(
    fake_clock: FakeClock,
) -> None:
    engine = fitted_engine(fake_clock, EngineSettings())
    quiet = server(engine, fake_clock, "quiet", window=None)
    for _ in range(3):
        events = await ask(engine, fake_clock, ChatRequest(HELLO, model="quiet/m"))
        assert isinstance(events[-1], Completed)
    assert quiet.describe_calls == 0 and quiet.scripts["m"].calls == 3  # one upstream request each
    engine.server_restarted("quiet")  # a restart may bring another window: asked once more
    for _ in range(2):
        await ask(engine, fake_clock, ChatRequest(HELLO, model="quiet/m"))
    assert quiet.describe_calls == 1


async def test_first_token_timeout_counts_from_the_attempt_start_and_is_worded_honestly(
    fake_clock: FakeClock,
) -> None:
    settings = EngineSettings(timeouts=TimeoutSettings(first_token_s=3.0))
    engine = engine_with(fake_clock, settings)
    slow = server(engine, fake_clock, "slow")
    slow.script("m", Step(hang=True))
    server(engine, fake_clock, "back")
    engine.set_fallback_chain(["slow/m", "back/m"])
    events = await ask(engine, fake_clock, ChatRequest(HELLO, model="slow/m"))
    failed = of(events, AttemptFailed)[0]
    assert isinstance(failed, AttemptFailed) and failed.elapsed_s == 3.0
    assert failed.detail == "no first token after 3.0 s (first-token timeout 3 s)"


# --- 3. bad input is the caller's fault, never a model's ----------------------------------------


async def test_invalid_utf8_is_repaired_before_any_attempt_and_said(fake_clock: FakeClock) -> None:
    engine = engine_with(fake_clock)
    backend = server(engine, fake_clock, "a")
    bad = "Hi \udcff there"  # what Python makes of the byte 0xff in a command-line argument
    events = await ask(engine, fake_clock, ChatRequest((ChatMessage("user", bad),), model="a/m"))
    started = events[0]
    assert isinstance(started, RequestStarted) and "replaced with U+FFFD" in started.notes[0]
    assert backend.scripts["m"].received[0][0].content == "Hi \ufffd there"
    assert isinstance(events[-1], Completed)


async def test_an_empty_prompt_is_refused_without_touching_any_model(fake_clock: FakeClock) -> None:
    engine = engine_with(fake_clock)
    backend = server(engine, fake_clock, "a")
    for prompt in ("", "   \n\t"):
        events = await ask(engine, fake_clock, ChatRequest((ChatMessage("user", prompt),), model="a/m"))
        assert len(events) == 1 and isinstance(events[0], RequestFailed)
        assert events[0].kinds == (FailureKind.BAD_REQUEST,) and "empty" in events[0].detail
    state = engine.model("a/m")
    assert state is not None and backend.scripts["m"].calls == 0
    assert state.breaker.consecutive_failures == 0 and state.metrics.snapshot().requests == 0


# --- 4. loops and runaway replies are stopped -----------------------------------------------------


async def test_a_repeated_phrase_is_degenerate_output_and_falls_back(fake_clock: FakeClock) -> None:
    engine = engine_with(fake_clock)
    looping = server(engine, fake_clock, "loop")
    phrase = ("I", " am", " a", " bot", ".", " Hello", "!")  # 7 tokens, split differently each time
    looping.script("m", Step(tokens=phrase * 200))
    server(engine, fake_clock, "back")
    engine.set_fallback_chain(["loop/m", "back/m"])
    events = await ask(engine, fake_clock, ChatRequest(HELLO, model="loop/m"))
    failed = of(events, AttemptFailed)[0]
    assert isinstance(failed, AttemptFailed) and failed.kind is FailureKind.DEGENERATE_OUTPUT
    unit = failed.detail.split("'")[1]  # the repeating unit, starting wherever the check caught it
    assert len(unit) == len("I am a bot. Hello!") and unit in "I am a bot. Hello!" * 2
    assert isinstance(events[-1], Completed) and events[-1].model == "back/m"


async def test_steward_cuts_a_reply_that_runs_past_max_tokens(fake_clock: FakeClock) -> None:
    engine = engine_with(fake_clock)
    runaway = server(engine, fake_clock, "run")
    runaway.script("m", Step(endless=True))
    request = ChatRequest(HELLO, model="run/m", params=GenerationParams(max_tokens=64))
    events = await ask(engine, fake_clock, request)
    done = events[-1]
    assert isinstance(done, Completed) and done.finish_reason == "length"
    assert done.note is not None and "max_tokens 64" in done.note
    grace = engine.settings.degenerate.max_tokens_grace
    assert len(done.text.split()) == 64 + grace
    assert runaway.scripts["m"].open_streams == 0  # the stream was closed


# --- 6. summarize never deadlocks ----------------------------------------------------------------


async def test_summary_is_written_on_a_single_slot_server(fake_clock: FakeClock) -> None:
    settings = EngineSettings(
        context=ContextSettings(policy=ContextPolicy.SUMMARIZE, reply_reserve_min=16, safety_margin_tokens=0)
    )
    engine = fitted_engine(fake_clock, settings)
    only = server(engine, fake_clock, "one", window=2000, concurrency=1)
    only.script("m", default=ok("A", " short", " summary"))
    history = []
    for n in range(40):
        history += [
            ChatMessage("user", f"question {n} " + "x" * 80),
            ChatMessage("assistant", "answer " * 10),
        ]
    history.append(ChatMessage("user", "and now?"))
    params = GenerationParams(max_tokens=32)
    events = await ask(engine, fake_clock, ChatRequest(tuple(history), model="one/m", params=params))
    fitted = of(events, ContextFitted)[0]
    assert isinstance(fitted, ContextFitted) and fitted.policy == "summarize" and fitted.note is None
    assert fitted.summary == "A short summary"
    assert isinstance(events[-1], Completed)
    assert fake_clock.now() == 1000.0  # no queue timeout was waited


async def test_a_loading_first_choice_hands_over_at_once_when_another_model_can_answer(
    fake_clock: FakeClock,
) -> None:
    engine = engine_with(fake_clock)
    warming = server(engine, fake_clock, "warm")
    warming.script("m", fail(FailureKind.MODEL_LOADING, detail="Loading model"))
    server(engine, fake_clock, "back")
    engine.set_fallback_chain(["warm/m", "back/m"])
    events = await ask(engine, fake_clock, ChatRequest(HELLO, model="warm/m"))
    failed = of(events, AttemptFailed)[0]
    assert (
        isinstance(failed, AttemptFailed)
        and failed.kind is FailureKind.MODEL_LOADING
        and not failed.will_retry
    )
    chosen = of(events, FallbackChosen)[0]
    assert isinstance(chosen, FallbackChosen) and "still loading" in chosen.reason
    assert isinstance(events[-1], Completed) and events[-1].model == "back/m"
    assert fake_clock.now() == 1000.0  # no warm-up wait while another model could answer
    state = engine.model("warm/m")
    assert state is not None and state.breaker.consecutive_failures == 0  # loading is not a failure


async def loop_then_fallback(clock: FakeClock, step: Step) -> AttemptFailed:
    """The primary plays `step` for a max_tokens 8 request; returns its failure (the fallback answered)."""
    engine = engine_with(clock)
    server(engine, clock, "loop").script("m", step)
    server(engine, clock, "back")
    engine.set_fallback_chain(["loop/m", "back/m"])
    request = ChatRequest(HELLO, model="loop/m", params=GenerationParams(max_tokens=8))
    events = await ask(engine, clock, request)
    assert isinstance(events[-1], Completed) and events[-1].model == "back/m"
    failed = of(events, AttemptFailed)[0]
    assert isinstance(failed, AttemptFailed) and failed.kind is FailureKind.DEGENERATE_OUTPUT
    return failed


async def test_a_short_endless_loop_cut_at_max_tokens_is_degenerate_not_an_answer(
    fake_clock: FakeClock,
) -> None:
    failed = await loop_then_fallback(fake_clock, Step(repeat="Hello! "))
    assert "hit max_tokens going round in circles (1 different chunks out of 16" in failed.detail


async def test_a_short_loop_split_into_tokens_cut_at_max_tokens_is_degenerate(fake_clock: FakeClock) -> None:
    # runs past max_tokens, never stops itself
    failed = await loop_then_fallback(fake_clock, Step(tokens=("Hello", "!", " ") * 400))
    assert "3 different chunks out of 16" in failed.detail


async def test_a_varied_reply_cut_at_max_tokens_is_kept_and_said(fake_clock: FakeClock) -> None:
    engine = engine_with(fake_clock)
    chatty = server(engine, fake_clock, "chatty")
    chatty.script("m", Step(endless=True))  # " w0", " w1", … never repeats, never stops
    events = await ask(
        engine, fake_clock, ChatRequest(HELLO, model="chatty/m", params=GenerationParams(max_tokens=8))
    )
    done = events[-1]
    assert isinstance(done, Completed) and done.finish_reason == "length" and done.note


async def test_a_loop_the_server_itself_stops_at_max_tokens_is_degenerate(fake_clock: FakeClock) -> None:
    engine = engine_with(fake_clock)
    looping = server(engine, fake_clock, "loop")
    # A real server honouring max_tokens 8 stops the loop itself, with finish_reason "length".
    looping.script("m", Step(tokens=("the", " the") * 4, finish="length"), Step(tokens=("the",) * 8))
    server(engine, fake_clock, "back")
    engine.set_fallback_chain(["loop/m", "back/m"])
    request = ChatRequest(HELLO, model="loop/m", params=GenerationParams(max_tokens=8))
    events = await ask(engine, fake_clock, request)
    failed = of(events, AttemptFailed)[0]
    assert isinstance(failed, AttemptFailed) and failed.kind is FailureKind.DEGENERATE_OUTPUT
    assert isinstance(events[-1], Completed) and events[-1].model == "back/m"
    # The same words ending by themselves ("stop") are a short answer, however odd: it stands.
    events = await ask(engine, fake_clock, request)
    assert isinstance(events[-1], Completed) and events[-1].model == "loop/m"
