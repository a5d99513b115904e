"""What each setting is called where people read it: one label table for the GUI and messages.

The settings file and the CLI use dotted keys (`breaker.max_reset_timeout_s`); the Settings page
and every validation message a person reads use these labels ("Max reset timeout") and the
value with its unit ("Max reset timeout (300 s)"). Both the page's form and the cross-field
rules (`steward.config.rules`) read this one table, so a field is never called two things.
"""

from __future__ import annotations

import math

# Better labels than the field name gives (the rest: "max_reset_timeout_s" -> "Max reset timeout").
LABELS: dict[str, str] = {
    "strategy": "Strategy",
    "timeouts.connect_s": "Connect timeout",
    "timeouts.remote_connect_s": "Connect timeout (network servers)",
    "timeouts.first_token_s": "First-token timeout",
    "timeouts.stall_s": "Stall timeout",
    "timeouts.total_s": "Attempt timeout",
    "timeouts.request_deadline_s": "Request deadline",
    "timeouts.model_loading_wait_s": "Wait for a loading model",
    "hedge.delay_s": "Hedge delay",
    "hedge.use_measured_p95": "Use measured p95 as hedge delay",
    "hedge.allow_same_server": "Hedge onto the same server",
    "weights.capability": "Weight: capability match",
    "weights.performance": "Weight: measured performance",
    "weights.health": "Weight: health",
    "context.default_num_ctx": "Default window",
    "context.reply_reserve_min": "Reply reserve minimum",
    "context.safety_margin_tokens": "Safety margin",
    "ui.chart_range_s": "Chart range",
    "routing.default_model": "Default model",
    "retry.max_retries_same_model": "Retries on the same model",
    "retry.backoff_base_s": "First backoff delay",
    "retry.backoff_max_s": "Longest backoff delay",
    "health.window_s": "Measurement window",
    "health.metrics_window": "Samples kept per model",
    "health.canary_interval_s": "Check idle models with one token every",
    "health.canary_failures_to_restart": "Failed checks before restarting a server",
    "health.degraded_quality": "Degraded below answer quality",
    "degenerate.repeat_chunks": "Repeated chunks that stop a reply",
    "degenerate.min_chunk_chars": "Minimum chunk length",
    "retention.raw_samples_days": "Keep raw samples",
    "retention.minute_aggregates_days": "Keep minute aggregates",
    "retention.events_days": "Keep audit trail",
    "embedded.enabled": "Start the embedded server",
    "embedded.run": "Run the embedded servers",
    "embedded.small_ctx": "Small server window",
    "embedded.large_ctx": "Large server window",
    "discovery.model_folders": "Model folders",
    "ui.last_page": "Start page",
    "ui.remember_geometry": "Remember window size and position",
    "weights.preference": "Speed ↔ accuracy",
    "slo.success_rate": "Success objective",
    "slo.ttft_s": "Slow first token after",
    "slo.ttft_share": "First tokens in time objective",
    "slo.min_tokens_per_s": "Slowest acceptable speed",
}

# The unit a number is counted in, where the key does not end in `_s` (seconds).
UNITS: dict[str, str] = {
    "context.default_num_ctx": "tokens",
    "context.reply_reserve_min": "tokens",
    "context.safety_margin_tokens": "tokens",
    "embedded.small_ctx": "tokens",
    "embedded.large_ctx": "tokens",
    "degenerate.min_chunk_chars": "characters",
    "health.canary_failures_to_restart": "in a row",
    "health.degraded_quality": "of 10",
    "retention.raw_samples_days": "days",
    "retention.minute_aggregates_days": "days",
    "retention.events_days": "days",
    "weights.preference": "0 speed … 1 accuracy",
    "slo.success_rate": "share",
    "slo.ttft_share": "share",
    "slo.min_tokens_per_s": "tokens/s",
}


def label(path: str) -> str:
    """The label of the setting at dotted `path` ("breaker.reset_timeout_s" -> "Reset timeout")."""
    if path in LABELS:
        return LABELS[path]
    name = path.rsplit(".", 1)[-1].removesuffix("_s")
    return name.replace("_", " ").capitalize()


def unit(path: str) -> str:
    """ "s" for seconds, "tokens", "days"…, or "" for a plain number or a non-number."""
    if path in UNITS:
        return UNITS[path]
    return "s" if path.endswith("_s") else ""


def number(value: float) -> str:
    """300.0 -> "300", 0.25 -> "0.25", 1500 -> "1500" (as the editors show numbers)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def with_value(path: str, value: float) -> str:
    """The label with its value and unit: "Max reset timeout (300 s)"."""
    shown = number(value)
    measure = unit(path)
    return f"{label(path)} ({shown} {measure})" if measure else f"{label(path)} ({shown})"
