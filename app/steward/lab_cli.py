"""`steward compare A B`, `steward drill` and `steward slo`: the Lab, headless, through the
application service.

Progress goes to stderr, the verdict and the table to stdout (or one JSON object with `--json`);
every result is also kept as JSON in the Lab's folder (`<data dir>/lab/`), whose path is printed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from steward.backends.faults import FaultKind
from steward.lab.compare import Run, Side, run_comparison
from steward.lab.drill import ScenarioResult, choose_targets, run_drill
from steward.lab.prompts import LabInputError, read_prompts
from steward.lab.table import table
from steward.paths import data_dir
from steward.runtime import RuntimeOptions
from steward.service import StewardService
from steward.service.slo_view import view_json, view_lines


async def run_compare(
    a: str,
    b: str,
    *,
    prompts_file: Path | None,
    runs: int,
    max_tokens: int,
    temperature_a: float | None,
    temperature_b: float | None,
    as_json: bool,
    embedded: bool,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    options: RuntimeOptions | None = None,
    save_to: Path | None = None,
) -> int:
    try:
        prompts = read_prompts(prompts_file)
        if runs < 1:
            raise LabInputError("--runs must be at least 1")
    except LabInputError as exc:
        print(f"steward compare: {exc}", file=err)
        return 2
    opts = options or RuntimeOptions(embedded=embedded, health_monitor=False, recover_settings=False)
    service = await StewardService.start(opts)
    try:
        known = sorted(m.key for m in service.snapshot().models)
        if not _all_known("compare", [a, b], known, err):
            return 2
        side_a, side_b = Side("A", a, temperature_a), Side("B", b, temperature_b)

        def progress(done: int, total: int, run: Run) -> None:
            said = f"{run.total_s:.2f} s" if run.ok and run.total_s is not None else f"failed: {run.failure}"
            print(f"[{done}/{total}] {run.side} prompt {run.prompt_index + 1}: {said}", file=err, flush=True)

        result = await run_comparison(service, side_a, side_b, prompts, runs, max_tokens, progress)
    finally:
        await service.stop()
    path = result.save(save_to or data_dir() / "lab")
    if as_json:
        out.write(json.dumps({**result.to_json(), "saved_to": str(path)}, allow_nan=True) + "\n")
        return 0
    out.write(f"{side_a.describe()}\n{side_b.describe()}\n")
    out.write(f"{len(prompts)} prompts × {runs} runs each, interleaved, fallbacks off\n\n")
    out.write("\n".join(result.verdict) + "\n\n" + "\n".join(table(result)) + f"\n\nsaved to {path}\n")
    return 0


def _all_known(command: str, wanted: list[str], known: list[str], err: TextIO) -> bool:
    """True when every model in `wanted` (at least one) is known; else says which are not."""
    unknown = [key for key in wanted if key not in known]
    if wanted and not unknown:
        return True
    shown = ", ".join(known) or "none (is a server running?)"
    print(
        f"steward {command}: unknown model {', '.join(unknown) or '(none)'}; known models: {shown}", file=err
    )
    return False


async def run_drill_cli(
    *,
    models: list[str] | None,
    faults: list[str] | None,
    recover_limit_s: float,
    as_json: bool,
    embedded: bool,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    options: RuntimeOptions | None = None,
    save_to: Path | None = None,
) -> int:
    """`steward drill`: exit 0 when the setup kept answering in every scenario, 1 when it did not,
    2 for a mistake in the command."""
    try:
        kinds = [FaultKind(f) for f in faults] if faults else list(FaultKind)
    except ValueError:
        names = ", ".join(k.value for k in FaultKind)
        print(f"steward drill: unknown fault in {', '.join(faults or [])}; known faults: {names}", file=err)
        return 2
    opts = options or RuntimeOptions(embedded=embedded, health_monitor=False, recover_settings=False)
    service = await StewardService.start(opts)
    try:
        known = sorted(m.key for m in service.snapshot().models)
        routing = service.settings.routing
        targets = models or choose_targets(routing.fallback_chain, routing.default_model, known)
        if not _all_known("drill", targets, known, err):
            return 2
        print(f"drill: {len(kinds)} faults × {', '.join(targets)}", file=err, flush=True)

        def progress(done: int, total: int, scenario: ScenarioResult) -> None:
            print(f"[{done}/{total}] {scenario.verdict}", file=err, flush=True)

        async with service.drill_engine() as host:
            report = await run_drill(
                host, targets, kinds, recover_limit_s=recover_limit_s, on_progress=progress
            )
    finally:
        await service.stop()
    path = report.save(save_to or data_dir() / "lab")
    if as_json:
        out.write(json.dumps({**report.to_json(), "saved_to": str(path)}) + "\n")
    else:
        out.write(report.summary() + "\n\n")
        for scenario in report.scenarios:
            out.write(("✓ " if scenario.answered else "✗ ") + scenario.verdict + "\n")
            for line in scenario.chain:
                out.write(f"    {line}\n")
            recovered = (
                "not within the limit" if scenario.recover_s is None else f"{scenario.recover_s:.1f} s"
            )
            out.write(f"    back to normal after the fault: {recovered}\n")
            for advice in scenario.advice:
                out.write(f"    → {advice}\n")
        out.write(f"\nsaved to {path}\n")
    return 0 if report.passed == len(report.scenarios) else 1


async def run_slo(*, as_json: bool, out: TextIO = sys.stdout, options: RuntimeOptions | None = None) -> int:
    """`steward slo`: every model's objectives from the history database (the user's traffic of
    the SLO period, as the app keeps it), the error budget left, burn rates and drift. Exit 1 while
    an alert burns (for scripts and cron), else 0. Starts no server and asks none for an answer."""
    opts = options or RuntimeOptions(
        embedded=False, discover=False, health_monitor=False, recover_settings=False
    )
    service = await StewardService.start(opts)
    try:
        await service.watch_seeded()
        views = await service.slo_views()
    finally:
        await service.stop()
    if as_json:
        out.write(json.dumps([view_json(v) for v in views]) + "\n")
    elif not views:
        out.write("no models and no history yet: objectives show once a model has answered\n")
    else:
        out.write("\n".join(line for v in views for line in view_lines(v)) + "\n")
    return 1 if any(v.alert for v in views) else 0
