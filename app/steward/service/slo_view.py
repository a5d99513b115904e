"""One model's objectives as the SLO view shows them: each objective's compliance, error budget left
and burn rates, whether an alert burns, and the model's usual level with any drift from it.

The parts are copied from the live watch on the event loop (`ViewParts`, cheap) and evaluated on a
worker thread (`build_view`: sorting up to 50,000 samples per objective), so the desktop app can
ask every few seconds without holding up the loop."""

from __future__ import annotations

import time
from dataclasses import dataclass

from steward.lab.drift import WARMUP, DriftAlarm, PageHinkley
from steward.lab.slo import PERIOD_S, Objectives, ObjectiveStatus, SloSample, evaluate


@dataclass(frozen=True)
class UsualLevel:
    """A model's usual first-token time or speed (the drift baseline), or how far it is learnt."""

    metric: str
    value: float | None
    learning: int | None
    """Samples gathered towards it while it is being learnt (of `needed`)."""
    needed: int = WARMUP

    @classmethod
    def of(cls, detector: PageHinkley) -> UsualLevel:
        return cls(detector.metric, detector.baseline, detector.learning, detector.warmup)

    def describe(self) -> str:
        """ "210 ms to first token" / "45 tokens/s" / "learning (12 of 30 answers)"."""
        if self.value is None:
            return f"learning ({self.learning or 0} of {self.needed} answers)"
        if self.metric == "ttft":
            shown = f"{self.value * 1000:.0f} ms" if self.value < 1 else f"{self.value:.1f} s"
            return f"{shown} to first token"
        return f"{self.value:.0f} tokens/s"


@dataclass(frozen=True)
class ModelSloView:
    key: str
    objectives: tuple[ObjectiveStatus, ...]
    drift: DriftAlarm | None
    """The latest confirmed drift (None: as usual)."""
    usual: tuple[UsualLevel, ...]
    samples: int
    """User samples within the SLO period."""

    @property
    def alert(self) -> str | None:
        """ "fast" if any objective burns fast, else "slow" if any burns slowly, else None."""
        alerts = {o.alert for o in self.objectives}
        return "fast" if "fast" in alerts else ("slow" if "slow" in alerts else None)

    def usual_text(self) -> str:
        """ "usually 210 ms to first token, 45 tokens/s" / "learning its usual level (12 of 30 answers)"."""
        known = [level.describe() for level in self.usual if level.value is not None]
        learning = [level for level in self.usual if level.value is None]
        parts = ["usually " + ", ".join(known)] if known else []
        if learning:
            done = max(level.learning or 0 for level in learning)
            parts.append(f"learning its usual level ({done} of {learning[0].needed} answers)")
        return "; ".join(parts)


@dataclass(frozen=True)
class ViewParts:
    """What `build_view` needs, copied from the live watch."""

    key: str
    samples: tuple[SloSample, ...]
    objectives: Objectives
    drift: DriftAlarm | None
    usual: tuple[UsualLevel, ...]


def build_view(parts: ViewParts, now: float, period_s: float = PERIOD_S) -> ModelSloView:
    statuses = evaluate(parts.samples, parts.objectives, now, period_s)
    in_period = sum(1 for s in parts.samples if s.ts > now - period_s)
    return ModelSloView(parts.key, tuple(statuses), parts.drift, parts.usual, in_period)


# --- in words (the Lab's Objectives tab and `steward slo`) ---------------------------------

OBJECTIVE_NAMES = {"success": "answers", "ttft": "first token in time", "speed": "fast enough"}
PERIOD_DAYS = round(PERIOD_S / 86400)


def budget_text(status: ObjectiveStatus) -> str:
    """ "73% left" / "overspent (2.2× the budget)" / "no traffic"."""
    if status.budget_left is None:
        return "no traffic" if status.total == 0 else "no budget (target 100%)"
    if status.budget_left < 0:
        return f"overspent ({1 - status.budget_left:.1f}× the budget)"
    return f"{status.budget_left:.0%} left"


def burn_text(status: ObjectiveStatus) -> str:
    """ "14× over 5 min, 16× over 1 h — fast alert" / "—" (too few requests to say)."""
    shown = []
    for window in ("5m", "1h"):
        rate = status.burn.get(window)
        if rate is not None:
            shown.append(f"{rate:.1f}× over {window.replace('m', ' min').replace('h', ' h')}")
    text = ", ".join(shown) or "—"
    return f"{text} — {status.alert} alert" if status.alert else text


def now_text(status: ObjectiveStatus) -> str:
    """ "97.0% (99%)"."""
    shown = f"{status.compliance:.1%}" if status.compliance is not None else "—"
    return f"{shown} ({status.target:.0%})"


def usual_text(view: ModelSloView) -> str:
    if view.drift is not None:
        when = time.strftime("%a %H:%M", time.localtime(view.drift.since_ts))
        return view.drift.describe(when)
    return view.usual_text()


def view_lines(view: ModelSloView) -> list[str]:
    """A model's view as text lines (`steward slo`)."""
    alert = f"  [{view.alert} alert]" if view.alert else ""
    lines = [f"{view.key}: {view.samples} requests in {PERIOD_DAYS} days; {usual_text(view)}{alert}"]
    for status in view.objectives:
        name = OBJECTIVE_NAMES.get(status.objective, status.objective)
        lines.append(f"  {name:<20} {now_text(status):<16} {budget_text(status):<30} {burn_text(status)}")
    return lines


def view_json(view: ModelSloView) -> dict[str, object]:
    """A model's view as plain data (`steward slo --json`)."""
    return {
        "model": view.key,
        "samples": view.samples,
        "alert": view.alert,
        "usual": {level.metric: level.value for level in view.usual},
        "drift": None
        if view.drift is None
        else {"metric": view.drift.metric, "change": view.drift.change, "since_ts": view.drift.since_ts},
        "objectives": [
            {
                "objective": s.objective,
                "target": s.target,
                "good": s.good,
                "total": s.total,
                "budget_left": s.budget_left,
                "burn": s.burn,
                "alert": s.alert,
            }
            for s in view.objectives
        ],
    }
