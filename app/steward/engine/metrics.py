"""Per-model performance: rolling window statistics and bounded time series for charts."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    """One finished attempt as measured by the engine (clock times, seconds)."""

    at: float
    ok: bool
    ttft_s: float | None
    total_s: float
    completion_tokens: int | None
    tokens_per_s: float | None
    kind: str | None = None


@dataclass(frozen=True)
class MetricsSnapshot:
    requests: int
    successes: int
    success_rate: float | None
    ttft_p50: float | None
    ttft_p95: float | None
    total_p50: float | None
    total_p95: float | None
    tokens_per_s: float | None
    baseline_ttft_p50: float | None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class ModelMetrics:
    """Rolling window of the last `window` attempts, plus a slow baseline of TTFT.

    The baseline is an exponentially weighted mean of successful TTFTs, so "degraded"
    can mean "slower than this model usually is", not slower than some fixed number.
    """

    def __init__(self, window: int = 200, series_len: int = 2048) -> None:
        self._window: deque[Sample] = deque(maxlen=max(1, window))
        self.series: deque[Sample] = deque(maxlen=series_len)
        self._baseline_ttft: float | None = None
        self.total_requests = 0
        self._snapshot: MetricsSnapshot | None = None  # cached until the next sample

    def add(self, sample: Sample) -> None:
        self._snapshot = None
        self._window.append(sample)
        self.series.append(sample)
        self.total_requests += 1
        if sample.ok and sample.ttft_s is not None:
            if self._baseline_ttft is None:
                self._baseline_ttft = sample.ttft_s
            else:
                self._baseline_ttft = 0.95 * self._baseline_ttft + 0.05 * sample.ttft_s

    def resize(self, window: int) -> None:
        self._snapshot = None
        self._window = deque(self._window, maxlen=max(1, window))

    def recent(self, since: float) -> list[Sample]:
        return [s for s in self._window if s.at >= since]

    def error_rate(self, since: float) -> float | None:
        recent = self.recent(since)
        if not recent:
            return None
        return sum(1 for s in recent if not s.ok) / len(recent)

    def ttft_p95(self) -> float | None:
        return percentile([s.ttft_s for s in self._window if s.ok and s.ttft_s is not None], 95)

    def snapshot(self) -> MetricsSnapshot:
        """The window's figures; computed once per new sample (routing reads it for every model on
        every request, the dashboard twice a second), not on every read."""
        if self._snapshot is None:
            self._snapshot = self._compute()
        return self._snapshot

    def _compute(self) -> MetricsSnapshot:
        samples = list(self._window)
        ok = [s for s in samples if s.ok]
        ttfts = [s.ttft_s for s in ok if s.ttft_s is not None]
        totals = [s.total_s for s in ok]
        rates = [s.tokens_per_s for s in ok if s.tokens_per_s is not None]
        return MetricsSnapshot(
            requests=len(samples),
            successes=len(ok),
            success_rate=(len(ok) / len(samples)) if samples else None,
            ttft_p50=percentile(ttfts, 50),
            ttft_p95=percentile(ttfts, 95),
            total_p50=percentile(totals, 50),
            total_p95=percentile(totals, 95),
            tokens_per_s=percentile(rates, 50),
            baseline_ttft_p50=self._baseline_ttft,
        )
