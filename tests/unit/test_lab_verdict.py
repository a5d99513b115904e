"""The comparison's verdict in words, from results built on known samples."""

from __future__ import annotations

import math

import numpy as np

from steward.lab.compare import ComparisonResult, Run, Side
from steward.lab.verdict import metric_line, p_text, percent


def lognormal(median: float, n: int, seed: int) -> list[float]:
    return list(np.random.default_rng(seed).lognormal(math.log(median), 0.25, n))


def result_of(a_ttft: list[float], b_ttft: list[float], a_fail: int = 0, b_fail: int = 0) -> ComparisonResult:
    runs = [Run("A", 0, i, True, t, t * 3, 40.0, 9.0) for i, t in enumerate(a_ttft)]
    runs += [Run("B", 0, i, True, t, t * 3, 40.0, 9.0) for i, t in enumerate(b_ttft)]
    runs += [Run("A", 0, 0, False, failure="connection refused")] * a_fail
    runs += [Run("B", 0, 0, False, failure="connection refused")] * b_fail
    result = ComparisonResult(Side("A", "x/a"), Side("B", "x/b"), ("hi",), runs)
    result.analyse()
    return result


def test_a_clearly_faster_b_is_the_headline_with_its_interval_and_p() -> None:
    verdict = result_of(lognormal(1.0, 40, 1), lognormal(0.65, 40, 2)).verdict
    assert (
        verdict[0].startswith("B is faster: p95 TTFT −") and "[" in verdict[0] and "p < 0.001" in verdict[0]
    )
    assert verdict[0].endswith("; no difference in success")
    assert any(line.startswith("B faster to the first token: median TTFT −") for line in verdict)


def test_no_difference_says_so_and_how_many_runs_would_tell() -> None:
    verdict = result_of(lognormal(1.0, 12, 3), lognormal(1.0, 12, 4)).verdict
    assert verdict[0].startswith("No clear difference in speed (median TTFT ")
    needed = [line for line in verdict if line.startswith("To show a 10% difference in TTFT, about ")]
    assert needed and needed[0].endswith("(this comparison had 12).")


def test_a_b_that_fails_more_is_said_in_points() -> None:
    verdict = result_of(lognormal(1.0, 20, 5), lognormal(1.0, 8, 6), b_fail=12).verdict
    assert "B succeeds less often (p < 0.001)" in verdict[0]
    line = next(v for v in verdict if v.startswith("B succeeds less often:"))
    assert "A 100% vs 40% B" in line and "−60 points [" in line


def test_too_few_successful_runs_are_named() -> None:
    result = result_of([1.0, 1.1], [0.5])
    assert result.verdict[0].startswith("Too few successful runs to compare speed")
    assert (
        metric_line(result.metrics[0]) == "Too few successful runs to compare time to first token (A 2, B 1)."
    )


def test_numbers_read_as_people_write_them() -> None:
    assert (percent(-0.314), percent(0.05), percent(math.nan)) == ("−31%", "+5%", "n/a")
    assert (p_text(0.0004), p_text(0.004), p_text(0.2345), p_text(None)) == (
        "p < 0.001",
        "p < 0.01",
        "p = 0.23",
        "p n/a",
    )
