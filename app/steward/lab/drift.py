"""Drift: a sustained change of a model's time to first token, speed or success against its OWN
baseline — "slower than usual since 14:02 (+38%)".

The Page–Hinkley test (Page 1954; Hinkley 1971), one-sided, on log values (latencies are
multiplicative: a model 40% slower is +0.34 in log whatever its speed). After a warm-up that sets
the baseline (the median of the first `warmup` samples), each sample adds its deviation from the
baseline minus an allowance δ to a cumulative sum; the test alarms when the sum has risen more than
λ above its lowest point — a shift that persists, not a spike. δ is ¾ of the smallest change worth
telling (`min_effect`, 25% by default, in log units), so noise and changes well below it drive the
sum down; half (the textbook choice) let a +10% change random-walk into false alarms here.
Each sample's deviation is capped at `CAP_SHARE` (2) times the smallest change worth telling
before it is added (a Huber-style limit): on a real server an answer that shares it with other
requests runs at half speed or less, and two such answers (9.7 and 13 tokens/s against a usual 85)
added 3.5 to the sum — past λ on their own — in the 10-minute normal-traffic run of `make chaos`.
Capped, one answer moves the sum at most 2·ln 1.25 − δ ≈ 0.28, so only a change that lasts (at
least 11 samples, and `min_run` 12 are needed anyway) can cross λ; how far the samples moved is
still judged on their real values.
On an alarm the change is checked once more as an effect size: at least `min_run` samples since the
change point (the sample where the sum was lowest), whose lower median differs from the baseline by
at least `min_effect` — and so does the lower median of the latest `min_run // 2` (most of them
shifted: a spike that is over restarts the test). After a confirmed alarm the detector learns the
new level as the new usual, so a model that stays slow is reported once.

Success is tracked the same way on the failure share of consecutive blocks of `block` attempts
(Laplace-smoothed, so a block without failures is not log 0), telling only a 4× rise.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

WARMUP = 30
MIN_RUN = 12  # samples since the change point before a shift is believed (a spike is shorter)
MIN_EFFECT = 0.25
DELTA_SHARE = 0.75  # δ as a share of the smallest change worth telling (in log units)
THRESHOLD = 3.0  # λ in log units: ~11 samples of a +56% shift or more, ~13 of a +40% one
SPEED_THRESHOLD = 4.0
"""λ for tokens/s: an answer's speed halves whenever it shares the server with another (llama-server
splits its compute between slots), so speed spreads wider than first-token time in normal use: in
the normal-traffic chaos run its statistic peaked at 0.9 × 3 (capped), first-token time at 0.6 × 3.
A halved speed still needs only ~15 answers."""
CAP_SHARE = 2.0  # a sample's deviation counts at most this many times the smallest change worth telling


@dataclass(frozen=True)
class DriftAlarm:
    """A sustained change: which way, how much, since when (the change point's timestamp)."""

    metric: str
    since_ts: float
    change: float
    """Relative change of the latest samples' level against the baseline (+0.38 = 38% higher)."""
    baseline: float
    current: float
    samples: int
    """Samples it took from the change point to the alarm."""

    def describe(self, clock_text: str) -> str:
        words = {
            "ttft": ("slower", "faster"),
            "tokens_per_s": ("faster", "slower"),
            "failures": ("failing more", "failing less"),
        }
        up, down = words.get(self.metric, ("higher", "lower"))
        way = up if self.change > 0 else down
        return f"{way} than usual since {clock_text} ({self.change:+.0%})"


@dataclass(frozen=True)
class DetectorState:
    """What one detector knows now, read-only (a status line, a soak's report)."""

    metric: str
    baseline: float | None
    """The usual level (None: still learning it in the warm-up)."""
    samples: int
    """Samples taken so far (warm-up included)."""
    statistic: float
    """How far the cumulative sum stands above its lowest point (log units; an alarm needs more than
    `threshold`)."""
    peak: float
    """The highest `statistic` ever reached, also when the effect-size check then kept quiet."""
    threshold: float


@dataclass
class PageHinkley:
    """One-sided Page–Hinkley on log values (`direction` +1: increases, −1: decreases)."""

    metric: str
    direction: int = 1
    warmup: int = WARMUP
    min_effect: float = MIN_EFFECT
    threshold: float = THRESHOLD
    min_run: int = MIN_RUN
    _warm: list[float] = field(default_factory=list)
    _baseline: float | None = None
    _sum: float = 0.0
    _low: float = 0.0
    _low_index: int = 0
    _since: list[tuple[float, float]] = field(default_factory=list)
    _samples: int = 0
    _peak: float = 0.0

    @property
    def delta(self) -> float:
        return math.log1p(self.min_effect) * DELTA_SHARE

    @property
    def baseline(self) -> float | None:
        """The usual level (the median of the warm-up), None while it is being learnt."""
        return None if self._baseline is None else math.exp(self._baseline)

    @property
    def learning(self) -> int | None:
        """Samples gathered towards the baseline while it is being learnt (of `warmup`), else None."""
        return len(self._warm) if self._baseline is None else None

    def state(self) -> DetectorState:
        return DetectorState(
            self.metric, self.baseline, self._samples, self._sum - self._low, self._peak, self.threshold
        )

    def update(self, ts: float, value: float) -> DriftAlarm | None:
        """Add one sample (> 0); a `DriftAlarm` when a sustained change is confirmed."""
        if value <= 0 or not math.isfinite(value):
            return None
        x = math.log(value)
        self._samples += 1
        if self._baseline is None:
            self._warm.append(x)
            if len(self._warm) >= self.warmup:
                self._rebase(statistics.median(self._warm))
                self._warm = []
            return None
        self._since.append((ts, x))
        cap = math.log1p(self.min_effect) * CAP_SHARE
        deviation = min(cap, max(-cap, self.direction * (x - self._baseline)))
        self._sum += deviation - self.delta
        if self._sum < self._low:
            # The change point can only move forward from here: forget what lies before it.
            self._low = self._sum
            del self._since[:-1]
            self._low_index = 1
        self._peak = max(self._peak, self._sum - self._low)
        changed = self._since[self._low_index :]
        if self._sum - self._low <= self.threshold or len(changed) < self.min_run:
            return None
        current = statistics.median_low(v for _, v in changed)
        recent = statistics.median_low(v for _, v in changed[-max(1, self.min_run // 2) :])  # still there now
        if not self._shifted(recent):
            self._rebase(self._baseline)  # a spike that is over: forget it, keep the baseline
            return None
        if not self._shifted(current):
            return None  # too small a change so far: keep watching
        # Said as it is now (the latest samples' level), since the first sample already shifted.
        since = next((ts for ts, v in changed if self._shifted(v)), changed[0][0])
        alarm = DriftAlarm(
            self.metric,
            since,
            math.expm1(recent - self._baseline),
            math.exp(self._baseline),
            math.exp(recent),
            len(changed),
        )
        self._rebase(None)  # learn the new level as the new usual before watching again
        return alarm

    def _shifted(self, level: float) -> bool:
        assert self._baseline is not None
        change = math.expm1(level - self._baseline)
        return abs(change) >= self.min_effect and (change > 0) == (self.direction > 0)

    def _rebase(self, baseline: float | None) -> None:
        self._baseline = baseline
        self._warm = []
        self._sum = self._low = 0.0
        self._low_index = 0
        self._since = []


@dataclass
class ModelDrift:
    """The drift detectors of one model: TTFT up, speed down, failure share up."""

    ttft: PageHinkley = field(default_factory=lambda: PageHinkley("ttft", +1))
    speed: PageHinkley = field(
        default_factory=lambda: PageHinkley("tokens_per_s", -1, threshold=SPEED_THRESHOLD)
    )
    failures: PageHinkley = field(
        default_factory=lambda: PageHinkley("failures", +1, warmup=5, min_effect=3.0, min_run=3)
    )
    block: int = 10
    _block_ok: int = 0
    _block_n: int = 0

    def states(self) -> tuple[DetectorState, ...]:
        """Each detector's state: TTFT, speed, failures."""
        return (self.ttft.state(), self.speed.state(), self.failures.state())

    def update(
        self, ts: float, ok: bool, ttft_s: float | None, tokens_per_s: float | None
    ) -> list[DriftAlarm]:
        alarms: list[DriftAlarm | None] = []
        if ok and ttft_s is not None:
            alarms.append(self.ttft.update(ts, ttft_s))
        if ok and tokens_per_s is not None:
            alarms.append(self.speed.update(ts, tokens_per_s))
        self._block_n += 1
        self._block_ok += ok
        if self._block_n >= self.block:
            share = (self._block_n - self._block_ok + 1) / (self._block_n + 2)  # Laplace: never 0 (log)
            alarms.append(self.failures.update(ts, share))
            self._block_n = self._block_ok = 0
        return [a for a in alarms if a is not None]


def replay(samples: Sequence[tuple[float, bool, float | None, float | None]]) -> list[DriftAlarm]:
    """Run a fresh `ModelDrift` over (ts, ok, ttft_s, tokens_per_s) samples; every alarm raised."""
    drift = ModelDrift()
    return [alarm for s in samples for alarm in drift.update(*s)]
