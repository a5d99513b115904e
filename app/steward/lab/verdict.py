"""An A/B comparison's result in plain words: the headline first ("B is faster: p95 TTFT −31%
[−40%, −22%], p < 0.01; no difference in success"), then one line per measure, then how many runs
would settle what this comparison could not."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from steward.lab.stats import MetricComparison, RateComparison, runs_needed_for_change

if TYPE_CHECKING:
    from steward.lab.compare import ComparisonResult

STATED_EFFECT = 0.10
"""The change the "runs needed" line is worked out for (10%)."""

_NAMES = {
    "ttft_s": ("time to first token", "TTFT", "faster to the first token", "slower to the first token"),
    "total_s": ("total time", "total time", "faster overall", "slower overall"),
    "tokens_per_s": ("tokens per second", "tokens/s", "generates faster", "generates slower"),
    "quality": ("quality score", "quality", "scores higher on quality", "scores lower on quality"),
}


def p_text(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "p n/a"
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01:
        return "p < 0.01"
    return f"p = {p:.2f}"


def percent(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value * 100:+.0f}%".replace("-", "−")


def _interval(m: MetricComparison, which: str) -> str:
    ci = m.p95_ci if which == "p95" else m.median_ci
    return f" [{percent(ci.low)}, {percent(ci.high)}]" if ci is not None else ""


def metric_line(m: MetricComparison) -> str:
    """ "B is faster to the first token: median −31% [−40%, −22%], p95 −28% [−35%, −20%], p < 0.01"."""
    name, short, better, worse = _NAMES.get(m.metric, (m.metric, m.metric, "better", "worse"))
    if m.p_value is None:
        return f"Too few successful runs to compare {name} (A {m.a.n}, B {m.b.n})."
    figures = (
        f"median {short} {percent(m.median_change)}{_interval(m, 'median')}, "
        f"p95 {percent(m.p95_change)}{_interval(m, 'p95')}, {p_text(m.p_value)}"
    )
    if not m.significant:
        return f"No clear difference in {name}: {figures}."
    return f"B {better if m.b_better else worse}: {figures}."


def rate_line(r: RateComparison) -> str:
    rates = f"{r.a_rate:.0%} vs {r.b_rate:.0%}"
    if not r.significant:
        return f"No difference in success: A {rates} B ({p_text(r.p_value)})."
    points = f"{r.difference * 100:+.0f} points [{r.difference_ci.low * 100:+.0f}, {r.difference_ci.high * 100:+.0f}]"
    way = "more" if r.difference > 0 else "less"
    return f"B succeeds {way} often: A {rates} B, {points.replace('-', '−')}, {p_text(r.p_value)}."


def headline(ttft: MetricComparison | None, success: RateComparison | None) -> str:
    parts: list[str] = []
    if ttft is not None and ttft.significant:
        way = "faster" if ttft.b_better else "slower"
        parts.append(
            f"B is {way}: p95 TTFT {percent(ttft.p95_change)}{_interval(ttft, 'p95')}, {p_text(ttft.p_value)}"
        )
    elif ttft is not None and ttft.p_value is not None:
        parts.append(
            f"no clear difference in speed (median TTFT {percent(ttft.median_change)}, {p_text(ttft.p_value)})"
        )
    else:
        parts.append("too few successful runs to compare speed")
    if success is not None:
        if success.significant:
            parts.append(
                f"B succeeds {'more' if success.difference > 0 else 'less'} often ({p_text(success.p_value)})"
            )
        else:
            parts.append("no difference in success")
    text = "; ".join(parts)
    return text[0].upper() + text[1:]


def verdict_lines(result: ComparisonResult) -> list[str]:
    by_name = {m.metric: m for m in result.metrics}
    lines = [headline(by_name.get("ttft_s"), result.success)]
    lines += [metric_line(m) for m in result.metrics]
    if result.success is not None:
        lines.append(rate_line(result.success))
    ttft = by_name.get("ttft_s")
    if ttft is not None and not ttft.significant:
        needed = runs_needed_for_change(
            result.values("A", "ttft_s") + result.values("B", "ttft_s"), STATED_EFFECT
        )
        if needed is not None:
            had = min(ttft.a.n, ttft.b.n)
            lines.append(
                f"To show a {STATED_EFFECT:.0%} difference in TTFT, about {needed} runs per model are needed "
                f"(this comparison had {had})."
            )
    return lines
