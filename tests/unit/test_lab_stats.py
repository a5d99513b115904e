"""The A/B statistics against scipy and against published figures on known samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from steward.lab.stats import (
    compare_metric,
    compare_rates,
    runs_needed_for_change,
    runs_needed_for_rates,
)


def lognormal(median: float, n: int, seed: int, sigma: float = 0.3) -> list[float]:
    return list(np.random.default_rng(seed).lognormal(math.log(median), sigma, n))


def test_the_u_test_p_value_is_scipys() -> None:
    a, b = lognormal(1.0, 25, 1), lognormal(0.8, 25, 2)
    ours = compare_metric("ttft_s", a, b)
    assert ours.p_value == pytest.approx(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    assert ours.a.median == pytest.approx(float(np.median(a))) and ours.b.p95 == pytest.approx(
        np.percentile(b, 95)
    )


def test_a_real_30_percent_speed_up_is_found_and_its_interval_holds_the_truth() -> None:
    result = compare_metric("ttft_s", lognormal(1.0, 40, 3), lognormal(0.7, 40, 4))
    assert result.significant and result.b_better
    assert result.median_ci is not None and result.median_ci.contains(-0.3)
    assert result.median_ci.high < 0  # the whole interval says faster
    assert result.p95_ci is not None and result.p95_ci.low < result.p95_change < result.p95_ci.high


def test_the_same_distribution_is_called_different_about_one_time_in_twenty() -> None:
    """Alpha 0.05: over 100 comparisons of one distribution with itself, about 5 false alarms, and
    the 95% interval of the median change holds 0 about 95 times."""
    results = [
        compare_metric("ttft_s", lognormal(1.0, 30, 2 * i), lognormal(1.0, 30, 2 * i + 1)) for i in range(100)
    ]
    false_alarms = sum(r.significant for r in results)
    covered = sum(r.median_ci is not None and r.median_ci.contains(0.0) for r in results)
    assert false_alarms <= 10 and covered >= 88


def test_higher_is_better_measures_read_the_other_way() -> None:
    result = compare_metric("tokens_per_s", lognormal(50, 30, 7), lognormal(80, 30, 8), lower_is_better=False)
    assert result.significant and result.b_better


def test_the_bootstrap_is_repeatable() -> None:
    a, b = lognormal(1.0, 20, 9), lognormal(0.9, 20, 10)
    assert compare_metric("ttft_s", a, b, seed=4) == compare_metric("ttft_s", a, b, seed=4)


def test_too_few_runs_say_nothing() -> None:
    result = compare_metric("ttft_s", [1.0, 1.1], [0.5, 0.4, 0.6])
    assert result.p_value is None and result.median_ci is None and not result.significant


def test_fisher_exact_matches_the_tea_tasting_lady() -> None:
    """Fisher's own example: 3 of 4 cups right each way, p = 0.4857 (two-sided)."""
    assert compare_rates(3, 4, 1, 4).p_value == pytest.approx(0.4857, abs=1e-4)


def test_the_difference_interval_is_newcombes() -> None:
    """Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 − 48/80, method 10:
    0.2000 with 95% interval 0.0524 to 0.3339."""
    result = compare_rates(48, 80, 56, 70)
    assert result.difference == pytest.approx(0.2)
    assert (result.difference_ci.low, result.difference_ci.high) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    assert result.significant


def test_equal_rates_are_no_difference() -> None:
    result = compare_rates(10, 10, 10, 10)
    assert result.p_value == 1.0 and not result.significant and result.difference_ci.contains(0)


def test_runs_needed_for_two_rates_is_the_textbook_figure() -> None:
    """60% vs 80%, alpha 0.05 two-sided, power 0.8: 82 per group (Fleiss, no continuity correction)."""
    assert runs_needed_for_rates(0.6, 0.8) == 82
    assert runs_needed_for_rates(0.5, 0.5) is None


def test_runs_needed_for_a_latency_change_grows_with_noise_and_shrinks_with_effect() -> None:
    calm, noisy = lognormal(1.0, 50, 11, sigma=0.1), lognormal(1.0, 50, 12, sigma=0.5)
    quiet_need, noisy_need = runs_needed_for_change(calm, 0.1), runs_needed_for_change(noisy, 0.1)
    assert quiet_need is not None and noisy_need is not None and quiet_need < noisy_need
    big = runs_needed_for_change(noisy, 0.5)
    assert big is not None and big < noisy_need
    sigma = float(np.std(np.log(noisy), ddof=1))
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert noisy_need == math.ceil(2 * (z * sigma / math.log(1.1)) ** 2 / (3 / math.pi))
    assert runs_needed_for_change([1.0, 1.0, 1.0], 0.1) is None  # no spread, nothing to say
