"""The checks every request passes before any route (an ASGI middleware, the outermost layer).

- Host: while the gateway listens on loopback, the Host header must name loopback too. A web
  page that rebinds its own DNS name to 127.0.0.1 (DNS rebinding) still sends its own name here.
- Origin: a browser request from an origin not in `gateway.cors_origins` is refused (403); with
  no origins configured every browser request is (tools and scripts send no Origin).
- Token: `Authorization: Bearer <token>` on every route but `/` (liveness text) and CORS
  preflights, while `gateway.require_token` (401 otherwise). Compared in constant time; never
  logged, never echoed.

Settings are read per request, so a change applies at once (host and port need a restart).
"""

from __future__ import annotations

import ipaddress

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from steward.gateway.errors import ApiError, is_ollama_path
from steward.service import StewardService

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
OPEN_PATHS = frozenset({"/"})


def host_name(host_header: str) -> str:
    """`localhost:11480` -> `localhost`; `[::1]:11480` -> `[::1]`."""
    if host_header.startswith("["):
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def is_loopback_host(host: str) -> bool:
    """`localhost` or a loopback IP literal. A name like `127.0.0.1.evil.example` is not: it is
    exactly what a DNS-rebinding page would send."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


class Guard:
    """Host, Origin and token checks in front of `app`."""

    def __init__(self, app: ASGIApp, service: StewardService, *, loopback: bool) -> None:
        self.app = app
        self.service = service
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = await self._check(scope)
        if error is not None:
            await error.response(ollama=is_ollama_path(scope["path"]))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope) -> ApiError | None:
        headers = Headers(scope=scope)
        config = self.service.settings.gateway
        host = headers.get("host")
        if self.loopback and host is not None and not is_loopback_host(host_name(host).lower()):
            return ApiError(403, "this gateway answers only requests addressed to localhost", code="bad_host")
        origin = headers.get("origin")
        allowed = config.cors_origins
        if (
            origin is not None
            and "*" not in allowed
            and origin.rstrip("/") not in {o.rstrip("/") for o in allowed}
        ):
            return ApiError(
                403, "requests from this web origin are not allowed (gateway.cors_origins)", code="bad_origin"
            )
        if not config.require_token or scope["path"] in OPEN_PATHS:
            return None
        if scope["method"] == "OPTIONS" and origin is not None and "access-control-request-method" in headers:
            return None  # a CORS preflight from an allowed origin carries no credentials
        offered = headers.get("authorization", "")
        scheme, _, value = offered.partition(" ")
        token = await self.service.gateway_token.get()
        if scheme.lower() != "bearer" or not value.strip() or not token.matches(value.strip()):
            message = (
                "a gateway token is required: send 'Authorization: Bearer <token>'"
                if not offered
                else "the gateway token is wrong"
            )
            return ApiError(401, message, code="invalid_api_key", headers={"www-authenticate": "Bearer"})
        return None
