"""Ten minutes of NORMAL traffic raise no alert (`make chaos`): issue 16's "no alert on 10 minutes of
normal traffic", on a real llama-server and on this noisy machine.

A real llama-server runs SmolLM2-135M (started and stopped by the test); the application is a real
`StewardService` on it, composed as the app composes it (its `ModelWatch` subscribed to the engine,
the health monitor and inference canary running, the history store on). A few clients send what a
person or a small agent would (tests/chaos/traffic.py): short questions, paragraphs to summarise, code
to read, agent turns with a system prompt and history; replies capped at 8–128 tokens; random think
time between requests. The machine's own speed wanders (two shared cores, other work running): that
is the normal variation the drift detectors and the SLO burn-rate alerts must live with.

Asserted: every request answered (but for the model's own loops that Steward cuts, at most 1%); no
`DriftDetected`; no `SloAlertChanged` raising an alert; the model's health never degraded by a drift;
and the detectors were really armed (TTFT and speed both learnt a baseline, then watched many answers). The table gives first- and last-minute TTFT and
speed, and how close each Page–Hinkley statistic came to its threshold; everything is also written
to tests/chaos/results/normal_traffic.json (not committed, as soak.json).

Knobs (environment): STEWARD_NORMAL_TRAFFIC_S (600: how long clients keep asking),
STEWARD_NORMAL_TRAFFIC_SEED (11), STEWARD_NORMAL_TRAFFIC_CLIENTS (3), STEWARD_NORMAL_TRAFFIC_THINK_S
(4.0: mean think time between a client's requests). A short run while developing:
`STEWARD_NORMAL_TRAFFIC_S=60 make chaos PYTEST_ARGS="-k normal_traffic"`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pytest

from steward.config import Settings
from steward.engine.events import Completed, EngineEvent, HealthChanged
from steward.lab.drift import MIN_RUN, WARMUP, DetectorState
from steward.service import StewardService
from steward.service.model_watch import DriftDetected, SloAlertChanged
from tests.chaos.tally import code_version, write
from tests.chaos.traffic import WEIGHTS, Ask, next_ask, think_time
from tests.support.llama import LlamaServer
from tests.support.service import quiet_options

pytestmark = pytest.mark.chaos

DURATION_S = float(os.environ.get("STEWARD_NORMAL_TRAFFIC_S", "600"))
SEED = int(os.environ.get("STEWARD_NORMAL_TRAFFIC_SEED", "11"))
CLIENTS = int(os.environ.get("STEWARD_NORMAL_TRAFFIC_CLIENTS", "3"))
THINK_S = float(os.environ.get("STEWARD_NORMAL_TRAFFIC_THINK_S", "4.0"))
MODEL = "normal/SmolLM2-135M-Instruct.Q4_1"
DEADLINE_S = Settings().timeouts.request_deadline_s  # the app's default: a slow answer may take that long
GUARD_S = DEADLINE_S + 30  # the harness's own stop for a request the engine never ends (none should)
MINUTE_S = 60.0


@dataclass(frozen=True)
class Answer:
    """One request and what came of it (times in seconds from the start of the traffic)."""

    started: float
    kind: str
    max_tokens: int
    in_flight: int
    """Requests of all clients in flight when this one was sent, itself included."""
    ok: bool
    ttft_s: float | None = None
    total_s: float | None = None
    tokens: int | None = None
    tokens_per_s: float | None = None
    ph_ttft: float | None = None
    """The TTFT detector's Page–Hinkley statistic right after this answer was counted."""
    ph_speed: float | None = None
    detail: str = ""


class Watch:
    """Listens after the ModelWatch (subscribed later, called in order): the alerts, the drifts, the
    health changes, and the detectors' state right after each answer was counted."""

    def __init__(self, service: StewardService) -> None:
        self.service = service
        self.drifts: list[DriftDetected] = []
        self.alerts: list[SloAlertChanged] = []
        self.health: list[HealthChanged] = []
        self.after: dict[str, tuple[DetectorState, ...]] = {}

    def __call__(self, event: EngineEvent) -> None:
        if isinstance(event, DriftDetected):
            self.drifts.append(event)
        elif isinstance(event, SloAlertChanged):
            self.alerts.append(event)
        elif isinstance(event, HealthChanged) and event.model == MODEL:
            self.health.append(event)
        elif isinstance(event, Completed) and event.request_id is not None:
            self.after[event.request_id] = self.service.model_watch.detectors(MODEL)


