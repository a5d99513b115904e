"""The incrementally kept metrics (sorted values, recent suffix) equal a naive recomputation over
the window, whatever the order of samples, window sizes, look-back times and resizes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from steward.engine.metrics import ModelMetrics, Sample, percentile

samples = st.builds(
    lambda gap, ok, ttft, total, rate: (gap, ok, ttft, total, rate),
    st.floats(0, 5),
    st.booleans(),
    st.one_of(st.none(), st.floats(0, 3)),
    st.floats(0, 10),
    st.one_of(st.none(), st.floats(0, 200)),
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), samples),
        st.tuples(st.just("ask"), st.floats(0, 30)),
        st.tuples(st.just("resize"), st.integers(1, 12)),
    ),
    max_size=80,
)


def naive(window: list[Sample], since: float) -> tuple[int, int, list[float]]:
    recent = [s for s in window if s.at >= since]
    ttfts = sorted(s.ttft_s for s in recent if s.ok and s.ttft_s is not None)
    return len(recent), sum(1 for s in recent if not s.ok), ttfts


@settings(max_examples=300, deadline=None)
@given(size=st.integers(1, 12), steps=steps)
def test_incremental_figures_equal_a_recomputation(size: int, steps: list[tuple[str, object]]) -> None:
    metrics = ModelMetrics(size)
    window: list[Sample] = []
    now = 0.0
    for action, value in steps:
        if action == "add":
            gap, ok, ttft, total, rate = value  # type: ignore[misc]
            now += gap
            sample = Sample(now, ok, ttft if ok else None, total, None, rate if ok else None)
            metrics.add(sample)
            window = [*window, sample][-size:]
        elif action == "resize":
            size = int(value)  # type: ignore[call-overload]
            metrics.resize(size)
            window = window[-size:]
        else:
            since = now - float(value)  # type: ignore[arg-type]
            recent = metrics.traffic_since(since)
            assert (recent.count, recent.failures, recent.ok_ttfts) == naive(window, since)
        snap = metrics.snapshot()
        ok = [s for s in window if s.ok]
        ttfts = [s.ttft_s for s in ok if s.ttft_s is not None]
        assert snap.requests == len(window) and snap.successes == len(ok)
        assert snap.ttft_p50 == percentile(ttfts, 50) and snap.ttft_p95 == percentile(ttfts, 95)
        assert snap.total_p50 == percentile([s.total_s for s in ok], 50)
        assert snap.total_p95 == percentile([s.total_s for s in ok], 95)
        assert snap.tokens_per_s == percentile([s.tokens_per_s for s in ok if s.tokens_per_s is not None], 50)
