"""Errors as clients expect them: OpenAI's `{"error": {message, type, param, code}}` on `/v1/...`
and everywhere else, Ollama's `{"error": "..."}` on `/api/...` (its clients read that string)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from steward.gateway.wire import dumps

# OpenAI's error types, by status.
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """A request the gateway answers with an error status (never a crash).

    `extra` is added beside `error` in the body (e.g. the attempt chain, `steward`); `headers`
    go on the response (e.g. Retry-After, WWW-Authenticate).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = kind or _TYPES.get(status, "invalid_request_error")
        self.headers = headers or {}
        self.extra = extra or {}

    def openai_body(self) -> dict[str, Any]:
        error = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        return {"error": error, **self.extra}

    def ollama_body(self) -> dict[str, Any]:
        return {"error": self.message, **self.extra}

    def response(self, ollama: bool = False) -> Response:
        body = self.ollama_body() if ollama else self.openai_body()
        return Response(dumps(body), self.status, headers=self.headers, media_type="application/json")


def is_ollama_path(path: str) -> bool:
    """Ollama's API lives under /api/; its clients expect its error shape."""
    return path.startswith("/api/")
