"""Retry timing: exponential backoff with full jitter from a seeded RNG."""

from __future__ import annotations

import random

from steward.engine.settings import RetrySettings


def backoff_delay(
    retry_number: int, settings: RetrySettings, rng: random.Random, retry_after: float | None = None
) -> float:
    """Seconds to wait before retry `retry_number` (1-based).

    Full jitter (AWS architecture blog): uniform in [0, min(cap, base·2^(n-1))]. A server's
    Retry-After hint is honoured as a floor, capped by the same maximum.
    """
    ceiling = min(settings.backoff_max_s, settings.backoff_base_s * (2 ** max(0, retry_number - 1)))
    delay = rng.uniform(0.0, ceiling) if ceiling > 0 else 0.0
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.backoff_max_s))
    return delay
