"""Settings groups that mirror the engine's own tunables (`steward.engine.settings`).

Names, grouping and defaults are taken from the engine's frozen dataclasses so the two can
never drift; what this module adds is validation with a reason for every limit, because these
values come from a hand-editable file and from the GUI.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from steward.config.base import (
    Fraction,
    NonNegativeInt,
    NonNegativeSeconds,
    PositiveInt,
    PositiveSeconds,
    SettingsGroup,
    TaskName,
)
from steward.config.rules import enforce
from steward.engine.settings import (
    BreakerSettings,
    BulkheadSettings,
    ContextPolicy,
    ContextSettings,
    DegenerateSettings,
    HealthSettings,
    HedgeSettings,
    RetrySettings,
    RoutingWeights,
    TimeoutSettings,
)

_B = BreakerSettings()
_T = TimeoutSettings()
_R = RetrySettings()
_H = HedgeSettings()
_W = RoutingWeights()
_HE = HealthSettings()
_BU = BulkheadSettings()
_C = ContextSettings()
_D = DegenerateSettings()


class BreakerConfig(SettingsGroup):
    """Circuit breaker per model."""

    failure_threshold: PositiveInt = Field(
        default=_B.failure_threshold,
        description="Consecutive counted failures that open the breaker (>= 1).",
    )
    success_threshold: PositiveInt = Field(
        default=_B.success_threshold, description="Successful half-open probes needed to close again."
    )
    reset_timeout_s: PositiveSeconds = Field(
        default=_B.reset_timeout_s, description="Wait before the first half-open probe."
    )
    max_reset_timeout_s: PositiveSeconds = Field(
        default=_B.max_reset_timeout_s,
        description="Cap for the reset timeout as it grows with repeated trips.",
    )
    panic_when_all_open: bool = Field(
        default=_B.panic_when_all_open,
        description="When every candidate's circuit is open, still try the one closest to half-opening "
        "(instead of failing at once).",
    )

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> Self:
        enforce("breaker", self)
        return self


class TimeoutsConfig(SettingsGroup):
    """Per-attempt and per-request time limits (all must be > 0: a zero limit fails every call)."""

    connect_s: PositiveSeconds = Field(default=_T.connect_s, description="TCP connect limit.")
    remote_connect_s: PositiveSeconds = Field(
        default=_T.remote_connect_s,
        description="TCP connect limit for servers on the local network or remote (not this computer).",
    )
    probe_s: PositiveSeconds = Field(
        default=_T.probe_s,
        description="Limit for each auxiliary call: model list, context window, token count, health probe.",
    )
    first_token_s: PositiveSeconds = Field(
        default=_T.first_token_s, description="Limit until the first token."
    )
    stall_s: PositiveSeconds = Field(default=_T.stall_s, description="Longest silence between tokens.")
    total_s: PositiveSeconds = Field(default=_T.total_s, description="Limit for one attempt.")
    request_deadline_s: PositiveSeconds = Field(
        default=_T.request_deadline_s, description="Limit for the whole request, all attempts included."
    )
    model_loading_wait_s: PositiveSeconds = Field(
        default=_T.model_loading_wait_s, description="How long a loading (warming up) model is waited for."
    )


class RetryConfig(SettingsGroup):
    """Retries on the same model and fallbacks to others."""

    max_retries_same_model: NonNegativeInt = Field(
        default=_R.max_retries_same_model, description="0 = no retry."
    )
    backoff_base_s: NonNegativeSeconds = Field(default=_R.backoff_base_s, description="First backoff delay.")
    backoff_max_s: NonNegativeSeconds = Field(
        default=_R.backoff_max_s, description="Cap of the growing backoff."
    )
    max_fallbacks: NonNegativeInt = Field(default=_R.max_fallbacks, description="0 = never fall back.")

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> Self:
        enforce("retry", self)
        return self


class HedgeConfig(SettingsGroup):
    """Hedged requests: start the next candidate when the first is slow."""

    delay_s: NonNegativeSeconds = Field(
        default=_H.delay_s, description="0 = start all candidates at once (race)."
    )
    use_measured_p95: bool = Field(
        default=_H.use_measured_p95, description="Use the measured p95 when known."
    )
    allow_same_server: bool = Field(
        default=_H.allow_same_server, description="Allow hedging onto the same server."
    )


class WeightsConfig(SettingsGroup):
    """Weights of the weighted strategy's score (each >= 0; not all zero, or every score is 0)."""

    capability: Annotated[float, Field(ge=0)] = _W.capability
    performance: Annotated[float, Field(ge=0)] = _W.performance
    health: Annotated[float, Field(ge=0)] = _W.health
    preference: Annotated[float, Field(ge=0, le=1)] = Field(
        default=_W.preference,
        description="Speed or accuracy when choosing a model: 0 ranks by measured speed only, 1 by "
        "capability for the task only, 0.5 keeps the two weights as set.",
    )
    task_preference: dict[TaskName, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict, description="A speed/accuracy preference per task type (CODING, GENERAL, ...)."
    )

    @model_validator(mode="after")
    def _not_all_zero(self) -> Self:
        enforce("weights", self)
        return self


