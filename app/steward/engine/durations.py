"""Durations in words for people ("29 min", "2 h 5 min"), not raw seconds ("1799 s").

Used wherever a wait is shown to a user: a quarantine's time left, a circuit's retry delay."""

from __future__ import annotations


def duration_in_words(seconds: float) -> str:
    """`seconds` as the largest useful units, rounded down: 45 → "45 s", 1799 → "29 min",
    7500 → "2 h 5 min", 90000 → "1 day 1 h". Negative values count as 0."""
    total = max(0, int(seconds))
    if total < 60:
        return f"{total} s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    unit = "day" if days == 1 else "days"
    return f"{days} {unit} {hours} h" if hours else f"{days} {unit}"


def time_left(seconds: float | None) -> str:
    """ "29 min left", or "until released" when there is no end."""
    return "until released" if seconds is None else f"{duration_in_words(seconds)} left"
