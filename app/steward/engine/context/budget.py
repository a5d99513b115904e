"""The token budget of one model for one request: what the prompt may use of the window.

Budget = window − reply reserve − safety margin. The reply reserve is the request's `max_tokens`
when given, else `max(reserve_min, fraction × window)` (never more than half the window, so tiny
windows stay usable). Fitting acts once the conversation passes `act_threshold × budget`, which
leaves headroom for estimation error and for the next turn.
"""

from __future__ import annotations

from dataclasses import dataclass

from steward.engine.settings import ContextSettings
from steward.engine.types import GenerationParams


@dataclass(frozen=True)
class Budget:
    """The prompt-token allowance of one model window."""

    window: int
    reply_reserve: int
    safety_margin: int
    act_threshold: float

    @property
    def limit(self) -> int:
        """The most prompt tokens that may be sent."""
        return max(0, self.window - self.reply_reserve - self.safety_margin)

    @property
    def trigger(self) -> int:
        """Fitting acts above this many tokens, and trims down to it."""
        return int(self.limit * self.act_threshold)

    def explain(self) -> str:
        """The arithmetic, for error messages ("3,520 = 4,096 window − 512 reply − 64 margin")."""
        return (
            f"budget {self.limit:,} = {self.window:,} window − {self.reply_reserve:,} reply reserve"
            f" − {self.safety_margin:,} margin"
        )


def reply_reserve(window: int, params: GenerationParams, settings: ContextSettings) -> int:
    """Tokens kept free for the answer."""
    if params.max_tokens is not None:
        return max(0, params.max_tokens)
    wanted = max(settings.reply_reserve_min, int(window * settings.reply_reserve_fraction))
    return min(wanted, window // 2)


def budget_for(window: int, params: GenerationParams, settings: ContextSettings) -> Budget:
    """The budget of `window` for a request with `params`."""
    return Budget(
        window=window,
        reply_reserve=reply_reserve(window, params, settings),
        safety_margin=max(0, settings.safety_margin_tokens),
        act_threshold=min(1.0, max(0.05, settings.act_threshold)),
    )
