"""The SLO view of a model: budget left, alert, its usual level (or how far that is learnt) and
drift, evaluated from the live watch (the watch is fed engine events; its runtime is a stand-in)."""

from __future__ import annotations

import pytest
from tests.support.slo_watch import KEY, Clock, watch

from steward.engine.events import AttemptFailed, Completed, RequestStarted
from steward.engine.failures import FailureKind
from steward.engine.types import Usage
from steward.lab.drift import WARMUP
from steward.service.model_watch import ModelWatch


def feed(w: ModelWatch, clock: Clock, n: int, ok: bool = True, ttft: float = 0.4, step: float = 2.0) -> None:
    for _ in range(n):
        clock.now += step
        rid = f"r{clock.now}"
        w(RequestStarted(clock.now, rid, "sequential", (KEY,), ""))
        if ok:
            w(Completed(clock.now, rid, KEY, "hi", Usage(10, 40), None, ttft, ttft + 1.0, 1))
        else:
            w(AttemptFailed(clock.now, rid, KEY, 1, FailureKind.CONNECTION_REFUSED, "refused", 0.01, False))


async def test_a_model_without_traffic_is_shown_with_nothing_spent_and_learning_its_usual_level() -> None:
    w, _, _ = watch()
    [view] = await w.views(["idle/m"])
    assert view.samples == 0 and view.alert is None and view.drift is None
    assert [o.total for o in view.objectives] == [0, 0]
    assert all(o.budget_left is None for o in view.objectives)
    assert view.usual_text() == f"learning its usual level (0 of {WARMUP} answers)"


async def test_the_usual_level_is_told_once_learnt() -> None:
    w, _, clock = watch()
    feed(w, clock, 10)
    [view] = await w.views([KEY])
    assert view.usual[0].describe() == f"learning (10 of {WARMUP} answers)"
    assert view.usual_text() == f"learning its usual level (10 of {WARMUP} answers)"
    feed(w, clock, WARMUP)
    [view] = await w.views([KEY])
    assert view.usual_text() == "usually 400 ms to first token, 40 tokens/s"


async def test_budget_left_and_the_alert_follow_failures() -> None:
    w, _, clock = watch()
    feed(w, clock, 990, step=1.0)
    feed(w, clock, 5, ok=False, step=1.0)  # 5 of 995: half the 1% budget
    [view] = await w.views([KEY])
    success = view.objectives[0]
    assert success.objective == "success" and success.budget_left == pytest.approx(1 - (5 / 995) / 0.01)
    assert view.alert is None
    feed(w, clock, 180, ok=False, step=1.0)  # three minutes of refusals: 15.7% of the hour, burning 15.7x
    [view] = await w.views([KEY])
    assert view.objectives[0].budget_left is not None and view.objectives[0].budget_left < 0
    assert view.alert == "fast"


async def test_a_drift_is_part_of_the_view() -> None:
    w, _, clock = watch()
    feed(w, clock, 100)
    feed(w, clock, 100, ttft=0.9)
    [view] = await w.views([KEY])
    assert view.drift is not None and view.drift.metric == "ttft"


def test_objectives_in_words() -> None:
    from steward.lab.slo import ObjectiveStatus
    from steward.service.slo_view import budget_text, burn_text, now_text

    fine = ObjectiveStatus(
        "success", 0.99, 995, 1000, 0.5, {"5m": 0.2, "30m": None, "1h": 0.5, "6h": 0.5}, None
    )
    burning = ObjectiveStatus(
        "ttft", 0.95, 0, 12, -19.0, {"5m": 20.0, "30m": 20.0, "1h": 20.0, "6h": 20.0}, "fast"
    )
    quiet = ObjectiveStatus(
        "speed", 0.95, 0, 0, None, {"5m": None, "30m": None, "1h": None, "6h": None}, None
    )
    assert (now_text(fine), budget_text(fine), burn_text(fine)) == (
        "99.5% (99%)",
        "50% left",
        "0.2× over 5 min, 0.5× over 1 h",
    )
    assert budget_text(burning) == "overspent (20.0× the budget)"
    assert burn_text(burning) == "20.0× over 5 min, 20.0× over 1 h — fast alert"
    assert (now_text(quiet), budget_text(quiet), burn_text(quiet)) == ("— (95%)", "no traffic", "—")
