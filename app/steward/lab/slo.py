"""Service-level objectives per model, with multi-window burn-rate alerts (as in Google's SRE
workbook, "Alerting on SLOs", alert 5: multiwindow, multi-burn-rate).

Three objectives, each the share of good events over the SLO period:
- success: attempts that answered (a failure of any counted kind is a bad event);
- first token: answered attempts whose time to first token was within `ttft_s`;
- speed: answered attempts that generated at least `min_tokens_per_s` (when set).

The error budget is the allowed share of bad events, 1 − target. The burn rate over a window is
the bad share in it divided by the budget: 1 spends the budget exactly over the period, 14.4
spends 2% of a 30-day budget in one hour. An alert fires when BOTH its long window and its short
window burn faster than the threshold (the long one proves it matters, the short one that it is
still happening, so alerts also clear quickly):

| alert | long window | short window | burn rate |
|-------|-------------|--------------|-----------|
| fast  | 1 h         | 5 min        | 14.4      |
| slow  | 6 h         | 30 min       | 6         |

Windows with fewer than `MIN_EVENTS` events say nothing (a desktop sees little traffic; one
failure out of two requests is not an incident).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PERIOD_S = 7 * 86400.0
MIN_EVENTS = 10


@dataclass(frozen=True)
class Objectives:
    success_rate: float = 0.99
    ttft_s: float = 5.0
    ttft_share: float = 0.95
    min_tokens_per_s: float | None = None
    speed_share: float = 0.95


@dataclass(frozen=True)
class BurnAlert:
    name: str
    long_s: float
    short_s: float
    burn_rate: float


ALERTS: tuple[BurnAlert, ...] = (
    BurnAlert("fast", 3600.0, 300.0, 14.4),
    BurnAlert("slow", 21600.0, 1800.0, 6.0),
)


@dataclass(frozen=True)
class SloSample:
    """One attempt of a model: when, whether it answered, its time to first token and speed."""

    ts: float
    ok: bool
    ttft_s: float | None = None
    tokens_per_s: float | None = None


@dataclass(frozen=True)
class ObjectiveStatus:
    """One objective of one model, now."""

    objective: str
    target: float
    good: int
    total: int
    budget_left: float | None
    """Share of the period's error budget not yet spent (1 = untouched, below 0 = overspent)."""
    burn: dict[str, float | None]
    """Burn rate per window ("5m", "30m", "1h", "6h"); None with too few events."""
    alert: str | None
    """"fast" or "slow" while an alert fires, else None."""

    @property
    def compliance(self) -> float | None:
        return self.good / self.total if self.total else None

    def describe(self) -> str:
        """ "success 97.0% (target 99%): budget overspent, burning 14× (fast alert)"."""
        shown = {"success": "success", "ttft": "first token in time", "speed": "fast enough"}[self.objective]
        head = f"{shown} {self.compliance:.1%}" if self.compliance is not None else f"{shown}: no traffic"
        head += f" (target {self.target:.0%})"
        if self.budget_left is not None:
            head += (
                ": budget overspent"
                if self.budget_left < 0
                else f": {self.budget_left:.0%} of the budget left"
            )
        if self.alert is not None:
            rate = max((b for b in self.burn.values() if b is not None), default=0.0)
            head += f", burning {rate:.0f}× ({self.alert} alert)"
        return head


def _label(seconds: float) -> str:
    return f"{seconds / 3600:g}h" if seconds >= 3600 else f"{seconds / 60:g}m"


class _Series:
    """Good/bad events in time order with prefix sums, for any window in O(log n)."""

    def __init__(self, events: Iterable[tuple[float, bool]]) -> None:
        ordered = sorted(events)
        self.ts = [t for t, _ in ordered]
        self.bad_before = [0]
        for _, good in ordered:
            self.bad_before.append(self.bad_before[-1] + (0 if good else 1))

    def window(self, start: float, end: float) -> tuple[int, int]:
        """(events, bad events) with start < ts <= end."""
        lo, hi = bisect.bisect_right(self.ts, start), bisect.bisect_right(self.ts, end)
        return hi - lo, self.bad_before[hi] - self.bad_before[lo]


def _status(
    name: str, target: float, events: list[tuple[float, bool]], now: float, period_s: float
) -> ObjectiveStatus:
    series = _Series(events)
    total, bad = series.window(now - period_s, now)
    budget = 1.0 - target
    budget_left = None if total == 0 or budget <= 0 else 1.0 - (bad / total) / budget
    burn: dict[str, float | None] = {}
    for seconds in sorted({s for a in ALERTS for s in (a.long_s, a.short_s)}):
        count, bad_in = series.window(now - seconds, now)
        burn[_label(seconds)] = (bad_in / count) / budget if count >= MIN_EVENTS and budget > 0 else None
    alert = None
    for rule in ALERTS:  # fast first: the more urgent one is named
        long_burn, short_burn = burn[_label(rule.long_s)], burn[_label(rule.short_s)]
        if (
            long_burn is not None
            and short_burn is not None
            and long_burn >= rule.burn_rate
            and short_burn >= rule.burn_rate
        ):
            alert = rule.name
            break
    return ObjectiveStatus(name, target, total - bad, total, budget_left, burn, alert)


def evaluate(
    samples: Sequence[SloSample], objectives: Objectives, now: float, period_s: float = PERIOD_S
) -> list[ObjectiveStatus]:
    """Every objective of one model from its samples (any order), as of `now`."""
    answered = [s for s in samples if s.ok]
    statuses = [
        _status("success", objectives.success_rate, [(s.ts, s.ok) for s in samples], now, period_s),
        _status(
            "ttft",
            objectives.ttft_share,
            [
                (s.ts, s.ttft_s is not None and s.ttft_s <= objectives.ttft_s)
                for s in answered
                if s.ttft_s is not None
            ],
            now,
            period_s,
        ),
    ]
    floor = objectives.min_tokens_per_s
    if floor is not None:
        speeds = [(s.ts, s.tokens_per_s >= floor) for s in answered if s.tokens_per_s is not None]
        statuses.append(_status("speed", objectives.speed_share, speeds, now, period_s))
    return statuses
