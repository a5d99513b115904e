"""The soak's numbers: one record per request, summed into the printed table and its JSON twin."""

from __future__ import annotations

import json
import math
import subprocess
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.chaos.faults import FaultWindow

RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Outcome:
    """What one request came to."""

    started: float
    elapsed_s: float
    fault: str
    """The fault active on the primary when the request started ("none" in a calm phase)."""
    answered_by: str | None
    """"primary" or "fallback" for an answer, None for a failure."""
    failed_kinds: tuple[str, ...] = ()
    detail: str = ""
    attempt_failures: tuple[tuple[str, str, str], ...] = ()
    """(server, failure kind, detail) of every failed attempt, retries included."""
    poisoned: bool = False
    """The answer carried text only the broken server sends (a loop phrase, a partial before an error)."""
    hung: bool = False
    """The harness's own guard had to stop the request: the engine never ended it."""
    after: tuple[str, float] = ("start", 0.0)
    """The fault that cleared last before the request started, and how many seconds before."""


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 3)


DEADLINE_GRACE_S = 0.5
"""A request the engine ends AT its deadline (its own deadline failure) is on time; the grace covers
delivering that last event on a loaded machine. Anything later ran past its deadline."""


@dataclass
class Tally:
    deadline_s: float
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def progress(self, total: int) -> str:
        done = len(self.outcomes)
        ok = sum(1 for o in self.outcomes if o.answered_by is not None)
        return f"{done}/{total} requests, {100 * ok / max(1, done):.2f} % answered"

    def summary(
        self, windows: list[FaultWindow], leaks: dict[str, object], wall_s: float, config: dict[str, object]
    ) -> dict[str, object]:
        done = self.outcomes
        answered = [o for o in done if o.answered_by is not None]
        failed = [o for o in done if o.answered_by is None]
        elapsed = [o.elapsed_s for o in done]
        by_fault: dict[str, dict[str, object]] = {}
        requests_in: Counter[str] = Counter(o.fault for o in done)
        attempt_kinds: dict[str, Counter[str]] = defaultdict(Counter)
        examples: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for o in done:
            for server, kind, detail in o.attempt_failures:
                attempt_kinds[o.fault][f"{server}:{kind}"] += 1
                seen = examples[o.fault][f"{server}:{kind}"]
                if len(seen) < 3 and detail[:160] not in seen:
                    seen.append(detail[:160])
        for kind in sorted({w.kind for w in windows} | set(requests_in)):
            mine = [w for w in windows if w.kind == kind]
            recoveries = [w.recovery_s for w in mine if w.recovery_s is not None]
            row: dict[str, object] = {
                "times": len(mine),
                "requests": requests_in[kind],
                "answered": sum(1 for o in done if o.fault == kind and o.answered_by is not None),
                "poisoned": sum(1 for o in done if o.fault == kind and o.poisoned),
                "attempt_failures": dict(attempt_kinds[kind].most_common()),
                "attempt_failure_examples": dict(examples[kind]),
                "recovery_p50_s": _pct(recoveries, 50),
                "recovery_max_s": max(recoveries, default=None),
                "not_recovered_before_next_fault": sum(1 for w in mine if w.censored),
            }
            restarts = [w.restart_s for w in mine if w.restart_s is not None]
            if restarts:
                row["restart_p50_s"] = _pct(restarts, 50)
                row["restart_max_s"] = round(max(restarts), 3)
            by_fault[kind] = row
        recoveries = [w.recovery_s for w in windows if w.recovery_s is not None]
        calm = [
            f"{o.after[1]:.2f} s after {o.after[0]} cleared: {server}:{kind} {detail[:120]}"
            for o in done
            if o.fault == "none"
            for server, kind, detail in o.attempt_failures
        ]
        return {
            "requests": len(done),
            "answered": len(answered),
            "answered_pct": round(100 * len(answered) / max(1, len(done)), 3),
            "answered_clean_pct": round(
                100 * sum(1 for o in answered if not o.poisoned) / max(1, len(done)), 3
            ),
            "answered_by_primary": sum(1 for o in answered if o.answered_by == "primary"),
            "answered_by_fallback": sum(1 for o in answered if o.answered_by == "fallback"),
            "failed": len(failed),
            "failures_by_kind": dict(Counter(k for o in failed for k in (o.failed_kinds or ("no_kind",)))),
            "failure_details": dict(Counter(o.detail[:200] for o in failed).most_common(10)),
            "deadline_s": self.deadline_s,
            "deadline_grace_s": DEADLINE_GRACE_S,
            "past_deadline": sum(
                1 for o in done if o.elapsed_s > self.deadline_s + DEADLINE_GRACE_S or o.hung
            ),
            "ended_by_the_deadline": sum(1 for o in failed if "deadline" in o.detail),
            "hung": sum(1 for o in done if o.hung),
            "poisoned_answers": sum(1 for o in answered if o.poisoned),
            "latency_p50_s": _pct(elapsed, 50),
            "latency_p99_s": _pct(elapsed, 99),
            "latency_max_s": round(max(elapsed, default=0.0), 3),
            "faults": len(windows),
            "recovery_p50_s": _pct(recoveries, 50),
            "recovery_max_s": round(max(recoveries), 3) if recoveries else None,
            "not_recovered_before_next_fault": sum(1 for w in windows if w.censored),
            "by_fault": by_fault,
            "calm_attempt_failures": calm[:30],
            **leaks,
            "wall_s": round(wall_s, 1),
            "config": config,
            "fault_log": [asdict(w) for w in windows],
        }


