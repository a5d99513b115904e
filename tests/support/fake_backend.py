"""A FAKE backend for engine unit tests: each call to `stream_chat` follows a script step.

Script steps (`Step`) say what the next answer does: stream tokens (with per-token
delays on the injected clock), fail with a kind before or after some tokens, hang,
repeat a chunk forever (degenerate), or report the model loading.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from steward.engine.clock import Clock
from steward.engine.failures import BackendError, FailureKind
from steward.engine.types import (
    ChatMessage,
    GenerationParams,
    ModelInfo,
    ProbeResult,
    ServerState,
    StreamChunk,
    Usage,
)


@dataclass(frozen=True)
class Step:
    tokens: tuple[str, ...] = ("Hello", " world")
    first_delay: float = 0.0
    token_delay: float = 0.0
    fail: FailureKind | None = None
    fail_after: int = 0
    hang: bool = False
    repeat: str | None = None
    prompt_tokens: int | None = None
    detail: str = "scripted failure"
    n_ctx: int | None = None
    endless: bool = False
    finish: str = "stop"


def ok(*tokens: str, first_delay: float = 0.0, token_delay: float = 0.0) -> Step:
    return Step(tokens=tokens or ("Hello", " world"), first_delay=first_delay, token_delay=token_delay)


def fail(
    kind: FailureKind, after: int = 0, tokens: tuple[str, ...] = ("partial", " text"), **kw: object
) -> Step:
    return Step(tokens=tokens, fail=kind, fail_after=after, **kw)  # type: ignore[arg-type]


def hang(first_delay: float = 10_000.0) -> Step:
    return Step(hang=True, first_delay=first_delay)


@dataclass
class FakeModelScript:
    steps: deque[Step] = field(default_factory=deque)
    default: Step = field(default_factory=ok)
    calls: int = 0
    open_streams: int = 0
    closed_streams: int = 0
    received: list[tuple[ChatMessage, ...]] = field(default_factory=list)


class FakeBackend:
    """A scriptable FAKE model server (not a real protocol: engine tests only)."""

    def __init__(self, server_id: str, clock: Clock, models: dict[str, int | None] | None = None) -> None:
        self._server_id = server_id
        self._clock = clock
        self.windows = dict(models or {"m": 4096})
        self.scripts: dict[str, FakeModelScript] = {name: FakeModelScript() for name in self.windows}
        self.probe_state = ServerState.UP
        self.closed = False
        self.refusing = False  # every call fails as connection_refused (a server that is down)
        self.describe_calls = 0
        self.describe_hang = False  # describe() never answers (a hung /v1/models)
        self.probe_hang = False  # probe() never answers (a wedged server)
        self.probes = 0

    @property
    def server_id(self) -> str:
        return self._server_id

    @property
    def kind(self) -> str:
        return "fake"

    def script(self, model: str, *steps: Step, default: Step | None = None) -> FakeModelScript:
        s = self.scripts[model]
        s.steps.extend(steps)
        if default is not None:
            s.default = default
        return s

    def _refuse(self) -> None:
        if self.refusing:
            raise BackendError(FailureKind.CONNECTION_REFUSED, f"{self._server_id}: connection refused")

    async def list_models(self) -> list[ModelInfo]:
        self._refuse()
        return [ModelInfo(name, loaded_context=w) for name, w in self.windows.items()]

    async def describe(self, model: str) -> ModelInfo:
        self.describe_calls += 1
        self._refuse()
        if self.describe_hang:
            while True:
                await self._clock.sleep(3600)
        if model not in self.windows:
            raise BackendError(FailureKind.MODEL_NOT_FOUND, f"model {model!r} not found")
        return ModelInfo(model, loaded_context=self.windows[model])

    async def stream_chat(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[StreamChunk]:
        self._refuse()
        if model not in self.scripts:
            raise BackendError(FailureKind.MODEL_NOT_FOUND, f"model {model!r} not found")
        script = self.scripts[model]
        script.calls += 1
        script.received.append(tuple(messages))
        step = script.steps.popleft() if script.steps else script.default
        script.open_streams += 1
        try:
            if step.first_delay:
                await self._clock.sleep(step.first_delay)
            if step.hang:
                while True:
                    await self._clock.sleep(3600)
            if step.repeat is not None:
                while True:
                    yield StreamChunk(text=step.repeat)
            if step.endless:  # never repeats itself, never stops: a runaway reply
                for n in itertools.count():
                    yield StreamChunk(text=f" w{n}")
            for index, token in enumerate(step.tokens):
                if step.fail is not None and index >= step.fail_after:
                    break
                if index and step.token_delay:
                    await self._clock.sleep(step.token_delay)
                yield StreamChunk(text=token)
            if step.fail is not None:
                raise BackendError(step.fail, step.detail, n_ctx=step.n_ctx)
            yield StreamChunk(
                done=True,
                finish_reason=step.finish,
                usage=Usage(prompt_tokens=step.prompt_tokens, completion_tokens=len(step.tokens)),
            )
        finally:
            script.open_streams -= 1
            script.closed_streams += 1

    async def probe(self) -> ProbeResult:
        self.probes += 1
        if self.probe_hang:
            while True:
                await self._clock.sleep(3600)
        if self.refusing:
            return ProbeResult(ServerState.DOWN, "connection_refused")
        return ProbeResult(self.probe_state)

    async def count_tokens(self, model: str, messages: Sequence[ChatMessage]) -> int | None:
        return None

    async def aclose(self) -> None:
        self.closed = True