async def one(service: StewardService, watch: Watch, ask: Ask, started: float, in_flight: int) -> Answer:
    source, client = ("gateway", "agent") if ask.kind == "agent" else ("chat", "")
    request = service.build_request(
        ask.messages,
        model=MODEL,
        max_tokens=ask.max_tokens,
        temperature=ask.temperature,
        source=source,
        client=client,
    )
    last: EngineEvent | None = None
    try:
        async with asyncio.timeout(GUARD_S), contextlib.aclosing(service.ask(request)) as events:  # type: ignore[type-var]
            async for event in events:
                last = event
    except TimeoutError:
        return Answer(
            started, ask.kind, ask.max_tokens, in_flight, False, detail="hung: stopped by the harness"
        )
    if not isinstance(last, Completed):
        return Answer(started, ask.kind, ask.max_tokens, in_flight, False, detail=repr(last)[:300])
    tokens = last.usage.completion_tokens if last.usage else None
    generating = last.total_s - (last.ttft_s or 0.0)
    speed = tokens / generating if tokens and generating > 0 else None  # as ModelWatch counts it
    states = watch.after.pop(last.request_id or "", ())
    ph = {s.metric: round(s.statistic, 3) for s in states}
    return Answer(
        started,
        ask.kind,
        ask.max_tokens,
        in_flight,
        True,
        last.ttft_s,
        round(last.total_s, 4),
        tokens,
        round(speed, 2) if speed else None,
        ph.get("ttft"),
        ph.get("tokens_per_s"),
    )


async def traffic(service: StewardService, watch: Watch) -> list[Answer]:
    """CLIENTS clients asking, each with its own seeded RNG, until DURATION_S has passed."""
    answers: list[Answer] = []
    t0 = time.monotonic()
    in_flight = 0

    async def client(index: int) -> None:
        nonlocal in_flight
        rng = random.Random(SEED * 1000 + index)
        await asyncio.sleep(rng.uniform(0, 2 * THINK_S))  # clients do not start in step
        while time.monotonic() - t0 < DURATION_S:
            ask = next_ask(rng)
            in_flight += 1
            try:
                answers.append(await one(service, watch, ask, time.monotonic() - t0, in_flight))
            finally:
                in_flight -= 1
            if len(answers) % 50 == 0:
                print(f"[normal] {len(answers)} requests, {time.monotonic() - t0:.0f} s", flush=True)
            await asyncio.sleep(think_time(rng, THINK_S))

    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    return sorted(answers, key=lambda a: a.started)


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 3)


def figures(answers: list[Answer]) -> dict[str, object]:
    ttft = [a.ttft_s for a in answers if a.ttft_s is not None]
    speed = [a.tokens_per_s for a in answers if a.tokens_per_s is not None]
    return {
        "requests": len(answers),
        "ttft_p50_s": pct(ttft, 50),
        "ttft_p95_s": pct(ttft, 95),
        "tokens_per_s_p50": pct(speed, 50),
        "tokens_per_s_p5": pct(speed, 5),
    }


