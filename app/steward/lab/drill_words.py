"""A drill scenario in plain words: the verdict ("if small hangs, you wait 2.1 s, then large
answers") and, where the setup did not hold up well, what to change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from steward.backends.faults import DESCRIPTIONS, FaultKind
from steward.engine.settings import EngineSettings

if TYPE_CHECKING:
    from steward.lab.drill import ScenarioResult

SLOW_SWITCH_S = 5.0
"""A switch to another model that takes longer than this earns advice to shorten the wait."""
SLOW_RECOVERY_S = 30.0
TRICKLE_TOO_SLOW_FACTOR = 3.0


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value >= 0.1 else f"{value * 1000:.0f} ms"


def verdict_for(result: ScenarioResult, kind: FaultKind) -> str:
    what = f"If {result.target} {DESCRIPTIONS[kind]}"
    if not result.answered:
        why = f" ({result.failures[-1]})" if result.failures else ""
        return f"{what}, nothing answers: the request fails after {_seconds(result.total_s)}{why}."
    if result.answered_by == result.target:
        normal = f" instead of {_seconds(result.baseline_s)}" if result.baseline_s is not None else ""
        return f"{what}, it still answers itself, in {_seconds(result.total_s)}{normal}."
    added = result.added_s
    extra = (
        f" ({'+' if added >= 0 else '−'}{_seconds(abs(added))} over a normal answer)"
        if added is not None
        else ""
    )
    return f"{what}, you wait {_seconds(result.total_s)}, then {result.answered_by} answers{extra}."


def advice_for(
    result: ScenarioResult, kind: FaultKind, settings: EngineSettings, chain: list[str]
) -> list[str]:
    advice: list[str] = []
    t = settings.timeouts
    if not result.answered:
        others = [key for key in chain if key != result.target]
        if not others and not settings.routing.fallback_to_any:
            advice.append("add a fallback chain (Settings → Routing) so another model takes over")
        elif not others:
            advice.append("no other model could answer: add a second server or model to the fallback chain")
        else:
            advice.append("every model in the chain failed: check that the fallbacks are up (Servers page)")
    elif result.answered_by != result.target and result.total_s > SLOW_SWITCH_S:
        if kind is FaultKind.HANG:
            advice.append(
                f"lower the first-token timeout (now {t.first_token_s:g} s) or use the hedged strategy, "
                "so a hung model is given up sooner"
            )
        else:
            advice.append(f"the switch took {_seconds(result.total_s)}: check the retry and backoff settings")
    if (
        kind is FaultKind.TRICKLE
        and result.answered_by == result.target
        and result.baseline_s
        and result.total_s > TRICKLE_TOO_SLOW_FACTOR * result.baseline_s
    ):
        advice.append(
            f"Steward waits for a slow but live stream; lower the stall timeout (now {t.stall_s:g} s) "
            f"or the attempt limit (now {t.total_s:g} s) if {_seconds(result.total_s)} is too slow"
        )
    if kind is FaultKind.LOOP and result.answered_by == result.target:
        advice.append("a looping answer was accepted: turn loop detection on (Settings → Degenerate output)")
    if result.recover_s is None:
        advice.append(f"{result.target} did not answer again after the fault was lifted: look at its server")
    elif result.recover_s > SLOW_RECOVERY_S:
        advice.append(
            f"{result.target} was back only after {_seconds(result.recover_s)}: a shorter breaker reset "
            f"timeout (now {settings.breaker.reset_timeout_s:g} s) brings it back sooner"
        )
    return advice
