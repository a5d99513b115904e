"""The statistics of an A/B comparison, all from scipy: is B really different from A?

Latencies (time to first token, total time) and throughput are skewed, with long tails, so they
are compared without assuming a distribution: the two-sided Mann–Whitney U test
(`scipy.stats.mannwhitneyu`) says whether one model tends to be faster, and a bootstrap
(`scipy.stats.bootstrap`, seeded, percentile intervals) gives the confidence interval of the
relative change of the median and of the 95th percentile — the figures people act on. Success
rates are compared with Fisher's exact test (`scipy.stats.fisher_exact`; exact at the small
counts a desktop comparison has), their difference with Newcombe's interval built from the Wilson
intervals of each rate (`scipy.stats.binomtest(...).proportion_ci`).

The sample size for a stated effect is the normal approximation on log latencies divided by the
U test's asymptotic relative efficiency (3/π for normal data), and the classic two-proportion
formula for success rates.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

LEVEL = 0.95
ALPHA = 0.05
POWER = 0.8
BOOTSTRAP_RESAMPLES = 2000
MIN_SAMPLES = 3  # fewer values per side and nothing can be said
_ARE_MANN_WHITNEY = 3 / math.pi


def _scipy_stats() -> Any:
    """scipy.stats, imported on first use: it takes ~0.6 s, which the window's first paint must not pay."""
    from scipy import stats

    return stats


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class SampleSummary:
    n: int
    median: float
    p95: float
    mean: float


@dataclass(frozen=True)
class MetricComparison:
    """A against B on one measure (e.g. TTFT): B's relative change of the median and the p95 with
    their confidence intervals, and the U test's p-value (None when a side has too few values)."""

    metric: str
    lower_is_better: bool
    a: SampleSummary
    b: SampleSummary
    median_change: float
    median_ci: Interval | None
    p95_change: float
    p95_ci: Interval | None
    p_value: float | None

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA

    @property
    def b_better(self) -> bool:
        """B moved the right way (only meaningful when `significant`)."""
        return (self.median_change < 0) == self.lower_is_better


@dataclass(frozen=True)
class RateComparison:
    """Success rates of A and B, their difference (B − A) with its interval, Fisher's p-value."""

    a_successes: int
    a_n: int
    b_successes: int
    b_n: int
    difference: float
    difference_ci: Interval
    p_value: float

    @property
    def a_rate(self) -> float:
        return self.a_successes / self.a_n if self.a_n else math.nan

    @property
    def b_rate(self) -> float:
        return self.b_successes / self.b_n if self.b_n else math.nan

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def summarize(values: Sequence[float]) -> SampleSummary:
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return SampleSummary(0, math.nan, math.nan, math.nan)
    return SampleSummary(
        int(data.size), float(np.median(data)), float(np.percentile(data, 95)), float(data.mean())
    )


def _relative(statistic: str) -> object:
    def change(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        if statistic == "median":
            sa, sb = np.median(a, axis=axis), np.median(b, axis=axis)
        else:
            sa, sb = np.percentile(a, 95, axis=axis), np.percentile(b, 95, axis=axis)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(sb / sa - 1.0)

    return change


def _bootstrap_ci(a: np.ndarray, b: np.ndarray, statistic: str, seed: int) -> Interval | None:
    if a.size < MIN_SAMPLES or b.size < MIN_SAMPLES:
        return None
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # Identical values (every answer scored 10) make a degenerate bootstrap: no interval, not a warning.
        warnings.simplefilter("ignore")
        result = _scipy_stats().bootstrap(
            (a, b),
            _relative(statistic),
            n_resamples=BOOTSTRAP_RESAMPLES,
            confidence_level=LEVEL,
            method="percentile",
            vectorized=True,
            rng=np.random.default_rng(seed),
        )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return Interval(low, high)


def compare_metric(
    metric: str, a: Sequence[float], b: Sequence[float], *, lower_is_better: bool = True, seed: int = 0
) -> MetricComparison:
    """Compare one measure of A and B (values of successful runs only)."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    sa, sb = summarize(xa.tolist()), summarize(xb.tolist())
    enough = xa.size >= MIN_SAMPLES and xb.size >= MIN_SAMPLES
    p_value = float(_scipy_stats().mannwhitneyu(xa, xb, alternative="two-sided").pvalue) if enough else None
    return MetricComparison(
        metric=metric,
        lower_is_better=lower_is_better,
        a=sa,
        b=sb,
        median_change=sb.median / sa.median - 1.0 if enough and sa.median else math.nan,
        median_ci=_bootstrap_ci(xa, xb, "median", seed),
        p95_change=sb.p95 / sa.p95 - 1.0 if enough and sa.p95 else math.nan,
        p95_ci=_bootstrap_ci(xa, xb, "p95", seed + 1),
        p_value=p_value,
    )


def _wilson(successes: int, n: int) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    ci = _scipy_stats().binomtest(successes, n).proportion_ci(confidence_level=LEVEL, method="wilson")
    return float(ci.low), float(ci.high)


def compare_rates(a_successes: int, a_n: int, b_successes: int, b_n: int) -> RateComparison:
    """Compare two success rates: Fisher's exact test and Newcombe's interval of B − A."""
    table = [[a_successes, a_n - a_successes], [b_successes, b_n - b_successes]]
    p_value = float(_scipy_stats().fisher_exact(table).pvalue) if a_n and b_n else 1.0
    pa = a_successes / a_n if a_n else 0.0
    pb = b_successes / b_n if b_n else 0.0
    la, ua = _wilson(a_successes, a_n)
    lb, ub = _wilson(b_successes, b_n)
    d = pb - pa
    low = d - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    high = d + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    return RateComparison(a_successes, a_n, b_successes, b_n, d, Interval(low, high), p_value)


def runs_needed_for_change(
    values: Sequence[float], change: float, *, alpha: float = ALPHA, power: float = POWER
) -> int | None:
    """Runs per model the U test needs to show a relative change `change` (e.g. 0.1 = 10%) of the
    median with the given power, from the spread of `values` (log scale); None without spread."""
    data = np.asarray([v for v in values if v > 0], dtype=float)
    if data.size < MIN_SAMPLES or change <= -1 or change == 0:
        return None
    sigma = float(np.std(np.log(data), ddof=1))
    if sigma == 0:
        return None
    delta = abs(math.log1p(change))
    z = _scipy_stats().norm.ppf(1 - alpha / 2) + _scipy_stats().norm.ppf(power)
    return max(MIN_SAMPLES, math.ceil(2 * (float(z) * sigma / delta) ** 2 / _ARE_MANN_WHITNEY))


def runs_needed_for_rates(
    p_a: float, p_b: float, *, alpha: float = ALPHA, power: float = POWER
) -> int | None:
    """Runs per model needed to tell success rates `p_a` and `p_b` apart (None when equal)."""
    if p_a == p_b:
        return None
    z_a, z_b = float(_scipy_stats().norm.ppf(1 - alpha / 2)), float(_scipy_stats().norm.ppf(power))
    p_bar = (p_a + p_b) / 2
    top = z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(p_a * (1 - p_a) + p_b * (1 - p_b))
    return math.ceil(top**2 / (p_a - p_b) ** 2)
