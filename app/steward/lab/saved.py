"""Saved Lab results read back: a drill report or a comparison from the JSON its `save` wrote, so
the Lab page can reopen an earlier run exactly as it showed it. A file that is not such a result
(cut short, edited, another program's) raises `UnreadableResult` with the reason, never anything
else."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from steward.lab.compare import ComparisonResult, Run, Side
from steward.lab.drill import DrillReport, ScenarioResult
from steward.lab.stats import Interval, MetricComparison, RateComparison, SampleSummary

MAX_RESULT_BYTES = 16 << 20

LabResult = DrillReport | ComparisonResult


class UnreadableResult(ValueError):
    """The file is not a Lab result this version can read (the message says why)."""


def kind_of(path: Path) -> str:
    """ "drill" or "compare" by the file's name (as `save` names them), else "unknown"."""
    for kind in ("drill", "compare"):
        if path.name.startswith(f"{kind}-"):
            return kind
    return "unknown"


def load_result(path: Path) -> LabResult:
    """The drill report or comparison kept in `path`; raises UnreadableResult."""
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            raise UnreadableResult("larger than any Lab result")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UnreadableResult(str(exc)) from None
    try:
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        if "scenarios" in data:
            return drill_from_json(data)
        if "runs" in data and "a" in data:
            return comparison_from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UnreadableResult(f"not a complete Lab result ({type(exc).__name__}: {exc})") from None
    raise UnreadableResult("neither a drill report nor a comparison")


def drill_from_json(data: Mapping[str, Any]) -> DrillReport:
    scenarios = []
    for item in data["scenarios"]:
        fields = {k: v for k, v in item.items() if k != "added_s"}
        scenarios.append(ScenarioResult(**fields))
    return DrillReport(
        targets=list(data["targets"]),
        faults=list(data["faults"]),
        baselines=dict(data.get("baselines", {})),
        scenarios=scenarios,
        started_at=float(data.get("started_at", 0.0)),
        finished_at=float(data.get("finished_at", 0.0)),
        settings=dict(data.get("settings", {})),
    )


def _interval(data: Mapping[str, Any] | None) -> Interval | None:
    return None if data is None else Interval(float(data["low"]), float(data["high"]))


def _metric(data: Mapping[str, Any]) -> MetricComparison:
    return MetricComparison(
        metric=str(data["metric"]),
        lower_is_better=bool(data["lower_is_better"]),
        a=SampleSummary(**data["a"]),
        b=SampleSummary(**data["b"]),
        median_change=float(data["median_change"]),
        median_ci=_interval(data.get("median_ci")),
        p95_change=float(data["p95_change"]),
        p95_ci=_interval(data.get("p95_ci")),
        p_value=None if data.get("p_value") is None else float(data["p_value"]),
    )


def _rates(data: Mapping[str, Any] | None) -> RateComparison | None:
    if data is None:
        return None
    ci = data["difference_ci"]
    interval = Interval(float(ci["low"]), float(ci["high"]))
    return RateComparison(
        a_successes=int(data["a_successes"]),
        a_n=int(data["a_n"]),
        b_successes=int(data["b_successes"]),
        b_n=int(data["b_n"]),
        difference=float(data["difference"]),
        difference_ci=interval,
        p_value=float(data["p_value"]),
    )


def comparison_from_json(data: Mapping[str, Any]) -> ComparisonResult:
    return ComparisonResult(
        a=Side(**data["a"]),
        b=Side(**data["b"]),
        prompts=tuple(str(p) for p in data["prompts"]),
        runs=[Run(**run) for run in data["runs"]],
        started_at=float(data.get("started_at", 0.0)),
        finished_at=float(data.get("finished_at", 0.0)),
        metrics=[_metric(m) for m in data["metrics"]],
        success=_rates(data.get("success")),
        verdict=[str(line) for line in data["verdict"]],
    )
