"""Minimal reproductions of the engine problems the chaos soak found (no llama-server needed).

    .venv/bin/python -m tests.chaos.repro loop        # a short endless loop ("Hello! " per event): was
                                                      # returned as the answer; caught since abbf280
    .venv/bin/python -m tests.chaos.repro loop-split  # the same loop streamed as tokens "Hello", "!", " ":
                                                      # still returned as the answer at 0bca1a1
    .venv/bin/python -m tests.chaos.repro loading     # a primary stuck loading held the request until its
                                                      # deadline (fallback idle); hands over since abbf280

Both servers are `FaultProxy` `Respond` faults (canned bytes, no upstream): the primary misbehaves, the
fallback answers "Yes." correctly. Prints every event of one request.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import replace

from steward.backends.factory import make_backend
from steward.engine.core import Engine
from steward.engine.request import ChatRequest
from steward.engine.settings import EngineSettings, TimeoutSettings
from steward.engine.types import ChatMessage, GenerationParams, ModelInfo
from tests.support.fault_proxy import FaultProxy, Respond, http_reply
from tests.support.llama import free_port

_SSE = http_reply(b"", content_type="text/event-stream", length=False)


def _chunk(text: str | None, finish: str | None = None) -> bytes:
    delta = {} if text is None else {"content": text}
    body = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


GOOD = _SSE + _chunk("Yes.") + _chunk(None, "stop") + b"data: [DONE]\n\n"
LOOP = Respond(_SSE, repeat=_chunk("Hello! "), every_ms=5)
LOOP_SPLIT = Respond(_SSE, repeat=_chunk("Hello") + _chunk("!") + _chunk(" "), every_ms=5)
LOADING = Respond(
    http_reply(b'{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}', status=503)
)


async def run(primary_fault: Respond, settings: EngineSettings) -> None:
    with (
        FaultProxy("127.0.0.1", free_port()) as primary,
        FaultProxy("127.0.0.1", free_port()) as fallback,
    ):
        primary.set_fault(primary_fault)
        fallback.set_fault(Respond(GOOD))
        engine = Engine(settings)
        for sid, proxy in (("primary", primary), ("fallback", fallback)):
            engine.add_backend(
                make_backend("llamacpp", sid, proxy.url, api_key=None, connect_s=2, stall_s=30)
            )
            engine.add_model(sid, ModelInfo("m"))
        engine.set_fallback_chain(["fallback/m"])
        request = ChatRequest(
            (ChatMessage("user", "Reply with one word: yes or no?"),),
            model="primary/m",
            params=GenerationParams(max_tokens=8),
        )
        started = time.monotonic()
        async for event in engine.chat(request):
            fields = {k: v for k, v in vars(event).items() if k not in ("ts", "request_id", "explanation")}
            if isinstance(fields.get("text"), str) and len(fields["text"]) > 60:
                fields["text"] = f"{fields['text'][:60]}… ({len(fields['text'])} chars)"
            print(f"{time.monotonic() - started:7.2f} s  {type(event).__name__}  {str(fields)[:300]}")
        await engine.aclose()


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "loop"
    if which.startswith("loop"):
        asyncio.run(run(LOOP_SPLIT if which == "loop-split" else LOOP, EngineSettings()))
    else:
        deadline = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
        timeouts = replace(TimeoutSettings(), request_deadline_s=deadline)
        asyncio.run(run(LOADING, replace(EngineSettings(), timeouts=timeouts)))
