"""The gateway's ASGI application: routes, health, metrics, and errors that are always JSON.

Layers, outermost first: `Guard` (host, origin, token) → CORS (only when origins are configured)
→ Starlette's router. An exception in a route becomes a 500 error object (and a log line without
the request's headers); it never takes the gateway down.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from steward.gateway.context import GatewayContext
from steward.gateway.errors import ApiError, is_ollama_path
from steward.gateway.guard import Guard
from steward.gateway.models import why_not_ready
from steward.gateway.ollama_api import OllamaRoutes
from steward.gateway.openai_api import OpenAIRoutes
from steward.gateway.streaming import json_response

log = logging.getLogger(__name__)


def build_app(context: GatewayContext, *, loopback: bool) -> Starlette:
    """The Starlette app of one gateway (CORS origins are read once here; the rest per request)."""
    service = context.service

    async def root(request: Request) -> Response:
        return PlainTextResponse("Steward is running")

    async def health(request: Request) -> Response:
        snap = service.snapshot()
        ready, not_ready = [], {}
        for model in snap.models:
            why = why_not_ready(model, snap)
            if why is None:
                ready.append(model.key)
            else:
                not_ready[model.key] = why
        body = {"status": "ready" if ready else "unavailable", "ready": ready, "not_ready": not_ready}
        return json_response(body, 200 if ready else 503)

    async def metrics(request: Request) -> Response:
        body, content_type = context.metrics.render()
        return Response(body, headers={"content-type": content_type})

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = exc.detail if isinstance(exc, HTTPException) else "not handled"
        return ApiError(status, str(message)).response(ollama=is_ollama_path(request.url.path))

    async def crash(request: Request, exc: Exception) -> Response:
        log.error("gateway: %s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        error = ApiError(500, "internal error in the Steward gateway", code="internal_error")
        return error.response(ollama=is_ollama_path(request.url.path))

    routes = [
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *OpenAIRoutes(context).routes(),
        *OllamaRoutes(context).routes(),
    ]
    origins = list(service.settings.gateway.cors_origins)
    middleware = [Middleware(Guard, service=service, loopback=loopback)]
    if origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type", "x-steward-strategy", "x-steward-fallback"],
                expose_headers=["x-steward-model", "x-steward-attempts"],
            )
        )
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: http_error, Exception: crash},
    )
