"""A/B comparison: the same prompts to two models (or two settings of one model), interleaved.

Each run is one request through the application service, tagged `source="lab"`, pinned to its
model with fallbacks OFF — a comparison measures the model, not the engine's rescue of it.
Runs go one at a time (two at once would compete for the same cores and bias both), and the
order alternates (A then B, then B then A) so warm caches and thermal drift favour neither.

The result (`ComparisonResult`) holds every run, the statistics of `steward.lab.stats` for time
to first token, total time, tokens/s and quality, the success rates, and a verdict in words.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from steward.engine.events import Completed, EngineEvent, RequestFailed
from steward.engine.quality import score_answer
from steward.engine.request import ChatRequest
from steward.lab.result_file import write_result
from steward.lab.stats import MetricComparison, RateComparison, compare_metric, compare_rates
from steward.lab.verdict import verdict_lines

DEFAULT_PROMPTS: tuple[str, ...] = (
    "What is the capital of France? Answer in one sentence.",
    "Write a Python function that returns the square of a number.",
    "Explain in two sentences why the sky is blue.",
    "List three fruits as a JSON array of strings.",
    "Summarize in one sentence: The meeting moved from Monday to Wednesday because the room was booked.",
)


class Asker(Protocol):
    """What a comparison needs of the application service."""

    def build_request(
        self,
        messages: Sequence[tuple[str, str]],
        *,
        model: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        source: str = "chat",
        fallback: bool = True,
    ) -> ChatRequest: ...

    def ask(self, request: ChatRequest) -> AsyncIterator[EngineEvent]: ...


@dataclass(frozen=True)
class Side:
    """One arm of the comparison: a model key and, optionally, its own temperature."""

    label: str
    model: str
    temperature: float | None = None

    def describe(self) -> str:
        setting = f" (temperature {self.temperature:g})" if self.temperature is not None else ""
        return f"{self.label}: {self.model}{setting}"


@dataclass(frozen=True)
class Run:
    """One request of the comparison and what came of it."""

    side: str
    prompt_index: int
    round: int
    ok: bool
    ttft_s: float | None = None
    total_s: float | None = None
    tokens_per_s: float | None = None
    quality: float | None = None
    failure: str = ""


@dataclass
class ComparisonResult:
    a: Side
    b: Side
    prompts: tuple[str, ...]
    runs: list[Run] = field(default_factory=list)
    started_at: float = 0.0
    finished_at: float = 0.0
    metrics: list[MetricComparison] = field(default_factory=list)
    success: RateComparison | None = None
    verdict: list[str] = field(default_factory=list)

    def values(self, side: str, name: str) -> list[float]:
        """The successful runs' values of one measure ("ttft_s", "total_s", "tokens_per_s", "quality")."""
        picked = (getattr(r, name) for r in self.runs if r.side == side and r.ok)
        return [float(v) for v in picked if v is not None]

    def analyse(self) -> None:
        """Compute the statistics and the verdict from `runs`."""
        measures = (("ttft_s", True), ("total_s", True), ("tokens_per_s", False), ("quality", False))
        self.metrics = [
            compare_metric(
                name, self.values("A", name), self.values("B", name), lower_is_better=lower, seed=i
            )
            for i, (name, lower) in enumerate(measures)
        ]
        counts = {side: [r.ok for r in self.runs if r.side == side] for side in ("A", "B")}
        self.success = compare_rates(sum(counts["A"]), len(counts["A"]), sum(counts["B"]), len(counts["B"]))
        self.verdict = verdict_lines(self)

    def to_json(self) -> dict[str, object]:
        return {
            "a": asdict(self.a),
            "b": asdict(self.b),
            "prompts": list(self.prompts),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "runs": [asdict(r) for r in self.runs],
            "metrics": [asdict(m) for m in self.metrics],
            "success": asdict(self.success) if self.success else None,
            "verdict": self.verdict,
        }

    def save(self, folder: Path) -> Path:
        """Keep the result as JSON in `folder` (the Lab's history); returns the file."""
        text = json.dumps(self.to_json(), indent=1, allow_nan=True) + "\n"
        return write_result(folder, "compare", self.started_at, text)


Progress = Callable[[int, int, Run], None]


async def run_comparison(
    service: Asker,
    a: Side,
    b: Side,
    prompts: Sequence[str] = DEFAULT_PROMPTS,
    runs: int = 5,
    max_tokens: int = 64,
    on_progress: Progress | None = None,
    clock: Callable[[], float] = time.time,
) -> ComparisonResult:
    """Ask every prompt `runs` times of A and of B, interleaved; then analyse."""
    if runs < 1 or not prompts:
        raise ValueError("a comparison needs at least one prompt and one run")
    result = ComparisonResult(a, b, tuple(prompts), started_at=clock())
    total, done = 2 * runs * len(prompts), 0
    for round_ in range(runs):
        for index, prompt in enumerate(prompts):
            order = (a, b) if (round_ + index) % 2 == 0 else (b, a)
            for side in order:
                run = await _one_run(service, side, prompt, index, round_, max_tokens)
                result.runs.append(run)
                done += 1
                if on_progress is not None:
                    on_progress(done, total, run)
    result.finished_at = clock()
    result.analyse()
    return result


async def _one_run(service: Asker, side: Side, prompt: str, index: int, round_: int, max_tokens: int) -> Run:
    request = service.build_request(
        [("user", prompt)],
        model=side.model,
        max_tokens=max_tokens,
        temperature=side.temperature,
        source="lab",
        fallback=False,
    )
    last: EngineEvent | None = None
    async for event in service.ask(request):
        last = event
    if isinstance(last, Completed):
        tokens = last.usage.completion_tokens if last.usage else None
        generating = last.total_s - (last.ttft_s or 0.0)
        speed = tokens / generating if tokens and generating > 0 else None
        quality = score_answer(prompt, last.text, last.finish_reason).score
        return Run(side.label, index, round_, True, last.ttft_s, last.total_s, speed, quality)
    failure = last.detail if isinstance(last, RequestFailed) else "no answer"
    return Run(side.label, index, round_, False, failure=failure)
