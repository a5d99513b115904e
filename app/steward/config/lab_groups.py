"""Settings of the Lab: service-level objectives per model (and a default for every model).

Each objective is the share of good events over the SLO period (see `steward.lab.slo`):
answered attempts, first tokens within `ttft_s`, and — when `min_tokens_per_s` is above 0 —
answers generated at least that fast. A model listed in `per_model` uses its own values for the
fields it sets and the defaults for the rest.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from steward.config.base import PositiveSeconds, SettingsGroup

Share = Annotated[float, Field(gt=0.0, lt=1.0)]
"""A target share strictly between 0 and 1 (1 would leave no error budget at all)."""
Rate = Annotated[float, Field(ge=0.0)]


class SloTargets(SettingsGroup):
    """One model's objectives; an unset field takes the default objective."""

    success_rate: Share | None = None
    ttft_s: PositiveSeconds | None = None
    ttft_share: Share | None = None
    min_tokens_per_s: Rate | None = None


class SloConfig(SettingsGroup):
    """Objectives every model is held to, and per-model exceptions ("server/model" keys)."""

    success_rate: Share = Field(default=0.99, description="Share of attempts that must answer.")
    ttft_s: PositiveSeconds = Field(default=5.0, description="A first token later than this is a slow one.")
    ttft_share: Share = Field(default=0.95, description="Share of answers whose first token must be in time.")
    min_tokens_per_s: Rate = Field(
        default=0.0, description="Answers slower than this are slow (0: no objective)."
    )
    per_model: dict[str, SloTargets] = Field(
        default_factory=dict, description="Objectives of particular models (the rest use the ones above)."
    )
