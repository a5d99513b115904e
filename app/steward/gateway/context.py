"""What every route of one gateway shares: the service, the metrics and the request body limit.

(The app's list of recent gateway requests is the service's `recent_gateway`, fed by the engine's
events like everything else.)"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from steward.gateway.errors import ApiError
from steward.gateway.metrics import GatewayMetrics
from steward.service import StewardService


class GatewayContext:
    """Shared by the routes of one gateway."""

    def __init__(self, service: StewardService, metrics: GatewayMetrics) -> None:
        self.service = service
        self.metrics = metrics

    def count(self, api: str, status: int, outcome: str) -> None:
        """One finished chat request of `api` (openai, ollama): its HTTP status and outcome
        (answered, continued, incomplete, failed, rejected, cancelled)."""
        self.metrics.http.labels(api, str(status), outcome).inc()

    async def read_body(self, request: Request) -> bytes:
        """The request body, refused with 413 as soon as it passes `gateway.max_body_bytes`."""
        limit = self.service.settings.gateway.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise ApiError(400, "Content-Length must be a number", code="bad_content_length")
            if int(declared) > limit:
                raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
        except ClientDisconnect:
            raise ApiError(
                400, "the client went away while sending the body", code="client_disconnect"
            ) from None
        return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413, f"the body is larger than the {limit} bytes this gateway accepts", code="body_too_large"
    )
