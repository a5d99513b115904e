"""OpenAI-compatible routes: `POST /v1/chat/completions` (SSE or one object) and `GET /v1/models`."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import AsyncGenerator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from steward.gateway.chat import Outcome, serve_chat
from steward.gateway.context import GatewayContext
from steward.gateway.models import offers
from steward.gateway.parse import ChatAsk, parse_openai
from steward.gateway.relay import Handover, Relay
from steward.gateway.streaming import Last, json_response
from steward.gateway.wire import SSE_DONE, SSE_MEDIA_TYPE, dumps, sse_comment, sse_data


class OpenAIRoutes:
    """The OpenAI-compatible part of one gateway."""

    def __init__(self, context: GatewayContext) -> None:
        self.context = context

    def routes(self) -> list[Route]:
        return [
            Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
        ]

    async def models(self, request: Request) -> Response:
        service = self.context.service
        created = int(time.time())
        data = [
            {"id": o.id, "object": "model", "created": created, "owned_by": o.owned_by}
            for o in offers(service.snapshot(), service.settings)
        ]
        return json_response({"object": "list", "data": data})

    async def chat_completions(self, request: Request) -> Response:
        return await serve_chat(
            self.context,
            request,
            api="openai",
            parse=parse_openai,
            one=lambda relay, _started: completion(relay),
            stream=sse_stream,
            media_type=SSE_MEDIA_TYPE,
        )


async def sse_stream(
    ask: ChatAsk, relay: Relay, started: float, outcome: Outcome
) -> AsyncGenerator[bytes, None]:
    """The answer as OpenAI streams it: role delta, content deltas, the final chunk (finish_reason
    and `steward`), the usage chunk when asked, `[DONE]`; a continuation announced by an SSE
    comment; a broken answer ended by an error event."""
    cid, created = completion_id(), int(time.time())
    model = relay.model or ""
    frames = DeltaFrames(cid, created, model)
    opening = sse_data(chunk(cid, created, model, {"role": "assistant", "content": ""}))
    async for piece in relay.texts():
        if isinstance(piece, Handover):
            model = piece.to_model
            frames = DeltaFrames(cid, created, model)
            yield opening + sse_comment(piece.comment())
        else:
            yield opening + frames.content(piece)
        opening = b""
    completed = relay.completed
    if relay.error is not None or completed is None:
        outcome.value = "incomplete"
        message = relay.error or "the answer ended unexpectedly"
        error = {"message": message, "type": "server_error", "param": None, "code": "midstream_failure"}
        yield Last(opening + sse_data({"error": error, "steward": relay.steward()}) + SSE_DONE)
        return
    outcome.value = "continued" if relay.handovers else "answered"
    final = chunk(cid, created, model, {}, completed.finish_reason or "stop")
    final["steward"] = relay.steward()
    tail = opening + sse_data(final)
    if ask.include_usage:
        tail += sse_data({**chunk(cid, created, model, {}), "choices": [], "usage": usage(relay)})
    yield Last(tail + SSE_DONE)


class DeltaFrames:
    """Content-delta events from a template: the same bytes as `sse_data(chunk(..., {"content": text}))`
    for a fraction of the encoding work per token."""

    _MARK = "@@steward-delta@@"

    def __init__(self, cid: str, created: int, model: str) -> None:
        template = sse_data(chunk(cid, created, model, {"content": self._MARK}))
        self._head, _, self._tail = template.rpartition(dumps(self._MARK))  # content comes last

    def content(self, text: str) -> bytes:
        return self._head + dumps(text) + self._tail


_RUN = os.urandom(8).hex()
_SEQUENCE = itertools.count(1)


def completion_id() -> str:
    """Unique per answer (a random prefix per process and a counter: no system call per request)."""
    return f"chatcmpl-{_RUN}{next(_SEQUENCE):08x}"


def chunk(
    cid: str, created: int, model: str, delta: dict[str, Any], finish: str | None = None
) -> dict[str, Any]:
    """One `chat.completion.chunk` with a single choice."""
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def usage(relay: Relay) -> dict[str, int]:
    prompt, completion_tokens = relay.usage()
    prompt, completion_tokens = prompt or 0, completion_tokens or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }


def completion(relay: Relay) -> dict[str, Any]:
    """The `chat.completion` object of a finished relay, with the `steward` attempt chain."""
    done = relay.completed
    assert done is not None
    message = {"role": "assistant", "content": done.text}
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": done.model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": done.finish_reason or "stop"}
        ],
        "usage": usage(relay),
        "steward": relay.steward(),
    }