def summarise(
    answers: list[Answer], watch: Watch, states: tuple[DetectorState, ...], wall_s: float, server: LlamaServer
) -> dict[str, object]:
    ok = [a for a in answers if a.ok]
    end = max((a.started for a in answers), default=0.0)
    minutes = [
        {"minute": m, **figures([a for a in ok if m * MINUTE_S <= a.started < (m + 1) * MINUTE_S])}
        for m in range(int(end // MINUTE_S) + 1)
    ]
    return {
        "requests": len(answers),
        "answered": len(ok),
        "unanswered": [asdict(a) for a in answers if not a.ok],
        "by_kind": {k: sum(1 for a in answers if a.kind == k) for k in WEIGHTS},
        "max_in_flight": max((a.in_flight for a in answers), default=0),
        "all": figures(ok),
        "first_minute": figures([a for a in ok if a.started < MINUTE_S]),
        "last_minute": figures([a for a in ok if a.started >= end - MINUTE_S]),
        "per_minute": minutes,
        "detectors": [asdict(s) for s in states],
        "drifts": [asdict(d) for d in watch.drifts],
        "slo_alerts": [asdict(a) for a in watch.alerts if a.alert is not None],
        "slo_events": len(watch.alerts),
        "health_changes": [asdict(h) for h in watch.health],
        "wall_s": round(wall_s, 1),
        "config": {
            "duration_s": DURATION_S,
            "seed": SEED,
            "clients": CLIENTS,
            "think_s": THINK_S,
            "mix": WEIGHTS,
            "server": " ".join(server.args[2:]),
            "code": code_version(),
        },
        "answers": [asdict(a) for a in answers],
    }


def render(s: dict[str, object]) -> str:
    def row(name: str, f: object) -> str:
        assert isinstance(f, dict)
        return (
            f"  {name:<14}{f['requests']:>6}   TTFT p50 {f['ttft_p50_s']} s, p95 {f['ttft_p95_s']} s;"
            f"   tokens/s p50 {f['tokens_per_s_p50']}, p5 {f['tokens_per_s_p5']}"
        )

    detectors = s["detectors"]
    assert isinstance(detectors, list)
    lines = [
        "",
        "=" * 100,
        f"[chaos] normal traffic: {s['requests']} requests in {s['wall_s']} s, {CLIENTS} clients "
        f"(at most {s['max_in_flight']} in flight), mix {s['by_kind']}",
        "=" * 100,
        f"  answered      {s['answered']} / {s['requests']}",
        *(f"    not answered: {a['detail'][:160]}" for a in s["unanswered"]),  # type: ignore[attr-defined]
        row("all", s["all"]),
        row("first minute", s["first_minute"]),
        row("last minute", s["last_minute"]),
        "",
        f"  {'detector':<14}{'samples':>8}{'baseline':>10}{'peak PH':>9}{'λ':>6}{'peak/λ':>8}",
    ]
    for d in detectors:
        baseline = "-" if d["baseline"] is None else f"{d['baseline']:.3f}"
        lines.append(
            f"  {d['metric']:<14}{d['samples']:>8}{baseline:>10}{d['peak']:>9.2f}{d['threshold']:>6.1f}"
            f"{d['peak'] / d['threshold']:>8.2f}"
        )
    health = s["health_changes"]
    assert isinstance(health, list)
    lines += [
        "",
        f"  drift alarms  {len(s['drifts'])}    SLO alerts raised {len(s['slo_alerts'])}"  # type: ignore[arg-type]
        f"    health changes {len(health)}",
        *(f"    health {h['old']} -> {h['new']}: {h['reason']}" for h in health[:10]),
        "=" * 100,
    ]
    return "\n".join(lines)


@pytest.mark.timeout(int(DURATION_S + GUARD_S) + 300)
async def test_normal_traffic_raises_no_alert(
    tmp_path: Path, llama_factory: Callable[..., LlamaServer]
) -> None:
    wall_started = time.monotonic()
    # One thread, as the chaos soak's servers (see chaos_engine._profile): llama.cpp's threads spin, and
    # with two on two cores shared with other work a 135M model fell to 0.4 tokens/s at times here.
    server = llama_factory(ctx=4096, extra=["-t", "1"])
    settings = Settings.model_validate(
        {
            "endpoints": [{"id": "normal", "kind": "llamacpp", "base_url": server.url}],
            "routing": {"default_model": MODEL},
        }
    )
    # As the app runs: health monitor and canary on, history stored (no discovery: other work's servers).
    options = replace(quiet_options(settings, tmp_path), store=True, health_monitor=True)
    service = await StewardService.start(options)
    try:
        watch = Watch(service)
        service.subscribe(watch)  # after the ModelWatch: sees the detectors as it left them
        answers = await traffic(service, watch)
        states = service.model_watch.detectors(MODEL)
        final = service.snapshot().model(MODEL)
    finally:
        await service.stop()
    summary = summarise(answers, watch, states, time.monotonic() - wall_started, server)
    print(render(summary))
    print(f"[chaos] written to {write(summary, 'normal_traffic')}")

    # Every request ended with an answer, except a tiny model's own looping answers that Steward cut
    # (degenerate_output): SmolLM2 sometimes loops at its default temperature, which is normal too.
    unanswered = [a for a in answers if not a.ok]
    assert all("degenerate_output" in a.detail for a in unanswered), summary["unanswered"]
    assert len(unanswered) <= 0.01 * len(answers), summary["unanswered"]  # the success objective's budget
    assert not watch.drifts, summary["drifts"]
    assert not summary["slo_alerts"], summary["slo_alerts"]
    drift_reasons = [
        h for h in watch.health if h.new in ("degraded", "unhealthy") and "than usual" in h.reason
    ]
    assert not drift_reasons, drift_reasons
    assert final is not None and "than usual" not in final.health_reason, final
    ttft, speed, _ = states
    for detector in (ttft, speed):  # armed: learnt a baseline, then watched at least a run of answers
        assert detector.baseline is not None, detector
        assert detector.samples >= WARMUP + MIN_RUN, detector
