"""The Settings page's form, described from the pydantic `Settings` model (Qt-free).

Every field of every group becomes a `FieldSpec`: its dotted path, its label (from the one label
table in `steward.config.labels`, which validation messages use too), the kind of
editor that fits its type (enumerations are always drop-downs), the allowed values and a tooltip made of the field's own
description (or the help text below for fields that have none), its limits and its default.
The page builds widgets from these specs, so a field added to `Settings` shows up by itself.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from steward.config import Settings
from steward.config.labels import label, unit
from steward.config.patch import strip_annotation

Kind = Literal["int", "float", "bool", "choice", "text", "int_list", "readonly", "slider"]
SLIDERS = frozenset({"weights.preference"})
"""Settings between two goals (0 … 1), edited with a slider whose ends are named."""

# (group key, title, what the group is for, the Settings attributes it shows, when it takes effect)
SECTIONS: tuple[tuple[str, str, str, tuple[str, ...], str], ...] = (
    (
        "reliability",
        "Reliability",
        "The circuit breaker kept per model: after repeated failures a model is skipped for a while, "
        "then probed once before it gets traffic again.",
        ("breaker",),
        "live",
    ),
    (
        "timeouts",
        "Timeouts",
        "Time limits for each attempt and for the whole request.",
        ("timeouts",),
        "live",
    ),
    (
        "retry",
        "Retries and fallbacks",
        "How often a failed attempt is repeated on the same model and how many other models are tried.",
        ("retry",),
        "live",
    ),
    (
        "strategies",
        "Strategies",
        "How candidate models are tried: one after another, hedged (the next starts when the first "
        "is slow), raced, or ranked by weight.",
        ("strategy", "hedge"),
        "live",
    ),
    (
        "context",
        "Context",
        "Fitting a conversation into the chosen model's live context window.",
        ("context",),
        "live",
    ),
    (
        "routing",
        "Routing",
        "Which model answers by default and how the weighted strategy scores models.",
        ("routing", "weights"),
        "live",
    ),
    (
        "health",
        "Health checks",
        "Background probes, a one-token test of idle models (a server can answer its health check "
        "while it cannot generate), and the thresholds that mark a model degraded.",
        ("health",),
        "live",
    ),
    (
        "bulkhead",
        "Concurrency",
        "Per-server limits on requests running at once, and the queue in front of them.",
        ("bulkhead",),
        "live",
    ),
    (
        "degenerate",
        "Degenerate output",
        "Detection of a model stuck repeating itself; such an answer is cut and counted as a failure.",
        ("degenerate",),
        "live",
    ),
    ("retention", "Data retention", "How long recorded history is kept.", ("retention",), "next start"),
    (
        "discovery",
        "Discovery",
        "Loopback ports scanned for local model servers (Ollama, llama.cpp, LM Studio, vLLM, ...).",
        ("discovery",),
        "next scan",
    ),
    (
        "embedded",
        "Embedded server",
        "The bundled llama-server with the SmolLM2 model: a small model for trying things out.",
        ("embedded",),
        "next start",
    ),
    (
        "servers",
        "Servers and endpoints",
        "Servers you added by hand and server processes Steward supervises.",
        ("endpoints", "servers"),
        "live",
    ),
    (
        "gateway",
        "Gateway",
        "The local OpenAI/Ollama-compatible endpoint other tools point at (turn it on or off on the "
        "Gateway page; a new address or limits take effect when it restarts).",
        ("gateway",),
        "next start",
    ),
    (
        "slo",
        "Objectives (SLOs)",
        "What each model is held to: the share of attempts that answer, of first tokens in time and of "
        "answers fast enough. Burning the error budget too fast raises an alert; the Lab shows each model.",
        ("slo",),
        "live",
    ),
    ("appearance", "Appearance", "Window and chart preferences.", ("ui",), "live"),
    ("logging", "Logging", "How much Steward writes to its log.", ("logging",), "next start"),
)

# Help for fields whose model gives no description: what the value does.
HELP: dict[str, str] = {
    "timeouts.connect_s": "How long opening the connection to a server on this computer may take.",
    "timeouts.remote_connect_s": "How long opening the connection to a server on the local network or "
    "further away may take (Wi-Fi, VPN and a sleeping GPU box are slower to answer).",
    "retry.max_retries_same_model": "How often a failed attempt is repeated on the same model before "
    "falling back to another.",
    "retry.max_fallbacks": "How many other models are tried after the first one fails.",
    "bulkhead.default_concurrency": "Requests one server runs at once; more wait in the queue.",
    "bulkhead.queue_limit": "Requests that may wait for a server; beyond this they are rejected as busy.",
    "strategy": "sequential: try candidates one after another; hedged: start the next one when the first "
    "gives no token within the hedge delay (first token wins); race: start all at once; weighted: rank "
    "models by capability, performance and health weights.",
    "health.probe_interval_s": "How often each server is probed in the background.",
    "health.probe_timeout_s": "How long a background probe may take before it counts as failed.",
    "health.window_s": "The time window over which error rate and slowdown are measured.",
    "health.recovery_ramp_s": "After recovering, a model gets traffic back gradually over this time.",
    "bulkhead.queue_timeout_s": "How long a request may wait in the queue before it is rejected as busy.",
    "context.policy": "What happens when a conversation does not fit: drop the oldest turns (sliding "
    "window), cut the middle, summarize the oldest turns with the model, or stop with an error.",
    "context.reply_reserve_min": "Tokens always kept free for the reply, whatever the fraction gives.",
    "context.safety_margin_tokens": "Extra tokens left free because token counts are estimates.",
    "degenerate.min_chunk_chars": "Chunks shorter than this are ignored when looking for repetition.",
    "weights.capability": "How much matching capability tags (code, tools, vision...) counts in the score.",
    "weights.performance": "How much measured speed (first-token latency, tokens/s) counts in the score.",
    "weights.health": "How much recent health (error rate, circuit state) counts in the score.",
    "retention.raw_samples_days": "Days every single latency sample is kept before it is pruned.",
    "retention.minute_aggregates_days": "Days per-minute aggregates (long chart ranges) are kept.",
    "retention.events_days": "Days the audit trail (failures, quarantines, fallbacks) is kept.",
    "embedded.enabled": "Start the bundled llama-server (next start).",
    "embedded.run": "Alongside other servers (always when enabled), or only when no other server answers "
    "at start (servers that are configured but down do not count).",
    "embedded.small_ctx": "Context window of the small embedded server (tokens).",
    "embedded.large_ctx": "Context window of the large embedded server (tokens).",
    "discovery.ports": "Loopback ports probed for model servers, separated by commas.",
    "discovery.interval_s": "How often the ports are probed again for servers that appeared.",
    "discovery.timeout_s": "How long one port may take to answer a probe.",
    "discovery.model_folders": "Folders scanned for GGUF model files, besides the known ones.",
    "ui.theme": "Light or dark colours, or follow the system.",
    "ui.last_page": "The page the window opens on at every start.",
    "ui.remember_geometry": "Restore the window's size and position at start.",
    "logging.level": "Least severe messages written to the log: DEBUG shows every attempt.",
    "endpoints": "Servers added by hand (id, kind, URL, keyring entry of the API key).",
    "servers": "Server processes Steward starts and supervises.",
}

# Where list and table settings are edited instead of on this page.
READONLY_POINTERS: dict[str, str] = {
    "endpoints": "add endpoints on the Servers page",
    "servers": "add managed llama-servers on the Servers page",
    "routing.fallback_chain": "reorder the fallback chain on the Models page",
    "routing.capabilities": "set capabilities on the Models page",
    "slo.per_model": "per-model objectives: edit [slo.per_model] in settings.toml (applied live)",
    "weights.task_preference": "per task type: edit [weights.task_preference] in settings.toml (applied live)",
    "routing.task_temperature": "per task type: edit [routing.task_temperature] in settings.toml (applied live)",
    "routing.task_max_tokens": "per task type: edit [routing.task_max_tokens] in settings.toml (applied live)",
    "discovery.model_folders": "add model folders on the Models page (On this disk)",
}


@dataclass(frozen=True)
class FieldSpec:
    """One editable (or read-only) setting."""

    path: str
    label: str
    kind: Kind
    tooltip: str
    default: Any
    choices: tuple[str, ...] = ()
    seconds: bool = False
    pointer: str = ""


@dataclass(frozen=True)
class GroupSpec:
    """A titled group of fields with its own "Restore defaults"."""

    key: str
    title: str
    description: str
    roots: tuple[str, ...]
    applies: str
    fields: tuple[FieldSpec, ...]

    def owns(self, path: str) -> bool:
        """True when a problem reported at `path` belongs to this group."""
        return any(path == r or path.startswith((r + ".", r + "[")) for r in self.roots)


def _kind(annotation: Any) -> tuple[Kind, tuple[str, ...]]:
    plain = strip_annotation(annotation)
    origin = get_origin(plain)
    if plain is bool:
        return "bool", ()
    if plain is int:
        return "int", ()
    if plain is float:
        return "float", ()
    if isinstance(plain, type) and issubclass(plain, enum.Enum):
        return "choice", tuple(str(m.value) for m in plain)
    if origin is Literal:
        return "choice", tuple(str(a) for a in get_args(plain))
    if plain is str:
        return "text", ()
    if origin is list and strip_annotation(get_args(plain)[0]) is int:
        return "int_list", ()
    return "readonly", ()


def limits_text(info: FieldInfo) -> str:
    """The field's numeric limits in words ("at least 1, at most 65535")."""
    words = []
    for item in info.metadata:
        if isinstance(item, at.Ge):
            words.append(f"at least {item.ge}")
        elif isinstance(item, at.Gt):
            words.append(f"greater than {item.gt}")
        elif isinstance(item, at.Le):
            words.append(f"at most {item.le}")
        elif isinstance(item, at.Lt):
            words.append(f"less than {item.lt}")
    return ", ".join(words)


