"""Rules that tie two or more settings of one group together, written in the user's words.

A per-field limit ("at least 1") belongs to one field; these rules belong to several
("Max reset timeout (300 s) must not be smaller than Reset timeout (500 s)"). Each group has at
most one, so a problem reported at a group's path ("breaker") names its rule, and the rule
names the fields to mark (`fields_of`). The group models enforce them (`enforce`) and
`steward.config.validation` also checks them on raw data, so a file or an edit with a bad field
*and* a broken rule gets both reported, not just the first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from steward.config.labels import with_value


@dataclass(frozen=True)
class CrossRule:
    """`holds(*values of fields)` must be true; `says` is the message with {0}, {1}… per field."""

    group: str
    fields: tuple[str, ...]
    holds: Callable[..., bool]
    says: str

    @property
    def paths(self) -> tuple[str, ...]:
        """The dotted paths of the fields involved."""
        return tuple(f"{self.group}.{name}" for name in self.fields)

    def broken_by(self, values: Sequence[float]) -> str | None:
        """The message when `values` (in `fields` order) break the rule, else None."""
        if self.holds(*values):
            return None
        return self.says.format(*(with_value(p, v) for p, v in zip(self.paths, values, strict=True)))


RULES: tuple[CrossRule, ...] = (
    CrossRule(
        "breaker",
        ("max_reset_timeout_s", "reset_timeout_s"),
        lambda cap, base: cap >= base,
        "{0} must not be smaller than {1}: the cap would shrink the timeout",
    ),
    CrossRule(
        "retry",
        ("backoff_max_s", "backoff_base_s"),
        lambda cap, base: cap >= base,
        "{0} must not be smaller than {1}",
    ),
    CrossRule(
        "weights",
        ("capability", "performance", "health"),
        lambda *weights: any(w != 0 for w in weights),
        "{0}, {1} and {2} must not all be 0: no model could be ranked",
    ),
    CrossRule(
        "context",
        ("default_num_ctx", "reply_reserve_min", "safety_margin_tokens"),
        lambda window, reserve, margin: window > reserve + margin,
        "{0} must be larger than {1} plus {2}: no room would be left for the prompt",
    ),
    CrossRule(
        "embedded",
        ("large_ctx", "small_ctx"),
        lambda large, small: large >= small,
        "{0} must not be smaller than {1}",
    ),
)
BY_GROUP: dict[str, CrossRule] = {rule.group: rule for rule in RULES}
assert len(BY_GROUP) == len(RULES), "one cross-field rule per group: a group path names its rule"


def fields_of(path: str) -> tuple[str, ...]:
    """The fields a problem reported at `path` involves: a rule's fields for a group path, else ()."""
    rule = BY_GROUP.get(path)
    return rule.paths if rule is not None else ()


def enforce(group: str, model: object) -> None:
    """Raise ValueError with the rule's message when the validated group `model` breaks its rule."""
    rule = BY_GROUP[group]
    message = rule.broken_by([getattr(model, name) for name in rule.fields])
    if message is not None:
        raise ValueError(message)


def broken(data: Mapping[str, object], defaults: Callable[[str, str], object]) -> list[tuple[str, str]]:
    """(group, message) of every rule raw settings `data` breaks where all its values are numbers.

    Runs whatever else is wrong with `data`, so a bad field elsewhere does not hide a broken rule.
    A value missing from `data` is taken from `defaults(group, field)`; a rule with a value that
    is not a finite number is skipped (that field has its own problem).
    """
    found: list[tuple[str, str]] = []
    for rule in RULES:
        group = data.get(rule.group, {})
        if not isinstance(group, Mapping):
            continue
        values = [group.get(name, defaults(rule.group, name)) for name in rule.fields]
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(numbers) != len(values) or not all(math.isfinite(v) for v in numbers):
            continue
        message = rule.broken_by(numbers)
        if message is not None:
            found.append((rule.group, message))
    return found
