"""Per-model performance: rolling window statistics and bounded time series for charts."""

from __future__ import annotations

from bisect import bisect_left, insort
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
    return percentile_of_sorted(sorted(values), q)


def percentile_of_sorted(ordered: list[float], q: float) -> float | None:
    """`percentile` of values already in ascending order (several percentiles, one sort)."""
    if not ordered:
        return None
    rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class RecentTraffic:
    """The samples at or after some time: how many, how many failed, the successful TTFTs."""

    count: int
    failures: int
    ok_ttfts: list[float]  # ascending; read-only (the metrics' own list)

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.count if self.count else None


class _Sorted:
    """Values kept in ascending order as samples come and go (bisect: one C-level move each)."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def add(self, value: float | None) -> None:
        if value is not None:
            insort(self.values, value)

    def remove(self, value: float | None) -> None:
        if value is not None:
            del self.values[bisect_left(self.values, value)]


class ModelMetrics:
    """Rolling window of the last `window` attempts, plus a slow baseline of TTFT.

    The baseline is an exponentially weighted mean of successful TTFTs, so "degraded"
    can mean "slower than this model usually is", not slower than some fixed number.

    Routing reads the window's percentiles and health its recent traffic after EVERY answer, so
    both are kept up to date as samples come and go instead of recomputed over the window
    (that was ~100 us per request with 200 samples): sorted values for the percentiles, and the
    newest samples inside the health time window (a suffix of the window) with their counts.
    """

    def __init__(self, window: int = 200, series_len: int = 2048) -> None:
        self._window: deque[Sample] = deque(maxlen=max(1, window))
        self.series: deque[Sample] = deque(maxlen=series_len)
        self._baseline_ttft: float | None = None
        self.total_requests = 0
        self._snapshot: MetricsSnapshot | None = None  # cached until the next sample
        self._ok = 0
        self._ttfts, self._totals, self._rates = _Sorted(), _Sorted(), _Sorted()
        # the recent suffix of the window (samples at or after `_since`) and its figures
        self._recent: deque[Sample] = deque()
        self._since = float("-inf")
        self._recent_failures = 0
        self._recent_ttfts = _Sorted()

    def add(self, sample: Sample) -> None:
        self._snapshot = None
        if len(self._window) == self._window.maxlen:
            self._forget(self._window[0])
        self._window.append(sample)
        self._count(sample)
        if sample.at >= self._since:
            self._recent.append(sample)
            self._count_recent(sample, +1)
        self.series.append(sample)
        self.total_requests += 1
        if sample.ok and sample.ttft_s is not None:
            if self._baseline_ttft is None:
                self._baseline_ttft = sample.ttft_s
            else:
                self._baseline_ttft = 0.95 * self._baseline_ttft + 0.05 * sample.ttft_s

    def _count(self, sample: Sample) -> None:
        if sample.ok:
            self._ok += 1
            self._ttfts.add(sample.ttft_s)
            self._totals.add(sample.total_s)
            self._rates.add(sample.tokens_per_s)

    def _forget(self, oldest: Sample) -> None:
        """`oldest` leaves the window (it is full): from the figures, and from the recent part."""
        if oldest.ok:
            self._ok -= 1
            self._ttfts.remove(oldest.ttft_s)
            self._totals.remove(oldest.total_s)
            self._rates.remove(oldest.tokens_per_s)
        if self._recent and self._recent[0] is oldest:
            self._recent.popleft()
            self._count_recent(oldest, -1)

    def _count_recent(self, sample: Sample, sign: int) -> None:
        if not sample.ok:
            self._recent_failures += sign
        elif sign > 0:
            self._recent_ttfts.add(sample.ttft_s)
        else:
            self._recent_ttfts.remove(sample.ttft_s)

    def resize(self, window: int) -> None:
        kept = list(self._window)[-max(1, window) :]
        self._snapshot = None
        self._window = deque(maxlen=max(1, window))
        self._ok = 0
        self._ttfts, self._totals, self._rates = _Sorted(), _Sorted(), _Sorted()
        for sample in kept:
            self._window.append(sample)
            self._count(sample)
        self._recent.clear()
        self._recent_failures, self._recent_ttfts = 0, _Sorted()
        self._since = float("inf")  # the next `traffic_since` rebuilds the recent part

    def traffic_since(self, since: float) -> RecentTraffic:
        """The samples at or after `since` (health reads this after every answer; `since` moves
        forward, so older samples just leave the recent part)."""
        if since < self._since:  # the time window grew (settings): rebuild the recent part
            self._recent.clear()
            self._recent_failures, self._recent_ttfts = 0, _Sorted()
            for sample in self._window:
                if sample.at >= since:
                    self._recent.append(sample)
                    self._count_recent(sample, +1)
        self._since = since
        recent = self._recent
        while recent and recent[0].at < since:
            self._count_recent(recent.popleft(), -1)
        return RecentTraffic(len(recent), self._recent_failures, self._recent_ttfts.values)

    @property
    def baseline_ttft(self) -> float | None:
        """The slow (exponentially weighted) mean of successful first-token times."""
        return self._baseline_ttft

    def ttft_p95(self) -> float | None:
        return percentile_of_sorted(self._ttfts.values, 95)

    def snapshot(self) -> MetricsSnapshot:
        """The window's figures; computed once per new sample (routing reads it for every model on
        every request, the dashboard twice a second), not on every read."""
        if self._snapshot is None:
            self._snapshot = self._compute()
        return self._snapshot

    def _compute(self) -> MetricsSnapshot:
        requests, ttfts, totals = len(self._window), self._ttfts.values, self._totals.values
        return MetricsSnapshot(
            requests=requests,
            successes=self._ok,
            success_rate=(self._ok / requests) if requests else None,
            ttft_p50=percentile_of_sorted(ttfts, 50),
            ttft_p95=percentile_of_sorted(ttfts, 95),
            total_p50=percentile_of_sorted(totals, 50),
            total_p95=percentile_of_sorted(totals, 95),
            tokens_per_s=percentile_of_sorted(self._rates.values, 50),
            baseline_ttft_p50=self._baseline_ttft,
        )
