"""An A/B comparison as a table of measures: A's and B's medians, B's change with its interval,
the p-value. `measure_rows` gives the cells (the Lab page shows them in a table widget), `table`
the aligned text lines `steward compare` prints."""

from __future__ import annotations

import math

from steward.lab.compare import ComparisonResult
from steward.lab.stats import MetricComparison
from steward.lab.verdict import p_text, percent

HEADER = ("measure", "A median", "B median", "B vs A (median)", "p")
MEASURE_NAMES = {
    "ttft_s": "TTFT",
    "total_s": "total time",
    "tokens_per_s": "tokens/s",
    "quality": "quality (0-10)",
}


def _seconds(value: float) -> str:
    return "n/a" if math.isnan(value) else (f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s")


TIMES = ("ttft_s", "total_s")
"""Measures in seconds (tokens_per_s also ends in "_s" but is a rate)."""


def _figure(metric: str, value: float) -> str:
    if metric in TIMES:
        return _seconds(value)
    return "n/a" if math.isnan(value) else f"{value:.1f}"


def _change(m: MetricComparison) -> str:
    ci = m.median_ci
    interval = f" [{percent(ci.low)}, {percent(ci.high)}]" if ci else ""
    return percent(m.median_change) + interval


def measure_rows(result: ComparisonResult) -> list[tuple[str, str, str, str, str]]:
    """One row per measure (and one for success), without the header."""
    rows = [
        (
            MEASURE_NAMES.get(m.metric, m.metric),
            _figure(m.metric, m.a.median),
            _figure(m.metric, m.b.median),
            _change(m),
            p_text(m.p_value),
        )
        for m in result.metrics
    ]
    if result.success is not None:
        s = result.success
        rows.append(
            (
                "success",
                f"{s.a_successes}/{s.a_n}",
                f"{s.b_successes}/{s.b_n}",
                f"{s.difference * 100:+.0f} points".replace("-", "−"),
                p_text(s.p_value),
            )
        )
    return rows


def table(result: ComparisonResult) -> list[str]:
    """Medians of A and B per measure, B's change with its interval, the p-value."""
    rows = [HEADER, *measure_rows(result)]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
