"""What both APIs share for one chat: the request the service builds for it (model, per-request
headers, the client's user-agent), one body or a stream, the headers that say who answered, and a
failed request as an HTTP status."""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from steward.engine.failures import FailureKind
from steward.gateway.context import GatewayContext
from steward.gateway.errors import ApiError
from steward.gateway.models import resolve
from steward.gateway.parse import ChatAsk, load_json
from steward.gateway.relay import Relay
from steward.gateway.streaming import ClientWatch, StreamResponse, json_response
from steward.service import StewardService

RETRY_AFTER_S = 2
"""What a client is told to wait when every queue was full (a slot frees when an answer ends)."""
CLIENT_GONE = 499
"""nginx's "client closed request": the status label a request counts under when its client left."""
_OFF = {"off", "false", "0", "no"}
_SKIPS = {FailureKind.CIRCUIT_OPEN, FailureKind.QUARANTINED}
_BUSY = {FailureKind.SERVER_BUSY, FailureKind.RATE_LIMITED}
_ids = itertools.count(1)
_RUN = os.urandom(3).hex()


def new_relay(service: StewardService, ask: ChatAsk, headers: Mapping[str, str]) -> Relay:
    """The relay for `ask`: model resolved (404 when unknown), `x-steward-strategy` and
    `x-steward-fallback: off` applied, sampling carried; 400 for a bad header value."""
    settings = service.settings
    engine = service.runtime.engine  # a dictionary look-up; the service has no cheaper way to ask
    model = resolve(ask.model, settings, lambda key: engine.model(key) is not None, service.snapshot)
    strategy = headers.get("x-steward-strategy") or None
    fallback = headers.get("x-steward-fallback", "").strip().lower() not in _OFF
    try:
        request = service.build_request(
            ask.messages,
            model=model,
            strategy=strategy,
            max_tokens=ask.max_tokens,
            temperature=ask.temperature,
            request_id=f"gw-{_RUN}-{next(_ids)}",
            source="gateway",
            fallback=fallback,
            client=headers.get("user-agent", ""),
        )
    except ValueError as exc:
        param = "x-steward-strategy" if "strategy" in str(exc) else "messages"
        raise ApiError(400, str(exc)[:300], param=param) from None
    if ask.top_p is not None or ask.seed is not None or ask.stop:
        params = replace(request.params, top_p=ask.top_p, seed=ask.seed, stop=ask.stop)
        request = replace(request, params=params)
    return Relay(service, request, midstream=settings.gateway.midstream)


def answer_headers(relay: Relay) -> dict[str, str]:
    """Who answered: `x-steward-model` and `x-steward-attempts` (attempts started so far)."""
    headers = {"x-steward-attempts": str(relay.attempts)}
    if relay.model is not None:
        headers["x-steward-model"] = relay.model
    return headers


def failure(relay: Relay) -> ApiError:
    """The HTTP error for a request no model answered, with the attempt chain.

    400 when the request itself was refused (bad_request; or every window too small), 429 with
    Retry-After when every model tried had a full queue, else 503.
    """
    failed = relay.failed
    detail = failed.detail if failed is not None else "the request ended without an answer"
    kinds = set(failed.kinds) if failed is not None else set()
    tried = kinds - _SKIPS
    extra = {"steward": relay.steward()}
    headers = answer_headers(relay)
    if FailureKind.BAD_REQUEST in kinds:
        return ApiError(400, detail, code="bad_request", headers=headers, extra=extra)
    if tried and tried <= {FailureKind.CONTEXT_OVERFLOW}:
        return ApiError(400, detail, code="context_length_exceeded", headers=headers, extra=extra)
    if tried and tried <= _BUSY:
        headers["retry-after"] = str(RETRY_AFTER_S)
        return ApiError(429, detail, code="server_busy", headers=headers, extra=extra)
    return ApiError(503, detail, code="no_model_available", headers=headers, extra=extra)


@dataclass
class Outcome:
    """How a streamed answer ended, set by the API's renderer as it goes (counted at the end)."""

    value: str = "cancelled"
    """answered, continued, incomplete; cancelled when the client went away first."""


Parser = Callable[[Mapping[str, Any], int], ChatAsk]
OneBody = Callable[[Relay, float], dict[str, Any]]
StreamBody = Callable[[ChatAsk, Relay, float, Outcome], AsyncGenerator[bytes, None]]


async def serve_chat(
    context: GatewayContext,
    request: Request,
    *,
    api: str,
    parse: Parser,
    one: OneBody,
    stream: StreamBody,
    media_type: str,
) -> Response:
    """One chat request of either API: parse, relay, then one body or a stream.

    A stream's response starts only once the first token (or the final failure) is there, so its
    headers can say which model answers, and a request no model could answer is an HTTP error.
    """
    started = time.perf_counter()
    service = context.service
    relay: Relay | None = None
    try:
        payload = load_json(await context.read_body(request))
        ask = parse(payload, service.settings.gateway.max_messages)
        relay = new_relay(service, ask, request.headers)
        with ClientWatch(request.receive) as watch:  # a client that gives up stops the engine
            await (relay.open() if ask.stream else relay.wait())
            if ask.stream and not watch.gone and relay.model is not None:
                watch.keep()  # the stream's response takes this watcher over
        if watch.gone:
            await relay.aclose()
            context.count(api, CLIENT_GONE, "cancelled")
            return Response(status_code=400)  # never sent: uvicorn drops what a gone client would get
        if not ask.stream:
            if relay.completed is None:
                raise failure(relay)
            context.count(api, 200, "answered")
            return json_response(one(relay, started), headers=answer_headers(relay))
        if relay.model is None:
            raise failure(relay)
    except ApiError as error:
        if relay is not None:
            await relay.aclose()
        context.count(api, error.status, "rejected" if relay is None else "failed")
        return error.response(ollama=api == "ollama")
    except BaseException:
        if relay is not None:
            await relay.aclose()
        raise
    outcome = Outcome()
    opened = relay

    async def body() -> AsyncGenerator[bytes, None]:
        try:
            async with contextlib.aclosing(stream(ask, opened, started, outcome)) as parts:
                async for part in parts:
                    yield part
        finally:
            context.count(api, 200, outcome.value)
            for handover in opened.handovers:
                context.metrics.continuations.labels(handover.from_model, handover.to_model).inc()

    return StreamResponse(
        body(), headers=answer_headers(relay), media_type=media_type, cleanup=relay.aclose, watch=watch
    )
