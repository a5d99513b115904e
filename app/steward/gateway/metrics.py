"""`GET /metrics`: Prometheus text from the gateway's own registry (never the process-global one).

Two sources: engine events (every request of every front end, as they happen: counters and
histograms) and the engine's snapshot read at scrape time (breakers, quarantine, health, bulkhead
in-flight and queue depth, tokens/s, managed servers' restarts).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from steward.engine.events import (
    AttemptCancelled,
    AttemptFailed,
    CandidateSkipped,
    Completed,
    ContextFitted,
    EngineEvent,
    RequestFailed,
    RequestStarted,
    TruncationSuspected,
)
from steward.gateway.models import why_not_ready
from steward.service import StewardService

TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 60.0)
TOTAL_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
BREAKER_STATES = ("closed", "open", "half_open")


class GatewayMetrics:
    """The metrics of one gateway; subscribe `on_event` to the service's events."""

    def __init__(self, service: StewardService) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.attempts = Counter(
            "steward_model_requests",
            "Attempts per model by outcome (answered, failed, skipped, cancelled) and failure kind",
            ["model", "outcome", "kind"],
            registry=r,
        )
        self.requests = Counter(
            "steward_requests",
            "Requests through the engine by source (chat, cli, gateway, probe, lab) and outcome",
            ["source", "outcome"],
            registry=r,
        )
        self.ttft = Histogram(
            "steward_model_ttft_seconds",
            "Time to first token of answers",
            ["model"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.total = Histogram(
            "steward_model_total_seconds",
            "Total time of answered requests",
            ["model"],
            buckets=TOTAL_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "steward_model_generated_tokens", "Tokens generated (as reported)", ["model"], registry=r
        )
        self.fits = Counter(
            "steward_model_context_fits",
            "Conversations trimmed or summarized to fit",
            ["model", "policy"],
            registry=r,
        )
        self.truncations = Counter(
            "steward_model_truncations_suspected",
            "Answers whose server reported fewer prompt tokens than were sent",
            ["model"],
            registry=r,
        )
        self.http = Counter(
            "steward_gateway_requests",
            "Gateway chat requests by API (openai, ollama), HTTP status and outcome",
            ["api", "status", "outcome"],
            registry=r,
        )
        self.continuations = Counter(
            "steward_gateway_continuations",
            "Answers continued on another model after a mid-stream failure",
            ["from_model", "to_model"],
            registry=r,
        )
        r.register(_SnapshotCollector(service))
        self._sources: dict[str, str] = {}

    def on_event(self, event: EngineEvent) -> None:
        """Count one engine event (called on the engine's loop for every event: kept cheap)."""
        if isinstance(event, AttemptFailed):
            self.attempts.labels(event.model, "failed", event.kind.value).inc()
        elif isinstance(event, Completed):
            self.attempts.labels(event.model, "answered", "").inc()
            if event.ttft_s is not None:
                self.ttft.labels(event.model).observe(event.ttft_s)
            self.total.labels(event.model).observe(event.total_s)
            if event.usage is not None and event.usage.completion_tokens:
                self.tokens.labels(event.model).inc(event.usage.completion_tokens)
            self._finished(event, "answered")
        elif isinstance(event, RequestStarted):
            if event.request_id is not None and len(self._sources) < 10_000:
                self._sources[event.request_id] = event.source
        elif isinstance(event, RequestFailed):
            self._finished(event, "failed")
        elif isinstance(event, CandidateSkipped):
            self.attempts.labels(event.model, "skipped", event.kind.value).inc()
        elif isinstance(event, AttemptCancelled):
            self.attempts.labels(event.model, "cancelled", "").inc()
        elif isinstance(event, ContextFitted):
            self.fits.labels(event.model, event.policy).inc()
        elif isinstance(event, TruncationSuspected):
            self.truncations.labels(event.model).inc()

    def _finished(self, event: EngineEvent, outcome: str) -> None:
        source = self._sources.pop(event.request_id, "unknown") if event.request_id else "unknown"
        self.requests.labels(source, outcome).inc()

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of one scrape."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _SnapshotCollector(Collector):
    """State read from the engine at scrape time (it changes without events worth counting)."""

    def __init__(self, service: StewardService) -> None:
        self._service = service

    def collect(self) -> Iterable[Metric]:
        snap = self._service.snapshot()
        gauges = {
            name: GaugeMetricFamily(name, doc, labels=labels)
            for name, doc, labels in (
                ("steward_model_breaker_state", "1 for the model's circuit state", ["model", "state"]),
                ("steward_model_quarantined", "1 while the model is quarantined", ["model"]),
                ("steward_model_health", "1 for the model's derived health", ["model", "status"]),
                ("steward_model_ready", "1 when the model can answer now", ["model"]),
                ("steward_model_in_flight", "Attempts streaming from the model now", ["model"]),
                ("steward_model_consecutive_failures", "Consecutive counted failures", ["model"]),
                ("steward_model_tokens_per_second", "Median generation speed (recent answers)", ["model"]),
                ("steward_server_up", "1 when the server answers its health probe", ["server"]),
                ("steward_server_in_flight", "Bulkhead: requests holding a slot", ["server"]),
                ("steward_server_queue_depth", "Bulkhead: requests waiting for a slot", ["server"]),
                ("steward_server_concurrency_limit", "Bulkhead: slots", ["server"]),
            )
        }
        for m in snap.models:
            for state in BREAKER_STATES:
                gauges["steward_model_breaker_state"].add_metric([m.key, state], float(m.breaker == state))
            gauges["steward_model_quarantined"].add_metric([m.key], float(m.quarantine is not None))
            gauges["steward_model_health"].add_metric([m.key, m.health], 1.0)
            gauges["steward_model_ready"].add_metric([m.key], float(why_not_ready(m, snap) is None))
            gauges["steward_model_in_flight"].add_metric([m.key], float(m.in_flight))
            gauges["steward_model_consecutive_failures"].add_metric([m.key], float(m.consecutive_failures))
            if m.metrics.tokens_per_s is not None:
                gauges["steward_model_tokens_per_second"].add_metric([m.key], m.metrics.tokens_per_s)
        up: dict[str, bool] = {}
        for s in snap.servers:
            up[s.server_id] = s.state == "up"
            gauges["steward_server_in_flight"].add_metric([s.server_id], float(s.in_flight))
            gauges["steward_server_queue_depth"].add_metric([s.server_id], float(s.queued))
            gauges["steward_server_concurrency_limit"].add_metric([s.server_id], float(s.limit))
        restarts = CounterMetricFamily(
            "steward_server_restarts", "Restarts of a server Steward manages", labels=["server"]
        )
        for row in self._service.server_rows(snap):
            if row.managed:
                restarts.add_metric([row.name], float(row.restarts or 0))
                up.setdefault(row.name, row.status == "ready")
        for server, is_up in up.items():
            gauges["steward_server_up"].add_metric([server], float(is_up))
        yield from _families(gauges.values(), restarts)


def _families(gauges: Iterable[Metric], *more: Metric) -> Iterator[Metric]:
    yield from gauges
    yield from more
