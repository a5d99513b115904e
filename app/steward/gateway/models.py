"""The model ids the gateway offers and what each routes to.

- every model the engine knows, by its key `server/model`;
- `auto`: the engine picks (task, capabilities, measured performance, health);
- `chain:default`: the configured fallback chain (`routing.fallback_chain`) — its first model,
  then the rest of the chain in order (then any other model while `routing.fallback_to_any`).
  Listed only when a chain is configured.

A client may also name a model by its bare name (`SmolLM2-135M-Instruct.Q4_1`, `llama3` for
`llama3:latest`) when a server offers it: the default model, then the chain's, then the first by
key — of those that can answer now, else of all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from steward.config import Settings
from steward.engine.snapshot import EngineSnapshot, ModelSnapshot
from steward.gateway.errors import ApiError

AUTO = "auto"
DEFAULT_CHAIN = "chain:default"
UNREACHABLE = frozenset({"connection_refused", "connect_timeout"})
"""Failures that say the server is not there (until an answer or a probe says otherwise)."""


@dataclass(frozen=True)
class Offer:
    """One entry of /v1/models and /api/tags."""

    id: str
    owned_by: str
    model: ModelSnapshot | None = None
    description: str = ""


def offers(snapshot: EngineSnapshot, settings: Settings) -> list[Offer]:
    """Virtual models first (auto, the chain), then every known model."""
    chain = settings.routing.fallback_chain
    listed = [Offer(AUTO, "steward", description="Steward picks the model for each request")]
    if chain:
        listed.append(Offer(DEFAULT_CHAIN, "steward", description="fallback chain: " + " → ".join(chain)))
    listed += [Offer(m.key, m.server_id, m) for m in sorted(snapshot.models, key=lambda m: m.key)]
    return listed


def resolve(
    asked: str | None,
    settings: Settings,
    known: Callable[[str], bool],
    snapshot: Callable[[], EngineSnapshot],
) -> str:
    """The engine's model for `asked` ("auto" or a key); 404 for a model nobody offers.

    `known(key)` is a cheap look-up; the snapshot (not free: it summarizes every model's metrics)
    is taken only for a bare model name.
    """
    routing = settings.routing
    if asked is None:
        return routing.default_model
    if asked == AUTO:
        return AUTO
    if asked == DEFAULT_CHAIN:
        if not routing.fallback_chain:
            raise ApiError(
                404, "no fallback chain is configured (routing.fallback_chain)", code="model_not_found"
            )
        return routing.fallback_chain[0]
    if asked in routing.fallback_chain or asked == routing.default_model or known(asked):
        return asked  # configured keys count even while their server is down: the chain answers
    snap = snapshot()
    preferred = [routing.default_model, *routing.fallback_chain]
    named = sorted(
        (m for m in snap.models if m.model in (asked, f"{asked}:latest")),
        key=lambda m: (preferred.index(m.key) if m.key in preferred else len(preferred), m.key),
    )
    if named:
        ready = [m for m in named if why_not_ready(m, snap) is None]
        return (ready or named)[0].key
    raise ApiError(
        404,
        f"model {asked[:100]!r} is not known to Steward; GET /v1/models lists the models it serves",
        code="model_not_found",
        param="model",
    )


def why_not_ready(model: ModelSnapshot, snapshot: EngineSnapshot) -> str | None:
    """Why `model` cannot answer right now, or None when it can."""
    if model.quarantine is not None:
        return f"quarantined: {model.quarantine.reason}" if model.quarantine.reason else "quarantined"
    if model.breaker == "open":
        return "circuit open"
    if model.health in ("unhealthy", "loading"):
        return f"{model.health}: {model.health_reason}" if model.health_reason else model.health
    server = next((s for s in snapshot.servers if s.server_id == model.server_id), None)
    if server is not None and server.state == "down":
        return f"server down: {server.detail}" if server.detail else "server down"
    if model.consecutive_failures and model.last_error_kind in UNREACHABLE:
        return f"unreachable: its last attempt failed ({model.last_error_kind})"
    return None
