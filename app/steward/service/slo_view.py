"""One model's objectives as the SLO view shows them: each objective's compliance, error budget left
and burn rates, whether an alert burns, and the model's usual level with any drift from it.

The parts are copied from the live watch on the event loop (`ViewParts`, cheap) and evaluated on a
worker thread (`build_view`: sorting up to 50,000 samples per objective), so the desktop app can
ask every few seconds without holding up the loop."""

from __future__ import annotations

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
        """ "0.21 s to first token" / "45 tokens/s" / "learning (12 of 30 answers)"."""
        if self.value is None:
            return f"learning ({self.learning or 0} of {self.needed} answers)"
        if self.metric == "ttft":
            return f"{self.value:.2f} s to first token"
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
        """ "usually 0.21 s to first token, 45 tokens/s"."""
        return "usually " + ", ".join(level.describe() for level in self.usual)


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
