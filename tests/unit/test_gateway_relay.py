"""The relay between the engine's events and a client: who answers, the attempt chain, and a model
dying mid-answer (continued from the partial text on the remaining candidates, or an error).

The service is a fake that plays scripted engine event streams and records the requests it got.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from steward.engine.events import (
    AttemptFailed,
    AttemptStarted,
    CandidateSkipped,
    Completed,
    EngineEvent,
    FallbackChosen,
    PartialAbandoned,
    RequestFailed,
    RequestStarted,
    Token,
)
from steward.engine.failures import FailureKind
from steward.engine.request import ChatRequest
from steward.engine.running import Running
from steward.engine.types import ChatMessage, GenerationParams, Usage
from steward.gateway.relay import EchoStripper, Handover, Relay

A, B, C = "a/m", "b/m", "c/m"


def started(*candidates: str) -> RequestStarted:
    return RequestStarted(0.0, "r", "sequential", candidates, "test")


def token(model: str, text: str, attempt: int = 1) -> Token:
    return Token(0.0, "r", model, attempt, text)


def done(model: str, text: str, tokens: int = 3) -> Completed:
    return Completed(1.0, "r", model, text, Usage(10, tokens), None, 0.1, 1.0, 1, "stop")


def died(model: str, attempt: int, partial: str) -> list[EngineEvent]:
    return [
        PartialAbandoned(0.5, "r", model, attempt, partial),
        AttemptFailed(0.5, "r", model, attempt, FailureKind.CONNECTION_LOST, "cut", 0.4, False),
        FallbackChosen(0.5, "r", model, "x/next", "engine's own fallback"),
    ]


class FakeService:
    """Plays one scripted event list per `ask`, in order, one event per loop turn (as a stream
    arrives) or, with `burst`, all at once; records requests and closed streams."""

    def __init__(self, *scripts: Sequence[EngineEvent], burst: bool = False) -> None:
        self.burst = burst
        self.scripts = [list(s) for s in scripts]
        self.requests: list[ChatRequest] = []
        self.closed = 0

    def build_request(self, messages: Sequence[ChatMessage], **kw: Any) -> ChatRequest:
        params = GenerationParams(max_tokens=kw.pop("max_tokens"), temperature=kw.pop("temperature"))
        return ChatRequest(tuple(messages), params=params, **kw)

    def ask(self, request: ChatRequest) -> AsyncIterator[EngineEvent]:
        self.requests.append(request)
        script = self.scripts.pop(0)

        async def play() -> AsyncIterator[EngineEvent]:
            try:
                for event in script:
                    yield event
                    if not self.burst:
                        await asyncio.sleep(0)
            finally:
                self.closed += 1

        return play()

    def ask_pushed(
        self, request: ChatRequest, on_event: Callable[[EngineEvent], None], on_done: Callable[[], None]
    ) -> Running:
        """`ask`, pushed as the engine does (`Engine.start`): events to `on_event`, then `on_done`."""
        events = self.ask(request)

        async def push() -> None:
            try:
                async for event in events:
                    on_event(event)
            finally:
                await events.aclose()  # type: ignore[attr-defined]
                on_done()

        return Running(request.request_id or "r", asyncio.ensure_future(push()))


def relay_for(service: FakeService, midstream: str = "continue", max_tokens: int | None = 20) -> Relay:
    request = ChatRequest(
        (ChatMessage("user", "tell me"),),
        model=A,
        params=GenerationParams(max_tokens=max_tokens, seed=3),
        request_id="gw-1",
        source="gateway",
    )
    return Relay(service, request, midstream)  # type: ignore[arg-type]


async def texts(relay: Relay) -> list[str | Handover]:
    await relay.open()
    return [piece async for piece in relay.texts()]


def test_echo_stripper_drops_an_echo_and_keeps_a_plain_continuation() -> None:
    echo = EchoStripper("The capital is")
    assert [echo.feed(t) for t in ("The cap", "ital is Paris", ".")] == ["", " Paris", "."]
    plain = EchoStripper("The capital is")
    assert [plain.feed(t) for t in (" Paris", ".")] == [" Paris", "."], "Ollama sends only the new text"
    diverged = EchoStripper("The capital is")
    assert diverged.feed("The") == "" and diverged.feed(" city") == "The city", "held text is given back"
    assert EchoStripper("").feed("x") == "x"


async def test_first_token_names_the_model_and_failover_before_it_is_only_in_the_chain() -> None:
    service = FakeService(
        [
            started(A, B),
            AttemptStarted(0.0, "r", A, 1, "first"),
            AttemptFailed(0.2, "r", A, 1, FailureKind.CONNECTION_REFUSED, "refused", 0.2, False),
            AttemptStarted(0.2, "r", B, 2, "fallback"),
            token(B, "Hel", 2),
            token(B, "lo", 2),
            Completed(1.2, "r", B, "Hello", Usage(5, 2), None, 0.1, 1.2, 2, "stop"),
        ]
    )
    relay = relay_for(service)
    await relay.open()
    assert relay.model == B and relay.attempts == 2, "known before the response starts (headers)"
    assert [p async for p in relay.texts()] == ["Hel", "lo"]
    info = relay.steward()
    assert [(s["model"], s["outcome"], s["kind"]) for s in info["chain"]] == [
        (A, "failed", "connection_refused"),
        (B, "answered", None),
    ]
    assert info["chain"][1]["elapsed_s"] == 1.0 and "continued" not in info
    assert relay.usage() == (5, 2) and service.closed == 1


async def test_a_model_dying_mid_answer_is_continued_from_the_partial_text() -> None:
    service = FakeService(
        [started(A, B, C), token(A, "Once"), token(A, " upon"), *died(A, 1, "Once upon")],
        [started(B, C), token(B, "Once upon a"), token(B, " time"), done(B, "Once upon a time", 2)],
    )
    relay = relay_for(service)
    pieces = await texts(relay)
    assert pieces[:2] == ["Once", " upon"]
    assert pieces[2] == Handover(A, "connection_lost", 9, B)
    assert pieces[3:] == [" a", " time"], "the echo of the partial answer is not sent again"
    assert "".join(p for p in pieces if isinstance(p, str)) == "Once upon a time"
    again = service.requests[1]
    assert again.messages == (ChatMessage("user", "tell me"), ChatMessage("assistant", "Once upon"))
    assert again.model == B and again.fallback and again.source == "gateway"
    assert again.params.max_tokens == 18 and again.params.seed == 3, "budget less the chunks sent"
    assert again.request_id == "gw-1-c1"
    info = relay.steward()
    assert info["continued"] == [{"from": A, "kind": "connection_lost", "after_chars": 9, "to": B}]
    assert info["chain"][0]["outcome"] == "failed_midstream" and "after 9 chars" in info["chain"][0]["detail"]
    assert relay.completed is not None and relay.error is None and relay.model == B
    assert relay.usage() == (10, 4), "continuation tokens plus the chunks the dead model streamed"
    assert service.closed == 2
    assert pieces[2].comment() == f"steward: {A} failed (connection_lost) after 9 chars; continued on {B}"


async def test_the_dead_models_are_skipped_by_every_later_continuation() -> None:
    service = FakeService(
        [started(A, B, C), token(A, "x"), *died(A, 1, "x")],
        [started(B, C), token(B, "xy"), *died(B, 1, "xy")],
        [started(C), token(C, "xyz"), done(C, "xyz")],
    )
    relay = relay_for(service)
    pieces = await texts(relay)
    assert [p for p in pieces if isinstance(p, str)] == ["x", "y", "z"]
    assert [r.model for r in service.requests] == [A, B, C]
    assert service.requests[2].messages[-1] == ChatMessage("assistant", "xy")


async def test_midstream_error_mode_ends_with_an_error_and_no_second_answer() -> None:
    service = FakeService([started(A, B), token(A, "Par"), *died(A, 1, "Par"), token("x/next", "Other")])
    relay = relay_for(service, midstream="error")
    assert await texts(relay) == ["Par"]
    assert relay.error is not None and "connection_lost" in relay.error and "3 characters" in relay.error
    assert relay.completed is None and len(service.requests) == 1 and service.closed == 1


async def test_no_model_left_to_continue_is_an_error_not_a_truncated_success() -> None:
    service = FakeService(
        [started(A, B), token(A, "Par"), *died(A, 1, "Par")],
        [
            started(B),
            CandidateSkipped(0, "r", B, "circuit open", FailureKind.CIRCUIT_OPEN),
            RequestFailed(0, "r", "no model could answer", (FailureKind.CIRCUIT_OPEN,)),
        ],
    )
    relay = relay_for(service)
    assert await texts(relay) == ["Par"]
    assert relay.error is not None and "no model could continue it" in relay.error
    assert relay.completed is None


async def test_a_single_candidate_is_asked_to_continue_itself() -> None:
    service = FakeService(
        [started(A), token(A, "ab"), *died(A, 1, "ab")],
        [started(A), token(A, "abc"), done(A, "abc")],
    )
    relay = relay_for(service, max_tokens=None)
    pieces = await texts(relay)
    assert [p for p in pieces if isinstance(p, str)] == ["ab", "c"]
    assert service.requests[1].model == A and service.requests[1].params.max_tokens is None


async def test_a_hedge_losers_partial_is_not_a_midstream_failure() -> None:
    service = FakeService(
        [started(A, B), token(A, "ok"), PartialAbandoned(0, "r", B, 2, "lost race"), done(A, "ok")]
    )
    relay = relay_for(service)
    assert await texts(relay) == ["ok"] and relay.completed is not None and not relay.handovers


async def test_a_failed_request_before_any_token() -> None:
    failed = RequestFailed(0, "r", "no model could answer", (FailureKind.SERVER_BUSY,))
    relay = relay_for(FakeService([started(A), failed]))
    await relay.open()
    assert relay.model is None and relay.failed is failed


async def test_tokens_that_arrived_together_go_out_as_one_piece() -> None:
    script = [started(A), token(A, "a"), token(A, "b"), token(A, "c"), done(A, "abc")]
    relay = relay_for(FakeService(script, burst=True))
    assert await texts(relay) == ["abc"], "one delta, one write, when the client is behind"
    relay = relay_for(FakeService(script))
    assert await texts(relay) == ["a", "b", "c"], "never held back to wait for more"


async def test_a_burst_cut_mid_answer_still_counts_its_tokens() -> None:
    service = FakeService(
        [started(A, B), token(A, "Once"), token(A, " upon"), *died(A, 1, "Once upon")],
        [started(B), token(B, "Once upon a time"), done(B, "Once upon a time", 2)],
        burst=True,
    )
    relay = relay_for(service)
    pieces = await texts(relay)
    assert [p for p in pieces if isinstance(p, str)] == ["Once upon", " a time"]
    assert service.requests[1].params.max_tokens == 18 and relay.usage() == (10, 4)


async def test_closing_early_closes_the_engine_stream() -> None:
    service = FakeService([started(A), token(A, "a"), token(A, "b"), done(A, "ab")])
    relay = relay_for(service)
    await relay.open()
    stream = relay.texts()
    assert await stream.__anext__() == "a"
    await stream.aclose()  # type: ignore[attr-defined]
    assert service.closed == 1
