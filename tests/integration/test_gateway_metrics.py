"""`/metrics` read with prometheus_client's own parser, and `/health` (liveness + readiness), after
real requests through the gateway: one model refuses connections, the next answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from tests.integration.test_gateway_common import (
    MODEL,
    Running,
    serving,
    settings_for,
    token_env,  # noqa: F401  (autouse fixture)
)
from tests.support.llama import LlamaServer, free_port

from steward.gateway import Gateway

SMALL, DEAD = f"small/{MODEL}", f"dead/{MODEL}"
HI = [{"role": "user", "content": "Say hi."}]


@pytest.fixture
async def gw(tmp_path: Path, llama_small: LlamaServer) -> AsyncIterator[Running]:
    settings = settings_for(
        {"small": llama_small.url, "dead": f"http://127.0.0.1:{free_port()}"},
        routing={"default_model": DEAD, "fallback_chain": [DEAD, SMALL]},
        context={"max_reply_tokens": 6},
    )
    async with serving(tmp_path, settings) as running:
        yield running


async def scrape(gw: Running) -> dict[str, list[Sample]]:
    async with gw.client() as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


def value(samples: list[Sample], name: str | None = None, **labels: str) -> float | None:
    for sample in samples:
        if (name is None or sample.name == name) and all(
            sample.labels.get(k) == v for k, v in labels.items()
        ):
            return sample.value
    return None


async def test_metrics_after_a_fallback_and_a_stream(gw: Running) -> None:
    async with gw.client() as client:
        one = await client.post("/v1/chat/completions", json={"messages": HI})
        stream = await client.post("/v1/chat/completions", json={"messages": HI, "stream": True})
        refused = await client.post("/v1/chat/completions", json={"messages": HI, "max_tokens": "x"})
    assert one.status_code == 200 and one.headers["x-steward-model"] == SMALL and stream.status_code == 200
    assert refused.status_code == 400
    m = await scrape(gw)
    attempts = m["steward_model_requests"]
    assert value(
        attempts, "steward_model_requests_total", model=DEAD, outcome="failed", kind="connection_refused"
    )
    assert value(attempts, "steward_model_requests_total", model=SMALL, outcome="answered") == 2
    assert value(m["steward_requests"], "steward_requests_total", source="gateway", outcome="answered") == 2
    ttft = m["steward_model_ttft_seconds"]
    assert value(ttft, "steward_model_ttft_seconds_count", model=SMALL) == 2
    assert value(ttft, "steward_model_ttft_seconds_bucket", model=SMALL, le="+Inf") == 2
    assert value(m["steward_model_total_seconds"], "steward_model_total_seconds_count", model=SMALL) == 2
    tokens = value(m["steward_model_generated_tokens"], "steward_model_generated_tokens_total", model=SMALL)
    assert tokens is not None and 0 < tokens <= 12
    assert (value(m["steward_model_tokens_per_second"], model=SMALL) or 0) > 0
    gateway = m["steward_gateway_requests"]
    assert (
        value(gateway, "steward_gateway_requests_total", api="openai", status="200", outcome="answered") == 2
    )
    assert (
        value(gateway, "steward_gateway_requests_total", api="openai", status="400", outcome="rejected") == 1
    )
    assert value(m["steward_model_breaker_state"], model=SMALL, state="closed") == 1
    assert value(m["steward_model_breaker_state"], model=SMALL, state="open") == 0
    assert value(m["steward_model_quarantined"], model=SMALL) == 0
    assert (
        value(m["steward_model_ready"], model=SMALL) == 1 and value(m["steward_model_ready"], model=DEAD) == 0
    )
    assert value(m["steward_model_consecutive_failures"], model=DEAD) == 2, "both requests tried it first"
    assert value(m["steward_model_in_flight"], model=SMALL) == 0
    assert value(m["steward_server_concurrency_limit"], server="small") == 4, "llama-server's 4 slots"
    assert value(m["steward_server_in_flight"], server="small") == 0
    assert value(m["steward_server_queue_depth"], server="small") == 0
    assert "steward_server_up" in m and "steward_server_restarts" in m
    for family in (
        "steward_model_context_fits",
        "steward_model_truncations_suspected",
        "steward_model_health",
    ):
        assert family in m

    gw.service.quarantine(SMALL, "metrics test")
    m = await scrape(gw)
    assert value(m["steward_model_quarantined"], model=SMALL) == 1
    assert value(m["steward_model_health"], model=SMALL, status="quarantined") == 1


async def test_server_up_follows_the_probes(gw: Running) -> None:
    await gw.service.runtime.engine.probe_all()
    m = await scrape(gw)
    assert value(m["steward_server_up"], server="small") == 1
    assert value(m["steward_server_up"], server="dead") == 0


async def test_health_is_ready_while_one_model_can_answer(gw: Running) -> None:
    async with gw.client() as client:
        await client.post("/v1/chat/completions", json={"messages": HI})  # the dead one fails once
        ready = await client.get("/health")
        gw.service.quarantine(SMALL, "nobody left")
        unavailable = await client.get("/health")
    assert ready.status_code == 200 and ready.json()["ready"] == [SMALL]
    assert ready.json()["status"] == "ready" and DEAD in ready.json()["not_ready"]
    assert unavailable.status_code == 503 and unavailable.json()["status"] == "unavailable"
    assert set(unavailable.json()["not_ready"]) == {SMALL, DEAD}


async def test_each_gateway_has_its_own_registry(gw: Running) -> None:
    other = Gateway(gw.service, port=0)
    assert other.metrics.registry is not gw.gateway.metrics.registry
    names = {metric.name for metric in prometheus_client.REGISTRY.collect()}
    assert not any(name.startswith("steward_") for name in names), "the process-global registry stays clean"
