"""Waits shown to people are in words: "29 min left", not "1799 s left"."""

from __future__ import annotations

import pytest

from steward.engine.durations import duration_in_words, time_left


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (-3, "0 s"),
        (0, "0 s"),
        (50.9, "50 s"),
        (60, "1 min"),
        (1799, "29 min"),
        (3600, "1 h"),
        (7500, "2 h 5 min"),
        (86400, "1 day"),
        (90000, "1 day 1 h"),
        (3 * 86400, "3 days"),
    ],
)
def test_durations_are_rounded_down_to_the_largest_useful_units(seconds: float, words: str) -> None:
    assert duration_in_words(seconds) == words


def test_time_left_says_until_released_without_an_end() -> None:
    assert time_left(1799) == "29 min left"
    assert time_left(None) == "until released"
