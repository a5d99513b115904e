"""Ollama-compatible routes: `POST /api/chat` (NDJSON stream by default, or one object),
`GET /api/tags`, `GET /api/version`, `GET /api/ps` — so tools set up for Ollama work with Steward.

Durations are nanoseconds as Ollama reports them; a continued answer is announced by an empty
line-chunk carrying `steward.continued` (NDJSON has no comments), a broken one ends with Ollama's
own `{"error": "..."}` line.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from steward import __version__
from steward.engine.snapshot import ModelSnapshot
from steward.gateway.chat import Outcome, serve_chat
from steward.gateway.context import GatewayContext
from steward.gateway.models import offers
from steward.gateway.parse import ChatAsk, parse_ollama
from steward.gateway.relay import Handover, Relay
from steward.gateway.streaming import Last, json_response
from steward.gateway.wire import NDJSON_MEDIA_TYPE, ndjson

OLLAMA_API_VERSION = "0.9.0"
"""The Ollama API level the gateway speaks (clients compare versions); Steward's own is beside it."""


class OllamaRoutes:
    """The Ollama-compatible part of one gateway."""

    def __init__(self, context: GatewayContext) -> None:
        self.context = context

    def routes(self) -> list[Route]:
        return [
            Route("/api/chat", self.chat, methods=["POST"]),
            Route("/api/tags", self.tags, methods=["GET"]),
            Route("/api/version", self.version, methods=["GET"]),
            Route("/api/ps", self.ps, methods=["GET"]),
        ]

    async def version(self, request: Request) -> Response:
        return json_response({"version": OLLAMA_API_VERSION, "steward": __version__})

    async def tags(self, request: Request) -> Response:
        service = self.context.service
        models = [_tag(o.id, o.model) for o in offers(service.snapshot(), service.settings)]
        return json_response({"models": models})

    async def ps(self, request: Request) -> Response:
        loaded = [m for m in self.context.service.snapshot().models if m.loaded]
        models = [
            {**_tag(m.key, m), "size_vram": m.vram_bytes or 0, "expires_at": None, "context_length": m.window}
            for m in loaded
        ]
        return json_response({"models": models})

    async def chat(self, request: Request) -> Response:
        return await serve_chat(
            self.context,
            request,
            api="ollama",
            parse=parse_ollama,
            one=lambda relay, started: _final(
                relay, started, relay.completed.text if relay.completed else ""
            ),
            stream=ndjson_stream,
            media_type=NDJSON_MEDIA_TYPE,
        )


async def ndjson_stream(
    ask: ChatAsk, relay: Relay, started: float, outcome: Outcome
) -> AsyncGenerator[bytes, None]:
    """The answer as Ollama streams it: one line per piece, then the `done: true` line."""
    model = relay.model or ""
    async for piece in relay.texts():
        if isinstance(piece, Handover):
            model = piece.to_model
            yield ndjson({**_line(model, ""), "steward": {"continued": piece.as_json()}})
        else:
            yield ndjson(_line(model, piece))
    if relay.error is not None or relay.completed is None:
        outcome.value = "incomplete"
        yield Last(
            ndjson({"error": relay.error or "the answer ended unexpectedly", "steward": relay.steward()})
        )
        return
    outcome.value = "continued" if relay.handovers else "answered"
    yield Last(ndjson(_final(relay, started, "")))


def _created_at() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _line(model: str, text: str) -> dict[str, Any]:
    return {
        "model": model,
        "created_at": _created_at(),
        "message": {"role": "assistant", "content": text},
        "done": False,
    }


def _ns(ms: float | None) -> int:
    return int((ms or 0.0) * 1_000_000)


def _final(relay: Relay, started: float, text: str) -> dict[str, Any]:
    """The `done: true` object: done_reason, token counts and durations (ns)."""
    done = relay.completed
    assert done is not None
    prompt, completion = relay.usage()
    timings = done.timings
    return {
        **_line(done.model, text),
        "done": True,
        "done_reason": done.finish_reason or "stop",
        "total_duration": int((time.perf_counter() - started) * 1e9),
        "load_duration": _ns(timings.load_ms if timings else None),
        "prompt_eval_count": prompt or 0,
        "prompt_eval_duration": _ns(timings.prompt_ms if timings else None),
        "eval_count": completion or 0,
        "eval_duration": _ns(timings.predicted_ms if timings else None),
        "steward": relay.steward(),
    }


def _tag(name: str, model: ModelSnapshot | None) -> dict[str, Any]:
    """One /api/tags entry (virtual models have no size or details)."""
    details = {
        "format": "gguf" if model is not None else "",
        "family": "",
        "families": None,
        "parameter_size": (model.parameter_size or "") if model else "",
        "quantization_level": (model.quantization or "") if model else "",
    }
    return {
        "name": name,
        "model": name,
        "modified_at": _created_at(),
        "size": (model.size_bytes or 0) if model else 0,
        "digest": "",
        "details": details,
    }