def render(s: dict[str, object]) -> str:
    """The table `make chaos` prints."""
    lines = [
        "",
        "=" * 100,
        f"[chaos] soak: {s['requests']} requests in {s['wall_s']} s, {s['faults']} faults on the primary",
        "=" * 100,
        f"  answered                {s['answered']} ({s['answered_pct']} %)  "
        f"[primary {s['answered_by_primary']}, fallback {s['answered_by_fallback']}]",
        f"  failed                  {s['failed']}  by kind {s['failures_by_kind']}",
        f"  past deadline ({s['deadline_s']:g} s)   {s['past_deadline']}  (grace {s['deadline_grace_s']} s; "
        f"hung, stopped by the harness: {s['hung']}; failed by the engine at its deadline: "
        f"{s['ended_by_the_deadline']})",
        f"  latency                 p50 {s['latency_p50_s']} s, p99 {s['latency_p99_s']} s, max {s['latency_max_s']} s",
        f"  poisoned answers        {s['poisoned_answers']}  (loop or partial-before-error text in a Completed; "
        f"clean answers {s['answered_clean_pct']} %)",
        f"  recovery after a clear  p50 {s['recovery_p50_s']} s, max {s['recovery_max_s']} s "
        f"(not recovered before the next fault: {s['not_recovered_before_next_fault']})",
        f"  leaked sockets          {s['leaked_sockets']}  (proxy links open: {s['proxy_active_connections']})",
        f"  leaked processes        {s['leaked_processes']}  (primary restarts: {s['primary_restarts']})",
        f"  leaked tasks            {s['leaked_tasks']}",
        "",
        f"  {'fault':<20}{'times':>6}{'reqs':>7}{'answered':>9}{'poisoned':>9}{'recov p50':>10}{'recov max':>10}"
        "  attempt failures (server:kind count)",
    ]
    by_fault = s["by_fault"]
    assert isinstance(by_fault, dict)
    for kind, row in by_fault.items():
        failures = ", ".join(f"{k} {v}" for k, v in row["attempt_failures"].items()) or "-"
        extra = (
            f"  [restart p50 {row['restart_p50_s']} s, max {row['restart_max_s']} s]"
            if "restart_p50_s" in row
            else ""
        )
        lines.append(
            f"  {kind:<20}{row['times']:>6}{row['requests']:>7}{row['answered']:>9}{row['poisoned']:>9}"
            f"{_fmt(row['recovery_p50_s']):>10}{_fmt(row['recovery_max_s']):>10}  {failures}{extra}"
        )
    calm = s["calm_attempt_failures"]
    assert isinstance(calm, list)
    if calm:
        lines.append("")
        lines.append("  attempt failures in calm phases (the aftermath of the fault before):")
        lines += [f"    {line}" for line in calm[:10]]
    if s["failure_details"]:
        lines.append("")
        lines.append("  failed requests, by detail:")
        details = s["failure_details"]
        assert isinstance(details, dict)
        lines += [f"    {count} x {detail}" for detail, count in details.items()]
    lines.append("=" * 100)
    return "\n".join(lines)


def _fmt(value: object) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def write(s: dict[str, object], name: str = "soak") -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(s, indent=2, default=str) + "\n")
    return path


def code_version() -> dict[str, object]:
    """Which code ran: HEAD and the app files that differed from it (others edit the tree concurrently)."""
    root = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "app/steward").splitlines()
    return {"head": git("rev-parse", "--short", "HEAD"), "app_changes_not_committed": changed}
