"""The live SLO and drift watch, fed engine events as the engine emits them (the events are
built here; the runtime is a stand-in that only holds settings and collects published events)."""

from __future__ import annotations

import pytest
from tests.support.slo_watch import KEY, Clock, watch

from steward.config import Settings
from steward.engine.events import AttemptFailed, Completed, RequestStarted
from steward.engine.failures import FailureKind
from steward.engine.types import Usage
from steward.service.model_watch import DriftDetected, ModelWatch, SloAlertChanged


def request(w: ModelWatch, clock: Clock, rid: str, ok: bool, ttft: float = 0.4, source: str = "chat") -> None:
    w(RequestStarted(clock.now, rid, "sequential", (KEY,), "", source=source))
    if ok:
        w(Completed(clock.now, rid, KEY, "hi", Usage(10, 20), None, ttft, ttft + 1.0, 1))
    else:
        w(AttemptFailed(clock.now, rid, KEY, 1, FailureKind.CONNECTION_REFUSED, "refused", 0.01, False))


def test_an_outage_raises_the_slow_then_fast_alert_and_they_clear_as_their_windows_come_clean() -> None:
    w, runtime, clock = watch()

    def run(seconds: int, ok: bool) -> None:
        for _ in range(seconds):
            clock.now += 1
            request(w, clock, f"{clock.now}", ok)

    def alerts() -> list[str | None]:
        return [e.alert for e in runtime.engine.published if isinstance(e, SloAlertChanged)]

    run(600, True)  # ten minutes of normal traffic
    run(120, False)  # two minutes of refusals: 6x burn is reached before 14.4x
    assert alerts() == ["slow", "fast"]
    fast = [e for e in runtime.engine.published if isinstance(e, SloAlertChanged)][-1]
    assert fast.model == KEY and fast.objective == "success" and "budget overspent" in fast.detail
    run(400, True)  # the 5-minute window is clean: fast clears, the 30-minute one still burns
    assert alerts() == ["slow", "fast", "slow"]
    run(2000, True)  # and after half an hour, no alert
    assert alerts() == ["slow", "fast", "slow", None]


def test_lab_and_probe_traffic_and_client_mistakes_are_not_counted() -> None:
    w, runtime, clock = watch()
    for i in range(200):
        clock.now += 1
        request(w, clock, f"lab{i}", False, source="lab")
        request(w, clock, f"probe{i}", False, source="probe")
        w(AttemptFailed(clock.now, f"c{i}", KEY, 1, FailureKind.CANCELLED, "user stopped", 0.1, False))
    assert runtime.engine.published == []
    assert all(s.total == 0 for s in w.slo(KEY))


def test_a_model_that_became_slower_is_told_as_drift() -> None:
    w, runtime, clock = watch()
    for i in range(300):
        clock.now += 2
        request(w, clock, f"r{i}", True, ttft=0.4 if i < 100 else 0.8)
    drifts = [e for e in runtime.engine.published if isinstance(e, DriftDetected)]
    assert len(drifts) == 1 and drifts[0].metric == "ttft" and drifts[0].change > 0.5
    assert "slower than usual since" in drifts[0].detail
    assert w.drift(KEY) is not None
    assert runtime.engine.drifts == [(KEY, drifts[0].detail)], "health hears of it"


def test_per_model_objectives_override_the_defaults() -> None:
    settings = Settings.model_validate(
        {"slo": {"ttft_s": 2.0, "per_model": {KEY: {"ttft_s": 9.0, "min_tokens_per_s": 5}}}}
    )
    w, _, _ = watch(settings)
    own, other = w.objectives(KEY), w.objectives("other/m")
    assert (own.ttft_s, own.min_tokens_per_s, own.success_rate) == (9.0, 5.0, 0.99)
    assert (other.ttft_s, other.min_tokens_per_s) == (2.0, None)


def test_a_burst_is_judged_once_it_is_over_and_an_alert_clears_with_no_traffic_at_all() -> None:
    w, runtime, clock = watch()

    def alerts() -> list[str | None]:
        return [e.alert for e in runtime.engine.published if isinstance(e, SloAlertChanged)]

    for i in range(12):  # a burst of refusals within a second: shorter than the evaluation interval
        clock.now += 0.05
        request(w, clock, f"r{i}", False)
    assert alerts() == [], "judged on the first sample only (too few to say)"
    w.tick()
    assert alerts() == [], "not due yet"
    clock.now += 5
    w.tick()
    assert alerts() == ["fast"], "judged once the burst was over, without another request"
    clock.now += 3600
    w.tick()
    assert alerts() == ["fast", None], "its windows came clean with no traffic: cleared"
    published = len(runtime.engine.published)
    clock.now += 60
    w.tick()
    assert len(runtime.engine.published) == published, "nothing new, no alert: nothing evaluated"


def test_the_drift_detectors_can_be_read_learning_then_armed() -> None:
    from steward.lab.drift import WARMUP

    w, _, clock = watch()
    assert w.detectors(KEY) == ()
    for i in range(WARMUP):
        clock.now += 2
        request(w, clock, f"r{i}", True, ttft=0.4)
        ttft, speed, _ = w.detectors(KEY)
        assert (ttft.baseline is None) == (i < WARMUP - 1)
    assert ttft.metric == "ttft" and ttft.baseline == pytest.approx(0.4) and ttft.samples == WARMUP
    assert speed.metric == "tokens_per_s" and speed.baseline == pytest.approx(20.0)  # 20 tokens in 1 s
