"""SLO compliance, error budget and multiwindow burn-rate alerts on known traffic."""

from __future__ import annotations

import pytest

from steward.lab.slo import MIN_EVENTS, Objectives, SloSample, evaluate

NOW = 1_000_000.0
OBJ = Objectives(success_rate=0.99, ttft_s=2.0, ttft_share=0.95, min_tokens_per_s=10.0)


def traffic(
    seconds: float, every_s: float, ok: bool = True, ttft: float = 0.5, tps: float = 40.0
) -> list[SloSample]:
    """Samples over the last `seconds` before NOW, one per `every_s`."""
    count = int(seconds / every_s)
    return [
        SloSample(NOW - seconds + (i + 1) * every_s, ok, ttft if ok else None, tps if ok else None)
        for i in range(count)
    ]


def by_name(samples: list[SloSample]) -> dict[str, object]:
    return {s.objective: s for s in evaluate(samples, OBJ, NOW)}


def test_healthy_traffic_keeps_the_whole_budget_and_no_alert() -> None:
    statuses = by_name(traffic(86400, 60))
    for status in statuses.values():
        assert status.alert is None and status.budget_left == 1.0  # type: ignore[attr-defined]
    assert statuses["success"].describe() == "success 100.0% (target 99%): 100% of the budget left"  # type: ignore[attr-defined]


def test_an_outage_in_the_last_ten_minutes_fires_the_fast_alert() -> None:
    samples = traffic(86400, 60) + traffic(600, 10, ok=False)
    success = by_name(samples)["success"]
    assert success.alert == "fast"  # type: ignore[attr-defined]
    # last 5 minutes: 30 failures, 5 answers: (30 / 35) / 0.01 = 85.7
    assert success.burn["5m"] == pytest.approx(85.7, abs=0.1)  # type: ignore[attr-defined]
    assert "burning 86× (fast alert)" in success.describe()  # type: ignore[attr-defined]


def test_a_slow_leak_fires_only_the_slow_alert() -> None:
    # one request in 14 fails, steadily for 6 hours: burn 7.1 (>= 6, < 14.4)
    samples = [SloSample(NOW - 21600 + (i + 1) * 60, i % 14 != 0, 0.5, 40.0) for i in range(360)]
    success = by_name(samples)["success"]
    assert success.alert == "slow"  # type: ignore[attr-defined]
    assert success.burn["6h"] == pytest.approx(7.0, rel=0.15)  # type: ignore[attr-defined]


def test_an_outage_that_ended_clears_the_alert() -> None:
    samples = (
        traffic(86400, 60) + [SloSample(NOW - 3000 + i * 10, False) for i in range(100)] + traffic(900, 10)
    )
    assert by_name(samples)["success"].alert is None  # type: ignore[attr-defined]  # short window is clean again


def test_slow_first_tokens_and_slow_generation_spend_their_own_budgets() -> None:
    slow = traffic(3600, 10, ttft=3.0, tps=5.0)
    statuses = by_name(traffic(86400, 60) + slow)
    assert statuses["ttft"].alert == "fast" and statuses["speed"].alert == "fast"  # type: ignore[attr-defined]
    assert statuses["success"].alert is None  # type: ignore[attr-defined]
    assert statuses["ttft"].budget_left < 0  # type: ignore[attr-defined]


def test_too_few_events_say_nothing() -> None:
    samples = [SloSample(NOW - 10 * i, False) for i in range(MIN_EVENTS - 1)]
    success = by_name(samples)["success"]
    assert success.alert is None and all(b is None for b in success.burn.values())  # type: ignore[attr-defined]


def test_no_speed_objective_without_a_floor() -> None:
    names = [s.objective for s in evaluate(traffic(600, 10), Objectives(), NOW)]
    assert names == ["success", "ttft"]
