"""One client request through the engine, as the gateway answers it.

The relay reads the engine's events and keeps what a client must be told: which model answers,
the attempt chain (model, outcome, failure kind, time), and the text the client already has.

Before the first token, failover is the engine's business: the relay only records it. After the
first token the client holds part of an answer, so a model that dies then must not leave it with
a truncated answer or a second answer from scratch (which is what the engine's own fallback would
stream). With `midstream="continue"` the relay stops that fallback and asks the remaining
candidates to CONTINUE the same conversation from the partial answer (given as a trailing
assistant message), streaming only what comes after it; with `"error"` it ends the stream with
an error the client can see.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any, Literal

from steward.engine.events import (
    AttemptCancelled,
    AttemptFailed,
    AttemptStarted,
    CandidateSkipped,
    Completed,
    EngineEvent,
    PartialAbandoned,
    RequestFailed,
    RequestStarted,
    Token,
)
from steward.engine.request import ChatRequest
from steward.engine.types import ChatMessage
from steward.gateway.pump import EventPump
from steward.service import StewardService

MAX_HANDOVERS = 3
"""Continuations per request: each skips the models that died, so a few always suffice."""


@dataclass(frozen=True)
class Step:
    """One entry of the attempt chain a client sees (`steward.chain`)."""

    model: str
    outcome: str
    """answered, failed, retrying, failed_midstream, skipped or cancelled."""
    kind: str | None = None
    elapsed_s: float | None = None
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        elapsed = None if self.elapsed_s is None else round(self.elapsed_s, 3)
        return {
            "model": self.model,
            "outcome": self.outcome,
            "kind": self.kind,
            "elapsed_s": elapsed,
            "detail": self.detail[:300],
        }


@dataclass(frozen=True)
class Handover:
    """`from_model` died (`kind`) after `after_chars` characters; `to_model` continued the answer."""

    from_model: str
    kind: str
    after_chars: int
    to_model: str

    def comment(self) -> str:
        return (
            f"steward: {self.from_model} failed ({self.kind}) after {self.after_chars} chars; "
            f"continued on {self.to_model}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.from_model,
            "kind": self.kind,
            "after_chars": self.after_chars,
            "to": self.to_model,
        }


class EchoStripper:
    """Drops a continuation's echo of the partial answer it was asked to continue.

    llama-server repeats a trailing assistant message before continuing it (checked on the
    pinned build: the first delta is "<partial><next token>"); Ollama sends only the new text.
    Text is held back only while it could still be that echo.
    """

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._buffer = ""
        self._done = not prefix

    def feed(self, text: str) -> str:
        if self._done:
            return text
        self._buffer += text
        if len(self._buffer) < len(self._prefix) and self._prefix.startswith(self._buffer):
            return ""  # still possibly the echo
        self._done = True
        held, self._buffer = self._buffer, ""
        return held[len(self._prefix) :] if held.startswith(self._prefix) else held


class Relay:
    """Drive one request: `await open()`, then `texts()` (streams) or `wait()` (one answer)."""

    def __init__(
        self,
        service: StewardService,
        request: ChatRequest,
        midstream: Literal["continue", "error"] = "continue",
    ) -> None:
        self._service = service
        self.request = request
        self.midstream = midstream
        self.chain: list[Step] = []
        self.handovers: list[Handover] = []
        self.candidates: tuple[str, ...] = ()
        self.model: str | None = None
        """The model answering now (the first token's, or the continuation's)."""
        self.attempts = 0
        self.completed: Completed | None = None
        self.failed: RequestFailed | None = None
        self.error: str | None = None
        """Set when a stream ended without a complete answer after tokens were sent."""
        self.sent: list[str] = []
        self._earlier_chunks = 0
        """Tokens the models that died streamed (they reported no usage before dying)."""
        self._run_tokens = 0
        self._pump: EventPump | None = None
        self._lookahead: EngineEvent | None = None
        self._first: Token | None = None
        self._winner: int | None = None
        self._started: dict[int, tuple[str, float]] = {}
        self._dead: set[str] = set()

    # --- driving ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Run until the first token or the end; then `model` (or `failed`) is known."""
        self._ask(self.request)
        await self._until_first()

    async def wait(self) -> None:
        """Run to the end (no client has seen a token: the engine's fallback is invisible)."""
        if self._pump is None:
            self._ask(self.request)
        try:
            while await self._next() is not None:
                pass
        finally:
            await self.aclose()

    async def texts(self) -> AsyncIterator[str | Handover]:
        """The answer's text pieces as the client must get them, with a `Handover` before each
        continuation. Ends with `completed`, `failed` or `error` set.

        Tokens that have already arrived together come out as one piece (never waiting for more).
        """
        try:
            stripper: EchoStripper | None = None
            if self._first is not None:
                yield self._sent(self._with_arrived(self._first.text))
            while (event := await self._next()) is not None:
                if isinstance(event, Token):
                    text = self._with_arrived(event.text)
                    text = stripper.feed(text) if stripper else text
                    if text:
                        yield self._sent(text)
                elif (
                    isinstance(event, PartialAbandoned)
                    and event.model == self.model
                    and event.attempt == self._winner
                ):
                    kind = await self._abandon(event)
                    sent = "".join(self.sent)
                    if self.midstream == "error" or len(self.handovers) >= MAX_HANDOVERS:
                        self.error = (
                            f"{event.model} failed ({kind}) after {len(sent)} characters of the answer"
                        )
                        return
                    prefix = await self._continue(sent, event.model)
                    if self.model is None:
                        return
                    handover = Handover(event.model, kind, len(sent), self.model)
                    self.handovers.append(handover)
                    yield handover
                    stripper = EchoStripper(prefix)
                    first = self._with_arrived(self._first.text) if self._first is not None else ""
                    if text := stripper.feed(first):
                        yield self._sent(text)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Stop the engine's request (a client that went away cancels its attempts)."""
        pump, self._pump, self._lookahead = self._pump, None, None
        if pump is not None:
            await pump.aclose()

    # --- what the client is told -----------------------------------------------------------

    def steward(self) -> dict[str, Any]:
        """The `steward` object of bodies and final chunks: who answered and how."""
        info: dict[str, Any] = {
            "model": self.model,
            "attempts": self.attempts,
            "chain": [step.as_json() for step in self.chain],
        }
        if self.handovers:
            info["continued"] = [h.as_json() for h in self.handovers]
        if self.completed is not None and self.completed.note:
            info["note"] = self.completed.note
        return info

    def usage(self) -> tuple[int | None, int | None]:
        """(prompt, completion) tokens of the answer; a continued answer adds the token events the
        earlier models streamed (they reported no usage before dying)."""
        usage = self.completed.usage if self.completed is not None else None
        prompt = usage.prompt_tokens if usage else None
        completion = usage.completion_tokens if usage else None
        if self._earlier_chunks and completion is not None:
            completion += self._earlier_chunks
        return prompt, completion

    # --- internals -------------------------------------------------------------------------

    def _sent(self, text: str) -> str:
        self.sent.append(text)
        return text

    def _ask(self, request: ChatRequest) -> None:
        self._pump = EventPump(self._service, request)
        self._run_tokens = 0

    async def _next(self) -> EngineEvent | None:
        event, self._lookahead = self._lookahead, None
        if event is None and self._pump is not None:
            event = await self._pump.next()
        if event is not None:
            self._note(event)
        return event

    def _with_arrived(self, text: str) -> str:
        """`text` and the text of every token that has already arrived after it."""
        parts = [text]
        while self._pump is not None:
            if self._lookahead is None:
                self._lookahead = self._pump.ready()
            token = self._lookahead
            if not isinstance(token, Token) or token.attempt != self._winner:
                break
            self._lookahead = None
            self._note(token)
            parts.append(token.text)
        return "".join(parts) if len(parts) > 1 else text

    async def _until_first(self) -> None:
        self._first = self._winner = None
        while (event := await self._next()) is not None:
            if isinstance(event, Token):
                self._first, self._winner, self.model = event, event.attempt, event.model
                return
            if isinstance(event, Completed | RequestFailed):
                return

    def _note(self, event: EngineEvent) -> None:
        if isinstance(event, Token):
            self._run_tokens += 1
        elif isinstance(event, RequestStarted):
            self.candidates = self.candidates or event.candidates
            self._started = {}
        elif isinstance(event, AttemptStarted):
            self.attempts += 1
            self._started[event.attempt] = (event.model, event.ts)
        elif isinstance(event, AttemptFailed):
            outcome = "retrying" if event.will_retry else "failed"
            self.chain.append(Step(event.model, outcome, event.kind.value, event.elapsed_s, event.detail))
        elif isinstance(event, CandidateSkipped):
            self.chain.append(Step(event.model, "skipped", event.kind.value, None, event.reason))
        elif isinstance(event, AttemptCancelled):
            self.chain.append(Step(event.model, "cancelled", None, self._elapsed(event), event.reason))
        elif isinstance(event, Completed):
            self.completed, self.model = event, event.model
            self.chain.append(Step(event.model, "answered", None, self._elapsed(event)))
        elif isinstance(event, RequestFailed):
            self.failed = event

    def _elapsed(self, event: Completed | AttemptCancelled) -> float | None:
        attempt = getattr(event, "attempt", None)
        if attempt is None:  # Completed: the newest attempt of the model that answered
            attempt = max((n for n, (m, _) in self._started.items() if m == event.model), default=None)
        started = self._started.get(attempt) if attempt is not None else None
        return None if started is None else max(0.0, event.ts - started[1])

    async def _abandon(self, event: PartialAbandoned) -> str:
        """Stop the engine's own fallback (a new answer from scratch); return the failure kind."""
        kind = "unknown"
        while (later := await self._next()) is not None:  # AttemptFailed follows PartialAbandoned
            if isinstance(later, AttemptFailed) and later.attempt == event.attempt:
                kind = later.kind.value
                last = self.chain.pop()
                sent = sum(len(t) for t in self.sent)
                detail = f"after {sent} chars: {last.detail}"
                self.chain.append(replace(last, outcome="failed_midstream", detail=detail))
                if not later.will_retry:
                    await self._let_engine_take_failure()
                break
            if isinstance(later, Completed | RequestFailed):
                break
        await self.aclose()
        self._dead.add(event.model)
        self._earlier_chunks += self._run_tokens
        self.completed = None
        self.model = None
        return kind

    async def _let_engine_take_failure(self) -> None:
        """Read (and drop) the event the engine sends once it took the failed attempt in.

        Closing the engine's stream before that would leave the attempt's exception unretrieved
        (asyncio then logs "Task exception was never retrieved"). The event starts the engine's
        own fallback, which closing the stream cancels at once.
        """
        if self._pump is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._pump.next(), 1.0)

    async def _continue(self, sent: str, dead: str) -> str:
        """Ask the remaining candidates to continue `sent`; returns the prefix they were given.

        Afterwards `model` is the continuing model, or None with `error` set.
        """
        original = self.request
        messages = list(original.messages)
        prefix = sent
        if messages and messages[-1].role == "assistant":  # the client's own prefill, continued once already
            prefill = messages.pop().content
            prefix = sent if sent.startswith(prefill) else prefill + sent
        messages.append(ChatMessage("assistant", prefix))
        remaining = [key for key in self.candidates if key not in self._dead]
        limit = original.params.max_tokens
        request = self._service.build_request(
            messages,
            model=remaining[0] if remaining else dead,
            strategy=original.strategy,
            max_tokens=None if limit is None else max(1, limit - self._earlier_chunks),
            temperature=original.params.temperature,
            request_id=f"{original.request_id or 'gw'}-c{len(self.handovers) + 1}",
            source="gateway",
            fallback=bool(remaining) or original.fallback,
        )
        params = replace(
            request.params, top_p=original.params.top_p, seed=original.params.seed, stop=original.params.stop
        )
        self._ask(replace(request, params=params))
        await self._until_first()
        if self.model is None:
            why = (
                self.failed.detail if self.failed is not None else "the continuation ended without an answer"
            )
            self.error = (
                f"the answer broke off after {len(sent)} characters and no model could continue it: {why}"
            )
        return prefix