class HealthConfig(SettingsGroup):
    """Background probes and the thresholds that make a model 'degraded'."""

    probe_interval_s: PositiveSeconds = _HE.probe_interval_s
    probe_timeout_s: PositiveSeconds = _HE.probe_timeout_s
    degraded_error_rate: Fraction = Field(default=_HE.degraded_error_rate, description="Error share, 0..1.")
    degraded_latency_factor: Annotated[float, Field(ge=1)] = Field(
        default=_HE.degraded_latency_factor, description="Slowdown versus the model's own baseline (>= 1)."
    )
    window_s: PositiveSeconds = _HE.window_s
    metrics_window: PositiveInt = Field(default=_HE.metrics_window, description="Samples kept per model.")
    recovery_ramp_s: NonNegativeSeconds = _HE.recovery_ramp_s
    canary_interval_s: NonNegativeSeconds = Field(
        default=_HE.canary_interval_s,
        description="How often a model nobody used for that long is asked for one token, to catch a "
        "server whose health check answers while it cannot generate; 0 = off.",
    )
    canary_failures_to_restart: PositiveInt = Field(
        default=_HE.canary_failures_to_restart,
        description="Failed one-token checks in a row after which a server Steward runs is restarted "
        "(others are only routed around).",
    )
    degraded_quality: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        default=_HE.degraded_quality,
        description="A model whose latest answers score below this on average (0-10, after 10 answers) "
        "is marked degraded; 0 turns it off.",
    )


class BulkheadConfig(SettingsGroup):
    """Per-server concurrency limits and the waiting queue in front of them."""

    default_concurrency: PositiveInt = Field(
        default=_BU.default_concurrency, description="0 would admit nothing."
    )
    queue_limit: NonNegativeInt = Field(
        default=_BU.queue_limit, description="0 = reject instead of queueing."
    )
    queue_timeout_s: PositiveSeconds = _BU.queue_timeout_s


class ContextConfig(SettingsGroup):
    """Fitting a conversation into a model's live context window."""

    policy: Annotated[ContextPolicy, Field(strict=False)] = _C.policy
    reply_reserve_fraction: Annotated[float, Field(ge=0, lt=1)] = Field(
        default=_C.reply_reserve_fraction,
        description="Share of the window kept for the reply (< 1 leaves room).",
    )
    reply_reserve_min: NonNegativeInt = _C.reply_reserve_min
    safety_margin_tokens: NonNegativeInt = _C.safety_margin_tokens
    act_threshold: Annotated[float, Field(gt=0, le=1)] = Field(
        default=_C.act_threshold, description="Window share at which fitting starts."
    )
    default_num_ctx: PositiveInt = Field(
        default=_C.default_num_ctx, description="Window assumed when unknown."
    )
    max_reply_tokens: PositiveInt = Field(
        default=_C.max_reply_tokens,
        description="Longest reply when the request sets no limit (small models can run on forever).",
    )

    @model_validator(mode="after")
    def _window_leaves_room(self) -> Self:
        enforce("context", self)
        return self


class DegenerateConfig(SettingsGroup):
    """Detection of degenerate output (the same chunk or phrase repeated) and runaway replies."""

    repeat_chunks: Annotated[int, Field(ge=2)] = Field(
        default=_D.repeat_chunks, description="Identical chunks in a row that count as degenerate (>= 2)."
    )
    min_chunk_chars: PositiveInt = _D.min_chunk_chars
    cycle_max_period: PositiveInt = Field(
        default=_D.cycle_max_period, description="Longest repeating phrase (characters) looked for."
    )
    cycle_min_repeats: Annotated[int, Field(ge=2)] = Field(
        default=_D.cycle_min_repeats, description="Repetitions of a phrase that count as a loop (>= 2)."
    )
    cycle_min_chars: PositiveInt = Field(
        default=_D.cycle_min_chars, description="A loop must cover at least this many characters."
    )
    compress_ratio: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        default=_D.compress_ratio,
        description="A reply whose last window compresses below this share is looping (0 = off).",
    )
    compress_window_chars: Annotated[int, Field(ge=64)] = Field(
        default=_D.compress_window_chars,
        description="Characters of the reply the compression check looks at.",
    )
    max_tokens_grace: NonNegativeInt = Field(
        default=_D.max_tokens_grace,
        description="Chunks a reply may run past max_tokens before Steward cuts it itself.",
    )
