"""Budget arithmetic: window − reply reserve − safety margin, and the act threshold."""

from __future__ import annotations

from steward.engine.context.budget import budget_for
from steward.engine.settings import ContextSettings
from steward.engine.types import GenerationParams

DEFAULTS = ContextSettings()  # reserve 25 % (min 256), margin 32, act at 80 %


def test_default_reserve_is_a_quarter_of_a_large_window() -> None:
    budget = budget_for(4096, GenerationParams(), DEFAULTS)
    assert (budget.reply_reserve, budget.safety_margin) == (1024, 32)
    assert budget.limit == 4096 - 1024 - 32 == 3040
    assert budget.trigger == int(3040 * 0.8) == 2432


def test_reserve_minimum_applies_to_small_windows() -> None:
    budget = budget_for(512, GenerationParams(), DEFAULTS)
    assert budget.reply_reserve == 256
    assert budget.limit == 224 and budget.trigger == 179


def test_reserve_never_exceeds_half_a_tiny_window() -> None:
    budget = budget_for(300, GenerationParams(), DEFAULTS)
    assert budget.reply_reserve == 150 and budget.limit == 118


def test_max_tokens_is_the_reserve_when_given() -> None:
    budget = budget_for(2048, GenerationParams(max_tokens=100), DEFAULTS)
    assert budget.reply_reserve == 100 and budget.limit == 1916


def test_settings_change_the_numbers() -> None:
    settings = ContextSettings(
        reply_reserve_fraction=0.5, reply_reserve_min=10, safety_margin_tokens=0, act_threshold=1.0
    )
    budget = budget_for(1000, GenerationParams(), settings)
    assert (budget.limit, budget.trigger) == (500, 500)
    assert "500 = 1,000 window − 500 reply reserve − 0 margin" in budget.explain()


def test_max_tokens_filling_the_window_leaves_no_budget() -> None:
    assert budget_for(512, GenerationParams(max_tokens=600), DEFAULTS).limit == 0
