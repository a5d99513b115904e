"""What a dashboard card says, in plain words, from a ModelSnapshot: "no requests yet" rather than
"p50 — · p95 — · —", "paused after 3 failures, retry in 12 s" rather than "circuit open".
Pure functions (no Qt), so every sentence is easy to test."""

from __future__ import annotations

from steward.engine.durations import time_left
from steward.engine.snapshot import ModelSnapshot

GIB = 1024**3


def duration(seconds: float) -> str:
    """12 s, 4 min, 1 h 5 min (rounded up: "retry in 0 s" would be a lie)."""
    s = max(0, int(-(-seconds // 1)))
    if s < 90:
        return f"{s} s"
    minutes = -(-s // 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def status_text(m: ModelSnapshot) -> str:
    """The headline: the health word, or why it is quarantined and for how long (the time left as
    the Models page, the model picker and the attempt chain say it)."""
    if m.quarantine is None:
        return m.health
    left = time_left(m.quarantine.remaining_s)
    because = f" — {m.quarantine.reason}" if m.quarantine.reason else ""
    return f"quarantined{because} ({left})"


def breaker_text(m: ModelSnapshot) -> str:
    """Whether the model takes requests now, and if not, when it will try again."""
    failures = m.consecutive_failures
    if m.breaker == "open":
        text = f"paused after {plural(failures, 'failure')}" if failures else "paused after failures"
        if m.reopen_in_s is not None:
            text += f", retry in {duration(m.reopen_in_s)}"
        return text
    if m.breaker == "half_open":
        return "trying one request to see whether it recovered"
    text = "accepting requests"
    if failures:
        text += f" ({plural(failures, 'failure')} in a row)"
    return text


def latency_text(m: ModelSnapshot) -> str:
    """How fast it answers, or that nobody asked it anything yet."""
    mt = m.metrics
    if mt.requests == 0:
        return "no requests yet"
    if mt.ttft_p50 is None:
        return "no answers yet"
    text = f"first token in {mt.ttft_p50 * 1000:.0f} ms typically"
    if mt.ttft_p95 is not None and mt.requests >= 5:
        text += f", {mt.ttft_p95 * 1000:.0f} ms at worst (p95)"
    if mt.tokens_per_s is not None:
        text += f" · {mt.tokens_per_s:.0f} tokens/s"
    return text


def details_text(m: ModelSnapshot) -> str:
    """Success count, context window, loaded state and running requests."""
    mt = m.metrics
    parts = []
    if mt.requests:
        rate = f" ({mt.success_rate:.0%})" if mt.success_rate is not None else ""
        parts.append(f"{mt.successes} of {plural(mt.requests, 'request')} answered{rate}")
    parts.append(f"{m.window:,}-token context" if m.window else "context size unknown")
    if m.loaded is not None:
        loaded = "loaded" if m.loaded else "not loaded"
        if m.loaded and m.vram_bytes:
            loaded += f" ({m.vram_bytes / GIB:.1f} GB VRAM)"
        parts.append(loaded)
    if m.in_flight:
        parts.append(f"{m.in_flight} running")
    return " · ".join(parts)
