"""The engine's own tunables (plain frozen dataclasses; `steward.config` maps the user's
settings file onto these, the engine never reads files)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Strategy(StrEnum):
    """How candidates are tried."""

    SEQUENTIAL = "sequential"
    HEDGED = "hedged"
    RACE = "race"
    WEIGHTED = "weighted"


class ContextPolicy(StrEnum):
    """What to do when a conversation does not fit a model's window."""

    SLIDING_WINDOW = "sliding_window"
    TRUNCATE_MIDDLE = "truncate_middle"
    SUMMARIZE = "summarize"
    STOP = "stop"


@dataclass(frozen=True)
class BreakerSettings:
    failure_threshold: int = 3
    success_threshold: int = 1
    reset_timeout_s: float = 30.0
    max_reset_timeout_s: float = 300.0
    panic_when_all_open: bool = True
    """When every candidate's circuit is open, still try the one closest to half-opening."""


@dataclass(frozen=True)
class TimeoutSettings:
    connect_s: float = 3.0
    remote_connect_s: float = 10.0
    """Connect limit for servers on the local network or further (Wi-Fi, VPN, a GPU box waking up)."""
    probe_s: float = 2.0
    """Bound of each auxiliary call (model list, window, token count, health probe)."""
    first_token_s: float = 20.0
    stall_s: float = 15.0
    total_s: float = 300.0
    request_deadline_s: float = 600.0
    model_loading_wait_s: float = 120.0


@dataclass(frozen=True)
class RetrySettings:
    max_retries_same_model: int = 1
    backoff_base_s: float = 0.25
    backoff_max_s: float = 5.0
    max_fallbacks: int = 5


@dataclass(frozen=True)
class HedgeSettings:
    delay_s: float = 2.0
    use_measured_p95: bool = True
    allow_same_server: bool = False


@dataclass(frozen=True)
class RoutingWeights:
    capability: float = 0.4
    performance: float = 0.4
    health: float = 0.2
    preference: float = 0.5
    """Speed ↔ accuracy: 0 ranks only by measured speed, 1 only by capability for the task; 0.5 keeps
    the capability and performance weights as they are."""
    task_preference: dict[str, float] = field(default_factory=dict)
    """Per task type ("CODING", "GENERAL", ...): a preference of its own."""

    def for_task(self, task: str) -> EffectiveWeights:
        """The weights used for a request of `task`, after the speed ↔ accuracy preference."""
        pref = min(1.0, max(0.0, self.task_preference.get(task, self.preference)))
        return EffectiveWeights(
            self.capability * 2 * pref, self.performance * 2 * (1 - pref), self.health, pref
        )


@dataclass(frozen=True)
class EffectiveWeights:
    capability: float
    performance: float
    health: float
    preference: float

    def explain(self) -> str:
        """ "weights capability 0.56 · performance 0.24 · health 0.20 (preference 0.70, towards accuracy)"."""
        toward = (
            "balanced"
            if self.preference == 0.5
            else ("towards accuracy" if self.preference > 0.5 else "towards speed")
        )
        return (
            f"weights capability {self.capability:.2f} · performance {self.performance:.2f} · "
            f"health {self.health:.2f} (preference {self.preference:.2f}, {toward})"
        )


@dataclass(frozen=True)
class RoutingSettings:
    fallback_to_any: bool = True
    """When the pinned model and its chain cannot answer, go on to the best other model."""
    task_temperature: dict[str, float] = field(default_factory=dict)
    """Per task type: the temperature a request gets when it does not set one ("role-specific")."""
    task_max_tokens: dict[str, int] = field(default_factory=dict)
    """Per task type: the longest reply when the request does not set one."""


@dataclass(frozen=True)
class HealthSettings:
    probe_interval_s: float = 15.0
    probe_timeout_s: float = 3.0
    degraded_error_rate: float = 0.2
    degraded_latency_factor: float = 2.0
    window_s: float = 300.0
    metrics_window: int = 200
    recovery_ramp_s: float = 60.0
    canary_interval_s: float = 300.0
    """How often an idle model is asked for one token (the inference canary, `engine.canary`); 0 = off."""
    canary_failures_to_restart: int = 3
    """Canary failures in a row after which a server Steward runs is restarted."""
    degraded_quality: float = 4.0
    """A model whose latest answers score below this on average (0–10) is degraded."""


@dataclass(frozen=True)
class BulkheadSettings:
    default_concurrency: int = 4
    queue_limit: int = 32
    queue_timeout_s: float = 10.0


@dataclass(frozen=True)
class ContextSettings:
    policy: ContextPolicy = ContextPolicy.SLIDING_WINDOW
    reply_reserve_fraction: float = 0.25
    reply_reserve_min: int = 256
    safety_margin_tokens: int = 32
    act_threshold: float = 0.8
    default_num_ctx: int = 4096
    max_reply_tokens: int = 512
    """Reply length when the request does not set max_tokens (small local models can run away)."""


@dataclass(frozen=True)
class DegenerateSettings:
    repeat_chunks: int = 24
    min_chunk_chars: int = 1
    cycle_max_period: int = 120
    """Longest repeating unit (characters) the loop detector looks for."""
    cycle_min_repeats: int = 6
    cycle_min_chars: int = 240
    """A loop must cover at least this many characters (short legit repeats such as '----' pass)."""
    compress_ratio: float = 0.12
    """The last window of text compressing below this share of its size is a loop (0 turns it off)."""
    compress_window_chars: int = 1024
    max_tokens_grace: int = 8
    """Chunks a stream may run past max_tokens before Steward cuts it (the server should stop first)."""


@dataclass(frozen=True)
class EngineSettings:
    """Everything the engine can be tuned with; replaced live via `Engine.update_settings`."""

    strategy: Strategy = Strategy.SEQUENTIAL
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    timeouts: TimeoutSettings = field(default_factory=TimeoutSettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    hedge: HedgeSettings = field(default_factory=HedgeSettings)
    weights: RoutingWeights = field(default_factory=RoutingWeights)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    bulkhead: BulkheadSettings = field(default_factory=BulkheadSettings)
    context: ContextSettings = field(default_factory=ContextSettings)
    degenerate: DegenerateSettings = field(default_factory=DegenerateSettings)
