"""The failure taxonomy: every error from any server maps to one `FailureKind` with a policy."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailureKind(StrEnum):
    """What went wrong with one attempt, independent of the server that reported it."""

    CONNECTION_REFUSED = "connection_refused"
    CONNECT_TIMEOUT = "connect_timeout"
    FIRST_TOKEN_TIMEOUT = "first_token_timeout"
    STALL_TIMEOUT = "stall_timeout"
    TOTAL_TIMEOUT = "total_timeout"
    CONNECTION_LOST = "connection_lost"
    MODEL_NOT_FOUND = "model_not_found"
    MODEL_LOADING = "model_loading"
    OUT_OF_MEMORY = "out_of_memory"
    CONTEXT_OVERFLOW = "context_overflow"
    SERVER_BUSY = "server_busy"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    BAD_RESPONSE = "bad_response"
    DEGENERATE_OUTPUT = "degenerate_output"
    AUTH = "auth"
    BAD_REQUEST = "bad_request"
    CIRCUIT_OPEN = "circuit_open"
    QUARANTINED = "quarantined"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class FailurePolicy:
    """How the engine reacts to a kind.

    retry_same: try the same model again (after backoff) before moving on.
    fall_back: move on to the next candidate.
    counts_for_breaker: a consecutive-failure strike against the model's circuit.
    """

    retry_same: bool
    fall_back: bool
    counts_for_breaker: bool
    description: str


_P = FailurePolicy
POLICIES: dict[FailureKind, FailurePolicy] = {
    FailureKind.CONNECTION_REFUSED: _P(False, True, True, "nothing listens at the server's address"),
    FailureKind.CONNECT_TIMEOUT: _P(False, True, True, "the server did not accept the connection in time"),
    FailureKind.FIRST_TOKEN_TIMEOUT: _P(False, True, True, "no first token within the first-token timeout"),
    FailureKind.STALL_TIMEOUT: _P(False, True, True, "the stream stopped between tokens for too long"),
    FailureKind.TOTAL_TIMEOUT: _P(False, True, True, "the answer took longer than the total timeout"),
    FailureKind.CONNECTION_LOST: _P(False, True, True, "the connection was cut mid-answer"),
    FailureKind.MODEL_NOT_FOUND: _P(False, True, False, "the server does not have this model"),
    FailureKind.MODEL_LOADING: _P(True, True, False, "the model is still loading (warm-up, not a failure)"),
    FailureKind.OUT_OF_MEMORY: _P(False, True, True, "the server ran out of memory for this model"),
    FailureKind.CONTEXT_OVERFLOW: _P(False, True, False, "the conversation does not fit the model's window"),
    FailureKind.SERVER_BUSY: _P(False, True, False, "the server's queue is full"),
    FailureKind.RATE_LIMITED: _P(True, True, False, "the server asked us to slow down"),
    FailureKind.SERVER_ERROR: _P(True, True, True, "the server answered with an internal error"),
    FailureKind.BAD_RESPONSE: _P(
        True, True, True, "the server answered something that is not a valid answer"
    ),
    FailureKind.DEGENERATE_OUTPUT: _P(False, True, True, "the model repeated the same output over and over"),
    FailureKind.AUTH: _P(False, True, False, "the server refused our credentials"),
    FailureKind.BAD_REQUEST: _P(False, False, False, "the server rejected the request itself"),
    FailureKind.CIRCUIT_OPEN: _P(False, True, False, "the model's circuit is open; skipped"),
    FailureKind.QUARANTINED: _P(False, True, False, "the model is quarantined; skipped"),
    FailureKind.CANCELLED: _P(False, False, False, "the request was cancelled"),
    FailureKind.UNKNOWN: _P(True, True, True, "an unclassified error"),
}


def policy_for(kind: FailureKind) -> FailurePolicy:
    """The reaction table entry for `kind` (every kind has one)."""
    return POLICIES[kind]


class BackendError(Exception):
    """A classified failure raised by a backend (or the engine's own timeouts).

    `detail` is a short human text safe to show and log (never carries secrets);
    `status` is the HTTP status when there was one; `retry_after` is the
    server's hint in seconds, when given.
    """

    def __init__(
        self,
        kind: FailureKind,
        detail: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        n_prompt_tokens: int | None = None,
        n_ctx: int | None = None,
    ) -> None:
        super().__init__(f"{kind.value}: {detail}")
        self.kind = kind
        self.detail = detail
        self.status = status
        self.retry_after = retry_after
        self.n_prompt_tokens = n_prompt_tokens
        self.n_ctx = n_ctx
