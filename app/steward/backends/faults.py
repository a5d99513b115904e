"""Faults injected inside Steward's backend layer, for the failover drill.

`FaultyBackend` wraps a real backend. While a `Fault` is set on it for one model, that model's
streamed answers fail the way real servers fail — and each failure is raised through the same
classification real traffic goes through (`classify_exception`, `error_in_payload`,
`parse_json_line`), so the engine cannot tell a drill fault from the real thing:

| fault      | what the engine sees                                                          |
|------------|-------------------------------------------------------------------------------|
| refused    | the connection is refused (httpx ConnectError)                                |
| hang       | the connection opens and nothing ever comes (until the engine's timeout)       |
| cut        | a few real chunks, then the server closes the connection mid-answer           |
| error_200  | HTTP 200 whose stream carries an error object instead of tokens               |
| garbage    | HTTP 200 whose stream is not JSON at all                                      |
| loop       | the same chunk (`<|im_end|>`) again and again, as a looping base model does     |
| trickle    | the real answer, one chunk every `trickle_s` seconds                          |

Only the wrapped backends of the drill's OWN engine carry faults (see `steward.service.drill_host`):
the live engine, the chat and every gateway client keep their own, untouched backends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import httpx

from steward.backends.classify import classify_exception, error_in_payload, parse_json_line
from steward.engine.backend import Backend
from steward.engine.types import ChatMessage, GenerationParams, ModelInfo, ProbeResult, StreamChunk


class FaultKind(StrEnum):
    REFUSED = "refused"
    HANG = "hang"
    CUT = "cut"
    ERROR_200 = "error_200"
    GARBAGE = "garbage"
    LOOP = "loop"
    TRICKLE = "trickle"


DESCRIPTIONS: dict[FaultKind, str] = {
    FaultKind.REFUSED: "refuses connections",
    FaultKind.HANG: "hangs (accepts, never answers)",
    FaultKind.CUT: "drops the connection mid-answer",
    FaultKind.ERROR_200: "answers HTTP 200 carrying an error",
    FaultKind.GARBAGE: "answers garbage instead of a stream",
    FaultKind.LOOP: "loops on one token",
    FaultKind.TRICKLE: "trickles tokens slowly",
}
"""What the fault does, as the verdict says it ("if small refuses connections, ...")."""

CUT_AFTER_CHUNKS = 3
LOOP_TOKEN = "<|im_end|>"
LOOP_PACE_S = 0.002  # a looping model is fast; a small pause keeps the loop from hogging the event loop


@dataclass(frozen=True)
class Fault:
    """A fault on one model of one server (the model name as the server knows it)."""

    kind: FaultKind
    model: str
    trickle_s: float = 0.5


class FaultyBackend:
    """A real backend with an optional injected fault (see the module docstring)."""

    def __init__(self, inner: Backend) -> None:
        self._inner = inner
        self.fault: Fault | None = None

    @property
    def inner(self) -> Backend:
        return self._inner

    @property
    def server_id(self) -> str:
        return self._inner.server_id

    @property
    def kind(self) -> str:
        return self._inner.kind

    async def list_models(self) -> list[ModelInfo]:
        return await self._inner.list_models()

    async def describe(self, model: str) -> ModelInfo:
        return await self._inner.describe(model)

    async def probe(self) -> ProbeResult:
        return await self._inner.probe()

    async def count_tokens(self, model: str, messages: Sequence[ChatMessage]) -> int | None:
        return await self._inner.count_tokens(model, messages)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def stream_chat(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[StreamChunk]:
        fault = self.fault
        if fault is None or fault.model != model:
            return self._inner.stream_chat(model, messages, params)
        return self._faulty(fault, model, messages, params)

    async def _faulty(
        self, fault: Fault, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[StreamChunk]:
        kind = fault.kind
        if kind is FaultKind.REFUSED:
            raise classify_exception(httpx.ConnectError("All connection attempts failed (drill: refused)"))
        if kind is FaultKind.HANG:
            await asyncio.Event().wait()  # until the engine's first-token timeout cancels it
        if kind is FaultKind.ERROR_200:
            err = error_in_payload(
                {
                    "error": {
                        "code": 500,
                        "message": "drill: the server failed mid-request",
                        "type": "server_error",
                    }
                }
            )
            assert err is not None
            raise err
        if kind is FaultKind.GARBAGE:
            parse_json_line("\x00\x1b[2J<html>drill garbage", "SSE data")  # raises bad_response
        if kind is FaultKind.LOOP:
            while True:  # until the engine's loop detector (or the length cut) stops it
                yield StreamChunk(text=LOOP_TOKEN)
                await asyncio.sleep(LOOP_PACE_S)
        real = self._inner.stream_chat(model, messages, params)
        try:
            sent = 0
            async for chunk in real:
                if kind is FaultKind.CUT and sent >= CUT_AFTER_CHUNKS:
                    raise classify_exception(
                        httpx.RemoteProtocolError(
                            "peer closed connection without sending complete message body"
                        )
                    )
                if kind is FaultKind.TRICKLE:
                    await asyncio.sleep(fault.trickle_s)
                yield chunk
                sent += 1
        finally:
            await real.aclose()  # type: ignore[attr-defined]