def plain_value(value: Any) -> Any:
    """A settings value as the editors hold it (enums as their string value)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python")
    return value


def _label(path: str) -> str:
    """The config's label; a unit other than seconds (spin boxes show " s") is added in brackets."""
    measure = unit(path)
    return f"{label(path)} ({measure})" if measure and measure != "s" else label(path)


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return plain_value(info.default_factory())  # type: ignore[call-arg]
    return plain_value(info.default)


def _field(path: str, info: FieldInfo) -> FieldSpec:
    kind, choices = _kind(info.annotation)
    pointer = READONLY_POINTERS.get(path, "")
    if pointer:
        kind = "readonly"
    elif path in SLIDERS and kind == "float":
        kind = "slider"
    default = _default(info)
    parts = [HELP.get(path, ""), info.description or ""]
    limits = limits_text(info)
    if limits:
        parts.append(f"Allowed: {limits}.")
    if kind != "readonly":
        parts.append(f"Default: {default}.")
    return FieldSpec(
        path=path,
        label=label(path) if kind == "slider" else _label(path),  # a slider names its own ends
        kind=kind,
        tooltip=" ".join(p for p in parts if p),
        default=default,
        choices=choices,
        seconds=path.endswith("_s") and kind in ("int", "float"),
        pointer=pointer,
    )


def _fields_of(root: str) -> list[FieldSpec]:
    info = Settings.model_fields[root]
    model = strip_annotation(info.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [_field(f"{root}.{name}", sub) for name, sub in model.model_fields.items()]
    return [_field(root, info)]


def build_groups() -> tuple[GroupSpec, ...]:
    """Every settings group of the page, in display order."""
    return tuple(
        GroupSpec(key, title, text, roots, applies, tuple(f for r in roots for f in _fields_of(r)))
        for key, title, text, roots, applies in SECTIONS
    )


def get_path(settings: Settings, path: str) -> Any:
    """The current value at a dotted path (`breaker.failure_threshold`), as editors hold it."""
    value: Any = settings
    for part in path.split("."):
        value = getattr(value, part)
    return plain_value(value)


def covered_roots(groups: Sequence[GroupSpec]) -> set[str]:
    """Settings attributes shown by `groups` (every one but schema_version should be)."""
    return {r for g in groups for r in g.roots}
